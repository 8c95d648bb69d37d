import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * η-sampling (Hewitt et al.): an entropy-dependent cut, η = min(ε, √ε · e^(−H)), so flat distributions
 * keep more of their tail than peaked ones (Hugging Face's EtaLogitsWarper).
 */
export class Eta implements Sampler {
  readonly name = 'eta';
  readonly kind = 'warper';
  constructor(readonly epsilon: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.epsilon <= 0) return;
    const { exps, sum, max } = c.expSum();
    // H = −Σ p ln p with p = e/Σ, ln p = (logit − max) − ln Σ.
    const lnSum = Math.log(sum);
    const h = c.math.entropyNats(c.logits, exps, c.size, max, sum, lnSum);
    const eta = Math.min(this.epsilon, Math.sqrt(this.epsilon) * Math.exp(-h));
    const cut = max + Math.log(eta * sum);
    c.keepLogitsAtLeast(cut, this.minKeep);
  }
}
