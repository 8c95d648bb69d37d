import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/** Truncation sampling (Hewitt et al.): drops tokens with probability below a fixed ε. */
export class Epsilon implements Sampler {
  readonly name = 'epsilon';
  readonly kind = 'warper';
  constructor(readonly epsilon: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.epsilon <= 0) return;
    // p_i ≥ ε  ⇔  logit_i ≥ max + ln(ε · Σ exp(logit − max))
    const { sum, max } = c.expSum();
    const cut = max + Math.log(this.epsilon * sum);
    c.keepLogitsAtLeast(cut, this.minKeep);
  }
}
