import type { Candidates } from './candidates.js';
import type { Sampler, SamplingContext } from './sampler.js';
import { updateLogits } from './sparse-logits.js';

/**
 * OpenAI's additive penalties over the generated tokens (or only the last `window` of them):
 * logit −= count × frequency_penalty + (count > 0) × presence_penalty. Negative values encourage repeats.
 */
export class FrequencyPresencePenalty implements Sampler {
  readonly name = 'frequency_presence_penalty';
  readonly kind = 'processor';
  constructor(readonly frequency: number, readonly presence: number, readonly window = 0) {}
  apply(c: Candidates, ctx: SamplingContext): void {
    if (this.frequency === 0 && this.presence === 0) return;
    let generated = ctx.tokens.slice(ctx.promptLength);
    if (this.window > 0) generated = generated.slice(-this.window);
    const counts = new Map<number, number>();
    for (const t of generated) counts.set(t, (counts.get(t) ?? 0) + 1);
    updateLogits(c, new Map([...counts].map(([id, n]) => [id, (l: number) => l - n * this.frequency - this.presence])));
  }
}
