import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

const BUCKETS = 2048;
/** Logits more than this far below the maximum share the last bucket (their mass is < e^−40 each). */
const RANGE = 40;

/**
 * Nucleus sampling: keeps the smallest set of most likely tokens whose probability reaches p (Hugging
 * Face's rule: drop tokens whose ascending cumulative mass is ≤ 1 − p), at least min_tokens_to_keep.
 * No sort of the vocabulary: probability mass is binned by logit, the bin where the running mass
 * reaches p is found in one scan, and only that bin's tokens are ranked exactly. The cut is applied
 * as a filter, so survivors keep their order.
 */
export class TopP implements Sampler {
  readonly name = 'top_p';
  readonly kind = 'warper';
  constructor(readonly p: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.p >= 1) return;
    const { exps, sum, max } = c.expSum();
    const ids = c.ids, l = c.logits, n = c.size;
    const scale = BUCKETS / RANGE;
    const bucket = new Uint16Array(n), mass = new Float64Array(BUCKETS);
    for (let i = 0; i < n; i++) {
      const b = Math.min(BUCKETS - 1, ((max - l[i]!) * scale) | 0);
      bucket[i] = b;
      mass[b]! += exps[i]!;
    }
    const target = this.p * sum;
    let above = 0, cutBucket = 0;
    for (; cutBucket < BUCKETS - 1 && above + mass[cutBucket]! < target; cutBucket++) above += mass[cutBucket]!;
    // Rank the boundary bucket exactly (logit descending, lower id first) and find the cut in it.
    const inBucket: number[] = [];
    for (let i = 0; i < n; i++) if (bucket[i] === cutBucket) inBucket.push(i);
    inBucket.sort((x, y) => l[y]! - l[x]! || ids[x]! - ids[y]!);
    const keep = new Uint8Array(n);
    let kept = 0;
    for (let i = 0; i < n; i++) if (bucket[i]! < cutBucket) { keep[i] = 1; kept++; }
    for (const i of inBucket) {
      keep[i] = 1;
      kept++;
      above += exps[i]!;
      if (above >= target) break;
    }
    if (kept < this.minKeep) c.keepTop(this.minKeep);
    else if (kept < n) c.keepMasked(keep);
  }
}
