import { vectorMath } from './vector-math.js';

/** What the model thought of one generated token, under its unmodified distribution (temperature 1). */
export interface TokenStats {
  /** Natural-log probability of the chosen token. */
  logprob: number;
  /** Entropy of the whole next-token distribution, in bits. */
  entropy_bits: number;
}

/** As TokenStats, plus the entropy (bits) of the distribution the sampling chain actually drew from. */
export interface StepStats extends TokenStats {
  sampled_entropy_bits: number;
}

/** Scratch arrays in the kernels' memory, reused from step to step (one vocabulary's worth each). */
let shifted: Float32Array | undefined;
let exps: Float32Array | undefined;

/**
 * With e_i = exp(x_i − max) and Z = Σ e_i: log p(chosen) = x_chosen − max − log Z, and the entropy is
 * H = log Z − Σ e_i (x_i − max) / Z (nats). The max and the exponentials run in the SIMD kernels
 * (this runs at every generated token of a sweep, over the whole vocabulary).
 */
export function tokenStats(logits: Float32Array, chosen: number): TokenStats {
  const n = logits.length;
  if (!shifted || shifted.length !== n) { shifted = vectorMath.alloc(n); exps = vectorMath.alloc(n); }
  const x = shifted, e = exps!;
  x.set(logits);
  const max = vectorMath.max(x, n);
  const z = vectorMath.expShift(x, n, max, e);
  const weighted = vectorMath.weightedShift(x, e, n, max);
  const logZ = Math.log(z);
  return { logprob: logits[chosen]! - max - logZ, entropy_bits: Math.max(0, logZ - weighted / z) / Math.LN2 };
}
