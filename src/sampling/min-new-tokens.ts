import type { Candidates } from './candidates.js';
import type { Sampler, SamplingContext } from './sampler.js';
import { updateLogits } from './sparse-logits.js';

/** Suppresses the end-of-sequence tokens until `min` tokens have been generated. */
export class MinNewTokens implements Sampler {
  readonly name = 'min_new_tokens';
  readonly kind = 'processor';
  private readonly ban: Map<number, (l: number) => number>;
  constructor(readonly min: number, eosIds: readonly number[]) {
    this.ban = new Map(eosIds.map((id) => [id, () => -Infinity]));
  }
  apply(c: Candidates, ctx: SamplingContext): void {
    if (ctx.tokens.length - ctx.promptLength < this.min) updateLogits(c, this.ban);
  }
}
