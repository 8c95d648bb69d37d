import { ngrams } from './words.js';

/**
 * Share of a cell's 4-grams (by default) that repeat an earlier 4-gram of the same sample, pooled over
 * the samples: 0 for text that never repeats itself, near 1 for a loop. null when no sample has n words.
 */
export function repetitionRate(samples: readonly (readonly string[])[], n = 4): number | null {
  let repeated = 0, total = 0;
  for (const s of samples) {
    const g = ngrams(s, n);
    repeated += g.length - new Set(g).size;
    total += g.length;
  }
  return total ? repeated / total : null;
}

/** The smallest loop a sample must end in to count as degenerate: at least 3 turns over at least 8 words. */
const MIN_TURNS = 3;
const MIN_LOOP_WORDS = 8;

/**
 * Whether a sample ends in a loop — the same span of words over and over until it is cut off, like
 * "Universidad Nacional Autónoma de México/Universidad Nacional Autónoma de México/…". Returns the
 * loop's period in words, or 0. A final partial turn (cut by max_tokens) still counts.
 */
export function degenerateLoop(words: readonly string[]): number {
  const L = words.length;
  for (let p = 1; p * MIN_TURNS <= L; p++) {
    let i = L - 1;
    while (i - p >= 0 && words[i] === words[i - p]) i--;
    const span = L - 1 - i + p; // the periodic tail, its first turn included
    if (span >= MIN_TURNS * p && span >= MIN_LOOP_WORDS) return p;
  }
  return 0;
}
