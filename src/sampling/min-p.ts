import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/** Keeps tokens whose probability is at least min_p × the top token's: a cut that scales with confidence. */
export class MinP implements Sampler {
  readonly name = 'min_p';
  readonly kind = 'warper';
  constructor(readonly minP: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.minP <= 0) return;
    // p_i ≥ min_p · p_max  ⇔  logit_i ≥ logit_max + ln(min_p): no exponentials needed.
    const cut = c.maxLogit() + Math.log(this.minP);
    c.keepLogitsAtLeast(cut, this.minKeep);
  }
}
