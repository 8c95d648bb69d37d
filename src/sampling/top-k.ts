import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Keeps the k most likely tokens (at least min_tokens_to_keep). Hugging Face keeps every token tied
 * with the k-th logit; Wander keeps exactly k, ties broken by lower token id (as llama.cpp does).
 */
export class TopK implements Sampler {
  readonly name = 'top_k';
  readonly kind = 'warper';
  constructor(readonly k: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.k <= 0) return;
    const k = Math.max(this.k, this.minKeep);
    if (k >= c.size) return;
    c.keepTop(k);
  }
}
