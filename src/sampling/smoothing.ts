import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Quadratic / cubic sampling ("smoothing"), as text-generation-webui's QuadraticSamplingLogitsWarper
 * (modules/sampler_hijack.py) computes it: with d = logit − max ≤ 0, k = (3 − curve)/2 and
 * s = (curve − 1)/2, every logit becomes max − k·factor·d² + s·factor·d³. The best token keeps its
 * logit; the others fall with the square of their distance below it, so a small factor flattens the
 * head of the distribution while a large one sharpens it. curve = 1 is purely quadratic; a larger curve
 * adds the cubic term, which pushes the far tail down harder than the near candidates.
 */
export class Smoothing implements Sampler {
  readonly name = 'smoothing';
  readonly kind = 'warper';
  constructor(readonly factor: number, readonly curve = 1) {}
  apply(c: Candidates): void {
    if (this.factor <= 0) return;
    const l = c.logits, n = c.size, max = c.maxLogit();
    const kf = ((3 - this.curve) / 2) * this.factor, sf = ((this.curve - 1) / 2) * this.factor;
    // Written as max + d²·(sf·d − kf), which takes −∞ to −∞ as the webui's masking does, with no
    // branch in the loop — except for the purely quadratic curve, where sf·d would be 0·∞ = NaN.
    if (sf === 0) {
      for (let i = 0; i < n; i++) { const d = l[i]! - max; l[i] = max - kf * d * d; }
    } else {
      for (let i = 0; i < n; i++) { const d = l[i]! - max; l[i] = max + d * d * (sf * d - kf); }
    }
    // With curve > 3 the map is no longer monotone, so an earlier ranking may not hold.
    c.sortedPrefix = 0;
  }
}
