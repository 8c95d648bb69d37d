import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/** Divides logits by T: T < 1 sharpens the distribution, T > 1 flattens it. (T = 0 is greedy, handled by the chain.) */
export class TemperatureSampler implements Sampler {
  readonly name = 'temperature';
  constructor(readonly temperature: number) {}
  apply(c: Candidates): void {
    if (this.temperature === 1) return;
    for (let i = 0; i < c.size; i++) c.logits[i]! /= this.temperature;
  }
}
