import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';
import { selectSmallest } from './select.js';

/**
 * Locally typical sampling (Meister et al.): ranks tokens by how close their surprisal −log p is to
 * the distribution's entropy and keeps the closest ones until their mass reaches typical_p
 * (Hugging Face's TypicalLogitsWarper, including its inclusive cut). Ranks only as far as needed.
 */
export class TypicalP implements Sampler {
  readonly name = 'typical_p';
  readonly kind = 'warper';
  constructor(readonly mass: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.mass >= 1) return;
    const { exps, sum, max } = c.expSum();
    const n = c.size, lnSum = Math.log(sum);
    const p = new Float64Array(n), shift = new Float64Array(n);
    let h = 0;
    for (let i = 0; i < n; i++) {
      p[i] = exps[i]! / sum;
      const lnp = c.logits[i]! - max - lnSum;
      if (p[i]! > 0) h -= p[i]! * lnp;
    }
    for (let i = 0; i < n; i++) shift[i] = Math.abs(-(c.logits[i]! - max - lnSum) - h);
    const order = Int32Array.from({ length: n }, (_, i) => i);
    let last = n - 1;
    search: for (let m = Math.min(64, n), done = 0, cum = 0; ; m = Math.min(m * 4, n)) {
      selectSmallest(order, shift, c.ids, m, done);
      for (let r = done; r < m; r++) {
        cum += p[order[r]!]!;
        if (cum >= this.mass) { last = r; break search; }
      }
      done = m;
      if (m === n) break;
    }
    // Keep every token whose shifted score does not exceed the one at the cut, and at least minKeep.
    const limit = shift[order[last]!]!;
    if (this.minKeep > last + 1) selectSmallest(order, shift, c.ids, this.minKeep, last + 1);
    const keep = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (shift[i]! <= limit) keep[i] = 1;
    for (let r = 0; r < Math.min(this.minKeep, n); r++) keep[order[r]!] = 1;
    c.filter((i) => keep[i] === 1);
  }
}
