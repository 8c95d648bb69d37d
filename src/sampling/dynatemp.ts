import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Dynamic temperature, llama.cpp's temp-ext (llama_sampler_temp_ext_apply in src/llama-sampling.cpp):
 * the temperature follows the entropy of the candidates' distribution, from min = max(0, T − range)
 * for a certain model to max = T + range for a uniform one:
 *
 *     T_dyn = min + (max − min) · (H / ln n)^exponent
 *
 * with H the entropy in nats and n the number of candidates still in the running (so ln n is the
 * largest entropy they could have). One or no candidate changes nothing. A temperature of 0 keeps only
 * the best candidate, as llama.cpp's temperature does. It takes the place of the plain temperature
 * stage when dynatemp_range > 0.
 */
export class DynaTemp implements Sampler {
  readonly name = 'dynatemp';
  readonly kind = 'warper';
  constructor(readonly temperature: number, readonly range: number, readonly exponent = 1) {}

  /** The temperature this stage applies to these candidates. */
  temperatureFor(c: Candidates): number {
    const lo = Math.max(0, this.temperature - this.range), hi = this.temperature + this.range;
    const { exps, sum, max } = c.expSum();
    // Rounding can leave a one-hot distribution's entropy a hair below 0, where a fractional power is NaN.
    const h = Math.max(0, c.math.entropyNats(c.logits, exps, c.size, max, sum, Math.log(sum)));
    return lo + (hi - lo) * Math.pow(h / Math.log(c.size), this.exponent);
  }

  apply(c: Candidates): void {
    if (this.range <= 0 || c.size <= 1) return;
    const t = this.temperatureFor(c);
    if (t <= 0) c.keepTop(1);
    else c.divideLogits(t);
  }
}
