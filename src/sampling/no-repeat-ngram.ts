import type { Candidates } from './candidates.js';
import type { Sampler, SamplingContext } from './sampler.js';
import { updateLogits } from './sparse-logits.js';

/** Bans any token that would repeat an n-gram already in the sequence (prompt included), as Hugging Face does. */
export class NoRepeatNgram implements Sampler {
  readonly name = 'no_repeat_ngram';
  readonly kind = 'processor';
  constructor(readonly n: number) {}
  apply(c: Candidates, ctx: SamplingContext): void {
    const t = ctx.tokens, n = this.n;
    if (n <= 0 || t.length + 1 < n) return;
    const banned = new Map<number, (l: number) => number>();
    const prefixStart = t.length - (n - 1);
    for (let s = 0; s + n <= t.length; s++) {
      let match = true;
      for (let j = 0; j < n - 1 && match; j++) match = t[s + j] === t[prefixStart + j];
      if (match) banned.set(t[s + n - 1]!, () => -Infinity);
    }
    updateLogits(c, banned);
  }
}
