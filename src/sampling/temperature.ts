import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/** Divides logits by T: T < 1 sharpens the distribution, T > 1 flattens it. T = 0 means greedy (the chain takes the argmax). */
export class Temperature implements Sampler {
  readonly name = 'temperature';
  readonly kind = 'warper';
  constructor(readonly t: number) {}
  apply(c: Candidates): void {
    if (this.t === 1 || this.t === 0) return;
    c.divideLogits(this.t);
  }
}
