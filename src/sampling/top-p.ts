import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Nucleus sampling: keeps the smallest set of most likely tokens whose probability reaches p (Hugging
 * Face's rule: drop tokens whose ascending cumulative mass is ≤ 1 − p), at least min_tokens_to_keep.
 * The cut is found by a probability-weighted quickselect (expected linear time, no sort), and applied
 * as a filter, so the survivors keep their order.
 */
export class TopP implements Sampler {
  readonly name = 'top_p';
  readonly kind = 'warper';
  constructor(readonly p: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.p >= 1) return;
    const { exps, sum } = c.expSum();
    const ids = c.ids, l = c.logits, n = c.size;
    // Canonical rank key per entry: logit descending, then id ascending.
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    const target = this.p * sum;
    let lo = 0, hi = n - 1, above = 0, cut = -1, rank = 0;
    while (lo <= hi) {
      // Pivot: the middle entry (moved to hi); partition [lo, hi) into better | worse.
      const mid = (lo + hi) >> 1;
      let t = idx[mid]!; idx[mid] = idx[hi]!; idx[hi] = t;
      const pivot = idx[hi]!, pl = l[pivot]!, pid = ids[pivot]!;
      let store = lo, mass = 0;
      for (let i = lo; i < hi; i++) {
        const e = idx[i]!, el = l[e]!;
        if (el > pl || (el === pl && ids[e]! < pid)) {
          mass += exps[e]!;
          idx[i] = idx[store]!;
          idx[store++] = e;
        }
      }
      t = idx[store]!; idx[store] = idx[hi]!; idx[hi] = t;
      if (above + mass >= target) hi = store - 1; // the cut lies among the better ones
      else if (above + mass + exps[pivot]! >= target) { cut = pivot; rank = store + 1; break; }
      else { above += mass + exps[pivot]!; lo = store + 1; }
    }
    if (cut < 0) return; // rounding: the whole set is needed to reach p
    if (rank < this.minKeep) {
      c.sortTop(this.minKeep);
      c.truncate(this.minKeep);
      return;
    }
    const cl = l[cut]!, cid = ids[cut]!;
    c.filter((i) => l[i]! > cl || (l[i] === cl && ids[i]! <= cid));
  }
}
