/** Levenshtein distance between two token lists (insert, delete, substitute: cost 1 each). */
export function editDistance(a: readonly string[], b: readonly string[]): number {
  if (a.length < b.length) [a, b] = [b, a];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/** Pairs are quadratic: past this many samples, the first ones (in seed, index order) stand for the cell. */
export const EDIT_DISTANCE_MAX_SAMPLES = 200;

/**
 * Mean over all pairs of samples of the word-level edit distance divided by the longer sample's
 * length (0 = identical, 1 = nothing in common). null for fewer than 2 samples.
 */
export function meanPairwiseEditDistance(samples: readonly (readonly string[])[]): number | null {
  const s = samples.slice(0, EDIT_DISTANCE_MAX_SAMPLES);
  if (s.length < 2) return null;
  let sum = 0, pairs = 0;
  for (let i = 0; i < s.length; i++) {
    for (let j = i + 1; j < s.length; j++) {
      const longer = Math.max(s[i]!.length, s[j]!.length);
      sum += longer === 0 ? 0 : editDistance(s[i]!, s[j]!) / longer;
      pairs++;
    }
  }
  return sum / pairs;
}
