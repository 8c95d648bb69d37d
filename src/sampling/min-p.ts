import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/** Keeps tokens whose probability is at least min_p × the top token's: a cut that scales with confidence. */
export class MinP implements Sampler {
  readonly name = 'min_p';
  readonly kind = 'warper';
  constructor(readonly minP: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.minP <= 0) return;
    // Compared in probability space, as Hugging Face's MinPLogitsWarper does.
    const p = c.probs();
    let max = 0;
    for (let i = 0; i < c.size; i++) max = Math.max(max, p[i]!);
    const cut = this.minP * max;
    c.keepAtLeast(this.minKeep, (i) => p[i]! >= cut);
  }
}
