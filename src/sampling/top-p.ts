import type { Candidates } from './candidates.js';
import { massCut } from './mass-cut.js';
import type { Sampler } from './sampler.js';
import type { RankKey } from './vector-math.js';

/**
 * Nucleus sampling: keeps the smallest set of most likely tokens whose probability reaches p (Hugging
 * Face's rule: drop tokens whose ascending cumulative mass is ≤ 1 − p), at least min_tokens_to_keep.
 * The cut is found without sorting the vocabulary (see massCut) and applied as a filter, so the
 * survivors keep their order.
 */
export class TopP implements Sampler {
  readonly name = 'top_p';
  readonly kind = 'warper';
  constructor(readonly p: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.p >= 1) return;
    const { exps, sum, max } = c.expSum();
    // Rank by distance below the best logit; tokens 40 nats down (p < e^-40 each) share the last bin.
    const below: RankKey = { mode: 0, a: max, b: 0, c: 0 };
    const cut = massCut(c, below, exps, this.p * sum, 40);
    if (cut < 0) return;
    // Keep everything ranked up to the cut: closer to the best logit, or as close and a lower id.
    c.keepRanked(below, c.rankKey(below, cut), c.ids[cut]!, this.minKeep);
  }
}
