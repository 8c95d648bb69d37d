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
    let sum = 0, count = 0;
    for (let i = 0; i < c.size; i++) if (Number.isFinite(c.logits[i]!)) { sum += c.logits[i]!; count++; }
    const mean = sum / count;
    let v = 0;
    for (let i = 0; i < c.size; i++) if (Number.isFinite(c.logits[i]!)) v += (c.logits[i]! - mean) ** 2;
    const cut = c.maxLogit() - this.n * Math.sqrt(v / count);
    c.keepLogitsAtLeast(cut, this.minKeep);
  }
}
