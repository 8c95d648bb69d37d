import { sortCandidates, type Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Keeps the k most likely tokens (k = 0: off). Unlike Hugging Face, which keeps every token tied with
 * the k-th logit, exactly k survive, ties broken by lower token id: the kept set is always k long.
 */
export class TopKSampler implements Sampler {
  readonly name = 'top_k';
  constructor(readonly k: number) {}
  apply(c: Candidates): void {
    if (this.k <= 0 || this.k >= c.size) return;
    sortCandidates(c);
    c.size = this.k;
  }
}
