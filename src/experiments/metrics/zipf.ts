/**
 * The Zipf coefficient s of the generated tokens: the slope of log frequency against log rank,
 * fitted by least squares and negated (frequency ∝ rank^−s). Human text is near 1; a larger s means
 * a few tokens dominate. `maxRanks` fits only the most frequent ones, as Holtzman et al. (2020) fit the
 * top 5,000 (their metrics/zipf.py); it changes nothing for a vocabulary smaller than that. null with
 * fewer than two distinct tokens.
 */
export function zipfCoefficient(samples: readonly (readonly number[])[], maxRanks = Infinity): number | null {
  const freq = new Map<number, number>();
  for (const s of samples) for (const t of s) freq.set(t, (freq.get(t) ?? 0) + 1);
  const sorted = [...freq.values()].sort((a, b) => b - a).slice(0, maxRanks);
  const k = sorted.length;
  if (k < 2) return null;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  sorted.forEach((f, i) => {
    const x = Math.log(i + 1), y = Math.log(f);
    sx += x; sy += y; sxx += x * x; sxy += x * y;
  });
  const slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
  return -slope;
}
