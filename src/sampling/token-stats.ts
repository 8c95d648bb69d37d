/** What the model thought of one generated token, under its unmodified distribution (temperature 1). */
export interface TokenStats {
  /** Natural-log probability of the chosen token. */
  logprob: number;
  /** Entropy of the whole next-token distribution, in bits. */
  entropy_bits: number;
}

/**
 * One pass for the normaliser and the entropy: with e_i = exp(x_i − max) and Z = Σ e_i,
 * H = log Z − Σ e_i (x_i − max) / Z (nats), so no probability array is materialised.
 */
export function tokenStats(logits: Float32Array, chosen: number): TokenStats {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let z = 0, weighted = 0;
  for (let i = 0; i < logits.length; i++) {
    const d = logits[i]! - max;
    if (d === -Infinity) continue;
    const e = Math.exp(d);
    z += e;
    weighted += e * d;
  }
  const logZ = Math.log(z);
  return { logprob: logits[chosen]! - max - logZ, entropy_bits: Math.max(0, logZ - weighted / z) / Math.LN2 };
}
