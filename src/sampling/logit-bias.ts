import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';
import { updateLogits } from './sparse-logits.js';

/** Adds a fixed bias to chosen token ids (−∞ bans a token). Strings are resolved to ids when the chain is built. */
export class LogitBias implements Sampler {
  readonly name = 'logit_bias';
  readonly kind = 'processor';
  private readonly changes: Map<number, (l: number) => number>;
  constructor(readonly bias: ReadonlyMap<number, number>) {
    this.changes = new Map([...bias].map(([id, b]) => [id, (l: number) => l + b]));
  }
  apply(c: Candidates): void {
    updateLogits(c, this.changes);
  }
}
