import type { Candidates } from './candidates.js';
import { massCut } from './mass-cut.js';
import { keyScratch, maskScratch } from './scratch.js';
import type { Sampler } from './sampler.js';

/**
 * Locally typical sampling (Meister et al.): ranks tokens by how close their surprisal −ln p is to
 * the distribution's entropy and keeps the closest ones until their mass reaches typical_p, plus every
 * token tied with the last one kept (Hugging Face's TypicalLogitsWarper). No full sort (see massCut).
 */
export class TypicalP implements Sampler {
  readonly name = 'typical_p';
  readonly kind = 'warper';
  constructor(readonly mass: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.mass >= 1) return;
    const { exps, sum, max } = c.expSum();
    const n = c.size, l = c.logits, ids = c.ids, lnSum = Math.log(sum);
    let h = 0;
    for (let i = 0; i < n; i++) if (exps[i]! > 0) h -= (exps[i]! / sum) * (l[i]! - max - lnSum);
    const shift = keyScratch(n);
    for (let i = 0; i < n; i++) shift[i] = Math.abs(lnSum - (l[i]! - max) - h); // |−ln p − H|
    const cut = massCut(shift, ids, exps, n, this.mass * sum, 40);
    const limit = cut < 0 ? Infinity : shift[cut]!;
    const keep = maskScratch(n);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const k = shift[i]! <= limit ? 1 : 0;
      keep[i] = k;
      kept += k;
    }
    if (kept < this.minKeep) {
      // Too few: add the next most typical tokens.
      const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => shift[x]! - shift[y]! || ids[x]! - ids[y]!);
      for (let r = 0; r < this.minKeep; r++) keep[order[r]!] = 1;
    }
    c.keepMasked(keep);
  }
}
