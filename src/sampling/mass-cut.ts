import type { Candidates } from './candidates.js';
import { BINS, type RankKey } from './vector-math.js';

/**
 * Where the running probability mass first reaches `target` when entries are taken in ascending
 * ranking-key order (ties: lower token id first) — the cut behind top-p (key = distance below the best
 * logit) and typical-p (key = |surprisal − entropy|). No sort of the vocabulary: one pass bins the
 * mass by key over [0, range) (larger keys share the last bin), a scan of the bins finds the one where
 * the target is reached, and only that bin's entries are ranked exactly. Returns the entry index at
 * the cut, or −1 when rounding leaves the target unreached.
 */
export function massCut(c: Candidates, r: RankKey, exps: Float32Array, target: number, range: number): number {
  const n = c.size, ids = c.ids;
  const mass = c.math.binMass(r, c.logits, exps, n, BINS / range);
  let above = 0, cutBin = 0;
  for (; cutBin < BINS - 1 && above + mass[cutBin]! < target; cutBin++) above += mass[cutBin]!;
  const inBin = Array.from(c.math.collectBin(n, cutBin));
  const key = new Map(inBin.map((i) => [i, c.rankKey(r, i)]));
  inBin.sort((x, y) => key.get(x)! - key.get(y)! || ids[x]! - ids[y]!);
  for (const i of inBin) {
    above += exps[i]!;
    if (above >= target) return i;
  }
  return -1;
}
