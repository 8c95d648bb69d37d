const BINS = 2048;
// Reused across calls (grow-only): every entry read is written first.
let binScratch = new Uint16Array(0);
const massScratch = new Float64Array(BINS);

/**
 * Where the running probability mass first reaches `target` when entries are taken in ascending
 * `key` order (ties: lower token id first) — the cut behind top-p (key = distance below the best
 * logit) and typical-p (key = |surprisal − entropy|). No sort of the vocabulary: mass is binned by key
 * over [0, range) (larger keys share the last bin), one scan finds the bin where the target is reached,
 * and only that bin's entries are ranked exactly. Returns the entry index at the cut, or −1 when
 * rounding leaves the target unreached.
 */
export function massCut(key: Float64Array, ids: Int32Array, exps: Float32Array, n: number, target: number, range: number): number {
  const scale = BINS / range;
  if (binScratch.length < n) binScratch = new Uint16Array(n);
  const bin = binScratch, mass = massScratch.fill(0);
  for (let i = 0; i < n; i++) {
    const b = Math.min(BINS - 1, (key[i]! * scale) | 0);
    bin[i] = b;
    mass[b]! += exps[i]!;
  }
  let above = 0, cutBin = 0;
  for (; cutBin < BINS - 1 && above + mass[cutBin]! < target; cutBin++) above += mass[cutBin]!;
  const inBin: number[] = [];
  for (let i = 0; i < n; i++) if (bin[i] === cutBin) inBin.push(i);
  inBin.sort((x, y) => key[x]! - key[y]! || ids[x]! - ids[y]!);
  for (const i of inBin) {
    above += exps[i]!;
    if (above >= target) return i;
  }
  return -1;
}
