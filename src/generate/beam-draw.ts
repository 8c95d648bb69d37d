import type { RandomSource } from '../sampling/sampler.js';

/** Entries per block of running sums (a draw walks the blocks, then one block). */
export const DRAW_BLOCK = 1024;

/**
 * Draws up to `k` distinct indices of `weights[0 … n)`, each draw choosing among the entries not yet
 * drawn with probability proportional to their weight: sampling without replacement, as
 * torch.multinomial(p, k, replacement=False) samples for Hugging Face's beam sampling (in distribution,
 * and in order: its result lists the draws first to last). Entries of weight 0 are never drawn, so
 * fewer than k come back when fewer are positive. The draws come from `rng`, one uniform u per draw:
 *
 *   the entries are taken in index order; the remaining weight W is the sum of the block sums
 *   (blocks of DRAW_BLOCK entries, each summed in order), and the draw is the first remaining entry
 *   whose running sum — the sums of the blocks before its own, then its block's entries up to and
 *   including it — exceeds u·W (where rounding leaves it short, the last remaining entry of the last
 *   non-empty block). The drawn entry's weight is then set to 0 and its block summed again.
 *
 * Every sum runs in a fixed order in f64, so the same weights and generator give the same draws on
 * every machine. `weights` is changed: drawn entries become 0.
 */
export function drawDistinct(weights: Float64Array, n: number, k: number, rng: RandomSource): number[] {
  const blocks = Math.ceil(n / DRAW_BLOCK);
  const sums = new Float64Array(blocks);
  const sumBlock = (j: number) => {
    let t = 0;
    for (let i = j * DRAW_BLOCK, end = Math.min(n, i + DRAW_BLOCK); i < end; i++) t += weights[i]!;
    sums[j] = t;
  };
  let positive = 0;
  for (let i = 0; i < n; i++) if (weights[i]! > 0) positive++;
  for (let j = 0; j < blocks; j++) sumBlock(j);
  const drawn: number[] = [];
  while (drawn.length < k && drawn.length < positive) {
    let total = 0;
    for (let j = 0; j < blocks; j++) total += sums[j]!;
    const target = rng.uniform() * total;
    let block = -1, before = 0, cum = 0;
    for (let j = 0; j < blocks; j++) {
      if (!(sums[j]! > 0)) continue;
      block = j;
      before = cum;
      if (cum + sums[j]! > target) break;
      cum += sums[j]!;
    }
    let pick = -1;
    cum = before;
    for (let i = block * DRAW_BLOCK, end = Math.min(n, i + DRAW_BLOCK); i < end; i++) {
      if (!(weights[i]! > 0)) continue;
      pick = i;
      cum += weights[i]!;
      if (cum > target) break;
    }
    drawn.push(pick);
    weights[pick] = 0;
    sumBlock(block);
  }
  return drawn;
}
