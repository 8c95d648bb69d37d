/** A loop a generation ends in: the repeated phrase's length (in tokens) and how many times it occurs back to back. */
export interface EndLoop {
  phrase_length: number;
  repeats: number;
}

/**
 * Holtzman et al. (2020)'s repetition test (Figure 9 of arXiv:1904.09751): a generation ends in a loop
 * when a phrase of at least `minPhrase` tokens (2) repeats at least `minRepeats` times (3) back to back
 * at its very end. As in the authors' metrics/repetition.py, the phrase is the last n tokens and copies
 * are counted backwards in whole blocks of n, so "x a b a b a b" ends in "a b" × 3. Returns the shortest
 * such phrase, or null. Model tokens, not words: the paper counts GPT-2 tokens. (Its code differs from
 * the caption: it takes the n with the most copies and asks for 2 copies of ≥ 3 tokens, or > 50 of a
 * shorter phrase. Wander follows the paper's stated definition.)
 */
export function endLoop<T>(tokens: readonly T[], minPhrase = 2, minRepeats = 3): EndLoop | null {
  const L = tokens.length;
  for (let n = minPhrase; n * minRepeats <= L; n++) {
    let repeats = 1;
    while ((repeats + 1) * n <= L && sameBlock(tokens, L - n, L - (repeats + 1) * n, n)) repeats++;
    if (repeats >= minRepeats) return { phrase_length: n, repeats };
  }
  return null;
}

/** Whether tokens[a, a + n) equals tokens[b, b + n). */
function sameBlock<T>(tokens: readonly T[], a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (tokens[a + i] !== tokens[b + i]) return false;
  return true;
}

/** Percentage (0–100) of the generations that end in a loop (see endLoop); null for none. */
export function repetitionPercent<T>(generations: readonly (readonly T[])[], minPhrase = 2, minRepeats = 3): number | null {
  if (generations.length === 0) return null;
  return (100 * generations.filter((g) => endLoop(g, minPhrase, minRepeats) !== null).length) / generations.length;
}
