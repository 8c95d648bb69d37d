import { counts, ngrams } from './words.js';

/**
 * Self-BLEU (Zhu et al. 2018, Texygen): each sample's BLEU against all the others as references,
 * averaged. High means the samples repeat each other. BLEU-N with uniform weights, clipped n-gram
 * precision, brevity penalty against the closest reference length (shorter on ties), and a zero
 * precision replaced by 0.1 / (hypothesis n-grams) as NLTK's smoothing method 1 does.
 * Exact and O(total n-grams): for each n-gram the two largest per-sample counts are kept, so "the
 * largest count among the other samples" is known without comparing pairs. null for fewer than 2 samples.
 */
export function selfBleu(samples: readonly (readonly string[])[], maxN = 4): number | null {
  const k = samples.length;
  if (k < 2) return null;
  const perN: Map<string, number>[][] = [];
  const best: Map<string, { top: number; owner: number; second: number }>[] = [];
  for (let n = 1; n <= maxN; n++) {
    const maps = samples.map((s) => counts(ngrams(s, n)));
    const b = new Map<string, { top: number; owner: number; second: number }>();
    maps.forEach((m, i) => {
      for (const [g, c] of m) {
        const e = b.get(g);
        if (!e) b.set(g, { top: c, owner: i, second: 0 });
        else if (c > e.top) { e.second = e.top; e.top = c; e.owner = i; }
        else if (c > e.second) e.second = c;
      }
    });
    perN.push(maps);
    best.push(b);
  }
  const lengths = samples.map((s) => s.length);
  let total = 0;
  for (let i = 0; i < k; i++) {
    const c = lengths[i]!;
    let logSum = 0;
    for (let n = 1; n <= maxN; n++) {
      let clipped = 0, all = 0;
      for (const [g, cnt] of perN[n - 1]![i]!) {
        const e = best[n - 1]!.get(g)!;
        const ref = e.owner === i ? e.second : e.top;
        clipped += Math.min(cnt, ref);
        all += cnt;
      }
      const p = clipped > 0 ? clipped / all : 0.1 / Math.max(1, all);
      logSum += Math.log(p) / maxN;
    }
    total += brevityPenalty(c, closestLength(lengths, i)) * Math.exp(logSum);
  }
  return total / k;
}

function closestLength(lengths: readonly number[], self: number): number {
  const c = lengths[self]!;
  let best = -1;
  lengths.forEach((r, j) => {
    if (j === self) return;
    if (best < 0 || Math.abs(r - c) < Math.abs(best - c) || (Math.abs(r - c) === Math.abs(best - c) && r < best)) best = r;
  });
  return best;
}

function brevityPenalty(c: number, r: number): number {
  if (c === 0) return 0;
  return c > r ? 1 : Math.exp(1 - r / c);
}
