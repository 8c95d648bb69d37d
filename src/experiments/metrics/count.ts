/** How often one counted string occurs in a cell's samples. */
export interface StringCount {
  /** Mean occurrences per sample (non-overlapping); null when the cell has no samples. */
  mean: number | null;
  /** Share of samples containing it at least once; null when the cell has no samples. */
  share: number | null;
}

/**
 * Occurrences of `needle` in `text`: exact and case-sensitive, scanning left to right and resuming
 * after each match, so they never overlap ("aa" occurs once in "aaa", twice in "aaaa"), as
 * `text.split(needle).length - 1` and Python's `str.count` count.
 */
export function countOccurrences(text: string, needle: string): number {
  if (needle.length === 0) throw new Error('countOccurrences: the string to count must not be empty');
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

/**
 * For each string, over a cell's generated texts: the mean number of occurrences per sample and the
 * share of samples that contain it at least once — "boost the comma" measured as commas per sample,
 * "it still chose Cleopatra every time" as the share of samples naming her. The keys are in the order
 * of `strings`, except that JavaScript lists integer-like keys ("7") first; read them by name.
 */
export function stringCounts(texts: readonly string[], strings: readonly string[]): Record<string, StringCount> {
  return Object.fromEntries(strings.map((s) => {
    if (texts.length === 0) return [s, { mean: null, share: null }];
    let total = 0, containing = 0;
    for (const t of texts) {
      const n = countOccurrences(t, s);
      total += n;
      if (n > 0) containing++;
    }
    return [s, { mean: total / texts.length, share: containing / texts.length }];
  }));
}
