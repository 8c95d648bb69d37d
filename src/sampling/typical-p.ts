import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Locally typical sampling (Meister et al.): ranks tokens by how close their surprisal −log p is to
 * the distribution's entropy and keeps the closest ones until their mass reaches typical_p
 * (Hugging Face's TypicalLogitsWarper, including its inclusive cut).
 */
export class TypicalP implements Sampler {
  readonly name = 'typical_p';
  readonly kind = 'warper';
  constructor(readonly mass: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.mass >= 1) return;
    const p = c.probs();
    let h = 0;
    for (let i = 0; i < c.size; i++) if (p[i]! > 0) h -= p[i]! * Math.log(p[i]!);
    const shift = Float64Array.from(p, (pi) => Math.abs(-Math.log(pi) - h));
    const order = Array.from({ length: c.size }, (_, i) => i).sort((a, b) => shift[a]! - shift[b]! || c.ids[a]! - c.ids[b]!);
    let cum = 0, last = order.length - 1;
    for (let r = 0; r < order.length; r++) {
      cum += p[order[r]!]!;
      if (cum >= this.mass) { last = r; break; }
    }
    // Keep every token whose shifted score does not exceed the one at the cut, and at least minKeep.
    const limit = shift[order[last]!]!;
    const keep = new Uint8Array(c.size);
    for (let r = 0; r < order.length; r++) if (shift[order[r]!]! <= limit || r < this.minKeep) keep[order[r]!] = 1;
    c.filter((i) => keep[i] === 1);
  }
}
