import type { Candidates } from './candidates.js';
import type { RandomSource, Sampler } from './sampler.js';

/**
 * XTC, "exclude top choices" (llama.cpp's llama_sample_xtc_apply in src/llama-sampling.cpp): with
 * probability `probability`, every token whose probability is at least `threshold` is removed except
 * the least likely of them, so the model is pushed off its most obvious continuations while a
 * still-plausible one remains. Nothing happens unless at least two tokens reach the threshold, when
 * fewer than min_keep tokens would be left, when fewer than two candidates are left, or when the
 * threshold is above 0.5 (then at most one token can reach it). Among tokens tied at the lowest
 * probability above the threshold, the one kept is the last in canonical order (the highest id).
 *
 * The coin comes from the sample's own rng, drawn (as llama.cpp draws it) before the probabilities
 * are looked at, once per step whenever the stage can act: runs stay reproducible for a seed.
 */
export class Xtc implements Sampler {
  readonly name = 'xtc';
  readonly kind = 'warper';
  constructor(readonly probability: number, readonly threshold = 0.1, readonly minKeep = 1) {}

  apply(c: Candidates, _ctx: unknown, rng?: RandomSource): void {
    if (this.probability <= 0 || this.threshold > 0.5 || c.size < 2) return;
    if (!rng) throw new Error('xtc needs the sample\'s rng for its coin, and the chain gave none');
    if (rng.uniform() > this.probability) return;
    // p ≥ threshold  ⇔  logit ≥ max + ln(threshold · Σ exp(logit − max)): one pass, no sort.
    const { sum, max } = c.expSum();
    const above = c.math.countAtLeast(c.logits, c.size, max + Math.log(this.threshold * sum));
    const removed = above - 1;
    if (removed < 1 || c.size - removed < this.minKeep) return;
    // The `above` best come first in canonical order; all but the last of them go.
    c.sortTop(above);
    for (let i = 0; i < removed; i++) c.logits[i] = -Infinity;
    c.dropBanned();
  }
}
