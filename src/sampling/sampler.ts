import type { Candidates } from './candidates.js';

/** What stages may look at besides the logits: the sequence so far. */
export interface SamplingContext {
  /** Prompt tokens followed by the tokens generated so far. */
  tokens: readonly number[];
  promptLength: number;
  /** The text generated so far (for banned strings). */
  text: string;
  /**
   * State a stage keeps from one step of a sample to the next (mirostat's running μ), created empty
   * when the sample starts and owned by it alone. Absent for a one-off step (`next`): stages start fresh.
   */
  state?: Record<string, number>;
}

/**
 * Where a stage's random choices come from: the sample's own `Rng` (the one the chain draws the token
 * with), so a stage that flips a coin (XTC) stays reproducible for a seed and never depends on how
 * many other samples run beside it.
 */
export interface RandomSource {
  /** Uniform double in [0, 1). */
  uniform(): number;
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
  /** `rng` is the sample's own generator; only stages that make random choices use it. */
  apply(c: Candidates, ctx: SamplingContext, rng?: RandomSource): void;
  /**
   * Called once the chain has drawn `token` from `c` (the candidates after every stage, as drawn
   * from), for stages that learn from the choice (mirostat updates μ in ctx.state). Not called when
   * nothing is drawn (`processed`, `distribution`).
   */
  accept?(token: number, c: Candidates, ctx: SamplingContext): void;
}
