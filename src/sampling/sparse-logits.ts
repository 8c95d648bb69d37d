import type { Candidates } from './candidates.js';

/**
 * Changes the logits of specific token ids in place: stages that touch a few tokens (penalties, bias,
 * bans) look candidates up by id without scanning the vocabulary per token.
 */
export function updateLogits(c: Candidates, changes: Map<number, (logit: number) => number>): void {
  if (changes.size === 0) return;
  if (c.identity) {
    // Still the untouched vocabulary, in id order: index = token id.
    for (const [id, f] of changes) if (id < c.size) c.logits[id] = f(c.logits[id]!);
  } else {
    for (let i = 0; i < c.size; i++) {
      const f = changes.get(c.ids[i]!);
      if (f) c.logits[i] = f(c.logits[i]!);
    }
  }
  c.sortedPrefix = 0;
  c.dropBanned();
}
