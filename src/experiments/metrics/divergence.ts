/**
 * The first generated-token position (0-based) at which the samples do not all agree: how long the
 * cell's samples stay on one path. A sample that ends is "different" from one that goes on. null
 * when every sample is the same token for token (or there is only one sample).
 */
export function firstDivergence(samples: readonly (readonly number[])[]): number | null {
  if (samples.length < 2) return null;
  const first = samples[0]!;
  if (samples.every((s) => s.length === first.length && s.every((t, i) => t === first[i]))) return null;
  for (let pos = 0; ; pos++) {
    const t = first[pos];
    if (samples.some((s) => s[pos] !== t)) return pos;
  }
}
