import type { Candidates } from './candidates.js';
import { massCut } from './mass-cut.js';
import { keyScratch, maskScratch } from './scratch.js';
import type { Sampler } from './sampler.js';

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
    const n = c.size, l = c.logits, ids = c.ids;
    // Rank by distance below the best logit; tokens 40 nats down (p < e^-40 each) share the last bin.
    const below = keyScratch(n);
    for (let i = 0; i < n; i++) below[i] = max - l[i]!;
    const cut = massCut(below, ids, exps, n, this.p * sum, 40);
    if (cut < 0) return;
    const kc = below[cut]!, idc = ids[cut]!;
    const keep = maskScratch(n);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const k = below[i]! < kc || (below[i] === kc && ids[i]! <= idc) ? 1 : 0;
      keep[i] = k;
      kept += k;
    }
    if (kept < this.minKeep) c.keepTop(this.minKeep);
    else if (kept < n) c.keepMasked(keep);
  }
}
