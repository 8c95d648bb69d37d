import type { Candidates } from './candidates.js';

/** What stages may look at besides the logits: the sequence so far. */
export interface SamplingContext {
  /** Prompt tokens followed by the tokens generated so far. */
  tokens: readonly number[];
  promptLength: number;
  /** The text generated so far (for banned strings). */
  text: string;
}

/**
 * One stage of the sampling chain. `processor` stages (penalties, bias, bans) change logits and run
 * even for greedy decoding; `warper` stages (temperature and the truncation samplers) shape the
 * distribution a sample is drawn from, and greedy decoding skips them — as in Hugging Face.
 * A stage removes a token by dropping it from the candidates (or setting its logit to −∞).
 */
export interface Sampler {
  readonly name: string;
  readonly kind: 'processor' | 'warper';
  apply(c: Candidates, ctx: SamplingContext): void;
}
