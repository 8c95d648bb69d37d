import type { Candidates } from './candidates.js';
import type { Sampler, SamplingContext } from './sampler.js';
import { updateLogits } from './sparse-logits.js';

/**
 * Hugging Face's multiplicative repetition penalty (CTRL): every token already in the sequence (prompt
 * included, or only the last `window` tokens) has its logit divided by the penalty when positive and
 * multiplied by it when negative. Penalty > 1 discourages repeats.
 */
export class RepetitionPenalty implements Sampler {
  readonly name = 'repetition_penalty';
  readonly kind = 'processor';
  constructor(readonly penalty: number, readonly window = 0) {}
  apply(c: Candidates, ctx: SamplingContext): void {
    if (this.penalty === 1) return;
    const seen = this.window > 0 ? ctx.tokens.slice(-this.window) : ctx.tokens;
    const f = (l: number) => (l > 0 ? l / this.penalty : l * this.penalty);
    const changes = new Map<number, (l: number) => number>();
    for (const id of seen) changes.set(id, f);
    updateLogits(c, changes);
  }
}
