import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

const BUCKETS = 2048;
/** Shifted scores beyond this (nats) share the last bin. */
const RANGE = 40;

/**
 * Locally typical sampling (Meister et al.): ranks tokens by how close their surprisal −ln p is to
 * the distribution's entropy and keeps the closest ones until their mass reaches typical_p, plus every
 * token tied with the last one kept (Hugging Face's TypicalLogitsWarper). The ranking is binned like
 * top-p's: one pass bins the mass by score, and only the boundary bin is sorted.
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
    const shift = new Float64Array(n), bin = new Uint16Array(n), binMass = new Float64Array(BUCKETS);
    const scale = BUCKETS / RANGE;
    for (let i = 0; i < n; i++) {
      const s = Math.abs(lnSum - (l[i]! - max) - h); // |−ln p − H|
      shift[i] = s;
      const b = Math.min(BUCKETS - 1, (s * scale) | 0);
      bin[i] = b;
      binMass[b]! += exps[i]!;
    }
    const target = this.mass * sum;
    let cum = 0, cutBin = 0;
    for (; cutBin < BUCKETS - 1 && cum + binMass[cutBin]! < target; cutBin++) cum += binMass[cutBin]!;
    const inBin: number[] = [];
    for (let i = 0; i < n; i++) if (bin[i] === cutBin) inBin.push(i);
    inBin.sort((x, y) => shift[x]! - shift[y]! || ids[x]! - ids[y]!);
    let limit = shift[inBin[inBin.length - 1]!]!;
    for (const i of inBin) {
      cum += exps[i]!;
      if (cum >= target) { limit = shift[i]!; break; }
    }
    const keep = new Uint8Array(n);
    let kept = 0;
    for (let i = 0; i < n; i++) if (shift[i]! <= limit) { keep[i] = 1; kept++; }
    if (kept < this.minKeep) {
      // Too few: add the next most typical tokens.
      const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => shift[x]! - shift[y]! || ids[x]! - ids[y]!);
      for (let r = 0; r < this.minKeep; r++) keep[order[r]!] = 1;
    }
    c.keepMasked(keep);
  }
}
