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
  } else if (c.idOrder) {
    // Ids ascending (some removed): find each by binary search.
    for (const [id, f] of changes) {
      const i = indexOfId(c.ids, c.size, id);
      if (i >= 0) c.logits[i] = f(c.logits[i]!);
    }
  } else {
    for (let i = 0; i < c.size; i++) {
      const f = changes.get(c.ids[i]!);
      if (f) c.logits[i] = f(c.logits[i]!);
    }
  }
  c.sortedPrefix = 0;
  c.dropBanned();
}

/** The index of id in ascending ids[0..n), or −1. */
function indexOfId(ids: Int32Array, n: number, id: number): number {
  let lo = 0, hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1, v = ids[mid]!;
    if (v === id) return mid;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
