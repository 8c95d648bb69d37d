import { ngrams } from './words.js';

/**
 * distinct-n (Li et al. 2016): distinct n-grams over all n-grams, pooled over the samples of a cell.
 * null when the samples hold no n-gram at all.
 */
export function distinctN(samples: readonly (readonly string[])[], n: number): number | null {
  const seen = new Set<string>();
  let total = 0;
  for (const s of samples) {
    for (const g of ngrams(s, n)) { seen.add(g); total++; }
  }
  return total ? seen.size / total : null;
}
