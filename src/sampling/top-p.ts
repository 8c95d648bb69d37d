import { candidateProbs, sortCandidates, type Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/**
 * Nucleus sampling: keeps the smallest set of most likely tokens whose probability sums to at least p
 * (p = 1: off), always at least one. Same rule as Hugging Face's TopPLogitsWarper, which drops tokens
 * whose ascending cumulative mass is ≤ 1 − p.
 */
export class TopPSampler implements Sampler {
  readonly name = 'top_p';
  constructor(readonly p: number) {}
  apply(c: Candidates): void {
    if (this.p >= 1) return;
    sortCandidates(c);
    const probs = candidateProbs(c);
    let cum = 0;
    let keep = c.size;
    for (let i = 0; i < c.size; i++) {
      cum += probs[i]!;
      if (cum >= this.p) { keep = i + 1; break; }
    }
    c.size = Math.max(1, keep);
  }
}
