import { drawFrom, type SamplingChain } from './chain.js';
import type { Rng } from './rng.js';
import type { SamplingContext } from './sampler.js';

/** One candidate next token, as `wander next` and the web lab show it. */
export interface NextCandidate {
  token_id: number;
  token: string;
  /** Raw probability (temperature 1, nothing removed). */
  prob: number;
  /** Running sum of raw probability down the ranking. */
  cumulative_prob: number;
  /** Probability after each stage, in `stages` order (0 once removed). */
  stage_probs: number[];
  /** Probability in the distribution a sample is drawn from (0 when removed). */
  final_prob: number;
  /** The first stage that removed the token, or null when it survived. */
  removed_by: string | null;
}

/** What the sampling chain makes of one set of logits. */
export interface DistributionView {
  stages: string[];
  entropy_bits: number;
  final_entropy_bits: number;
  kept_count: number;
  kept_mass: number;
  candidates: NextCandidate[];
  /** The token a sample would draw here with this rng. */
  chosen: { token_id: number; token: string; rank: number };
  /** Mirostat's μ before and after this step (a one-off step starts from 2τ); only when mirostat runs. */
  mirostat_mu?: { before: number; after: number };
  draws?: { token_id: number; token: string; count: number }[];
}

/**
 * The `top` most likely next tokens with their raw probability and what each stage of the chain did
 * to them, the token this rng draws, and (with `draws` > 0) that many further draws from the final
 * distribution, counted (with XTC, from the mixture over its coin: see SamplingChain.distribution).
 * Pure: no model, no files — the CLI's `next` and the web page both call it,
 * so they show the same numbers from the same logits.
 */
export function describeDistribution(
  chain: SamplingChain, logits: Float32Array, ctx: SamplingContext, rng: Rng,
  opts: { top: number; draws?: number; text: (id: number) => string },
): DistributionView {
  const { trace } = chain.sampleWithTrace(logits, rng, ctx, Math.min(opts.top, logits.length), opts.text);
  let cum = 0;
  const out: DistributionView = {
    stages: trace.stages,
    entropy_bits: trace.entropy_bits,
    final_entropy_bits: trace.final_entropy_bits,
    kept_count: trace.kept_count,
    kept_mass: trace.kept_mass,
    candidates: trace.candidates.map((t) => ({
      token_id: t.token_id, token: t.token, prob: t.prob, cumulative_prob: (cum += t.prob), stage_probs: t.stage_probs,
      final_prob: t.final_prob, removed_by: t.removed_by,
    })),
    chosen: { token_id: trace.chosen.token_id, token: trace.chosen.token, rank: trace.chosen.rank },
    ...(trace.mirostat_mu && { mirostat_mu: trace.mirostat_mu }),
  };
  const draws = opts.draws ?? 0;
  if (draws > 0) {
    const dist = chain.distribution(logits, ctx);
    const counts = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const id = chain.greedy ? dist.ids[0]! : drawFrom(dist, rng.uniform());
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    out.draws = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id, count]) => ({ token_id: id, token: opts.text(id), count }));
  }
  return out;
}
