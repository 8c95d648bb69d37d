import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Top-nσ (Tang et al., 2024): keeps tokens whose logit is within n standard deviations of the largest
 * logit. A cut in logit space, so it does not change with temperature.
 */
export class TopNSigma implements Sampler {
  readonly name = 'top_n_sigma';
  readonly kind = 'warper';
  constructor(readonly n: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    // Mean and standard deviation of the finite logits (−∞ marks a removed token).
    const { variance } = c.math.finiteMoments(c.logits, c.size);
    const cut = c.maxLogit() - this.n * Math.sqrt(variance);
    c.keepLogitsAtLeast(cut, this.minKeep);
  }
}
