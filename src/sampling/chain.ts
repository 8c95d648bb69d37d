import { allCandidates, candidateProbs, sortCandidates } from './candidates.js';
import type { Rng } from './rng.js';
import type { Sampler } from './sampler.js';
import { TemperatureSampler } from './temperature.js';
import { TopKSampler } from './top-k.js';
import { TopPSampler } from './top-p.js';

export interface ChainSettings {
  temperature: number;
  top_k: number;
  top_p: number;
}

/** Index of the largest logit, the lowest token id on ties. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * The sampling chain, in Hugging Face's order: temperature, then top-k, then top-p, then a draw from
 * what is left with the sample's own rng. Temperature 0 is greedy decoding: the argmax, no draw, and the
 * filters do not matter.
 */
export class SamplingChain {
  readonly samplers: Sampler[];

  constructor(readonly settings: ChainSettings) {
    this.samplers = [new TemperatureSampler(settings.temperature), new TopKSampler(settings.top_k), new TopPSampler(settings.top_p)];
  }

  get greedy(): boolean {
    return this.settings.temperature === 0;
  }

  sample(logits: Float32Array, rng: Rng): number {
    if (this.greedy) return argmax(logits);
    const c = allCandidates(logits);
    for (const s of this.samplers) s.apply(c);
    sortCandidates(c);
    const probs = candidateProbs(c);
    const u = rng.uniform();
    let cum = 0;
    for (let i = 0; i < c.size; i++) {
      cum += probs[i]!;
      if (u < cum) return c.ids[i]!;
    }
    return c.ids[c.size - 1]!; // u landed in the rounding gap above the last cumulative sum
  }
}
