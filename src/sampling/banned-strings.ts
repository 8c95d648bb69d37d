import type { Candidates } from './candidates.js';
import type { Sampler, SamplingContext } from './sampler.js';
import { updateLogits } from './sparse-logits.js';

/**
 * Never lets the generated text contain any of the banned strings: a token is removed when its text
 * contains one, or when it would complete one begun by the text generated so far.
 */
export class BannedStrings implements Sampler {
  readonly name = 'banned_strings';
  readonly kind = 'processor';
  private readonly always = new Map<number, (l: number) => number>();

  constructor(readonly strings: readonly string[], private readonly vocabTexts: readonly string[]) {
    vocabTexts.forEach((t, id) => {
      if (strings.some((s) => t.includes(s))) this.always.set(id, () => -Infinity);
    });
  }

  apply(c: Candidates, ctx: SamplingContext): void {
    const ban = new Map(this.always);
    for (const s of this.strings) {
      // For each proper prefix of s that the text ends with, ban tokens starting with the rest.
      for (let k = Math.min(s.length - 1, ctx.text.length); k > 0; k--) {
        if (!ctx.text.endsWith(s.slice(0, k))) continue;
        const rest = s.slice(k);
        this.vocabTexts.forEach((t, id) => { if (t.startsWith(rest)) ban.set(id, () => -Infinity); });
      }
    }
    updateLogits(c, ban);
  }
}
