import type { Candidates } from './candidates.js';

/** One stage of the sampling chain: reshapes or shrinks the candidate set in place. */
export interface Sampler {
  readonly name: string;
  apply(c: Candidates): void;
}
