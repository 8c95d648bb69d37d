import type { Candidates } from './candidates.js';
import { massCut } from './mass-cut.js';
import type { Sampler } from './sampler.js';
import { ANY_ID, type RankKey } from './vector-math.js';

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
    const lnSum = Math.log(sum);
    const h = c.math.entropyNats(c.logits, exps, c.size, max, sum, lnSum);
    const shift: RankKey = { mode: 1, a: lnSum, b: max, c: h }; // |−ln p − H|
    const cut = massCut(c, shift, exps, this.mass * sum, 40);
    const limit = cut < 0 ? Infinity : c.rankKey(shift, cut);
    c.keepRanked(shift, limit, ANY_ID, this.minKeep, () => this.keepMostTypical(c, shift, limit));
  }

  /** Too few within the limit: keep them and the next most typical tokens, minKeep in all. */
  private keepMostTypical(c: Candidates, r: RankKey, limit: number): void {
    const n = c.size, ids = c.ids;
    const shift = new Float64Array(n), keep = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      shift[i] = c.rankKey(r, i);
      keep[i] = shift[i]! <= limit ? 1 : 0;
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => shift[x]! - shift[y]! || ids[x]! - ids[y]!);
    for (let k = 0; k < this.minKeep; k++) keep[order[k]!] = 1;
    c.keepMasked(keep);
  }
}
