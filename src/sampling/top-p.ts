import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Nucleus sampling: keeps the smallest set of most likely tokens whose probability reaches p (Hugging
 * Face's rule: drop tokens whose ascending cumulative mass is ≤ 1 − p), at least min_tokens_to_keep.
 * Sorts only as far as the nucleus reaches: 64 candidates, then 4× more while the mass falls short.
 */
export class TopP implements Sampler {
  readonly name = 'top_p';
  readonly kind = 'warper';
  constructor(readonly p: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.p >= 1) return;
    const max = c.maxLogit();
    let total = 0;
    for (let i = 0; i < c.size; i++) total += Math.exp(c.logits[i]! - max);
    for (let m = Math.min(64, c.size); ; m = Math.min(m * 4, c.size)) {
      c.sortTop(m);
      let cum = 0;
      for (let i = 0; i < m; i++) {
        cum += Math.exp(c.logits[i]! - max) / total;
        if (cum >= this.p) {
          const keep = Math.max(i + 1, this.minKeep);
          c.sortTop(keep);
          c.truncate(keep);
          return;
        }
      }
      if (m === c.size) return;
    }
  }
}
