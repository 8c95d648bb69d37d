import type { StepLogprobs } from '../sampling/logprobs.js';
import type { StepStats } from '../sampling/token-stats.js';
import type { FinishReason } from './report.js';

/**
 * What the beam decoders share (beam.ts drives the model; a rule chooses each step's beams):
 * Hugging Face's `_beam_search`, plain or sampled (beam-top.ts), and its group beam search
 * (beam-groups.ts).
 */

/** A running beam. */
export interface Beam {
  /** Prompt and generated tokens. */
  tokens: readonly number[];
  generated: readonly number[];
  /** Sum of the generated tokens' scores (log-probabilities after the chain, and the diversity penalty). */
  sum: number;
  /** The generated text (what banned strings and stop strings look at). */
  text: string;
  /** Which KV cache holds its rows. */
  slot: number;
  /** Its beam group (diverse beam search; 0 otherwise), −1 for the prompt, which every group extends. */
  group: number;
  logprobs: StepLogprobs[];
  stats: StepStats[];
}

/** A continuation: running beam `beam` (its index this step) extended by `token`. */
export interface Candidate {
  beam: number;
  token: number;
  /** The token's score: its log-probability after the chain (and the diversity penalty). */
  logprob: number;
  sum: number;
  /** The group it continues in (0 without groups). */
  group: number;
  /** Entropy (bits) of the distribution it was drawn from, given its beam; 0 when chosen outright. */
  drawnEntropy: number;
  /** Its text, when a stop-string check decoded it already. */
  text?: string;
}

export interface End {
  reason: FinishReason;
  stop?: string;
}

/** A finished hypothesis. */
export interface Hypothesis {
  parent: number;
  token: number;
  logprob: number;
  group: number;
  /** The generated tokens, the last (EOS, stop-completing, or at the length limit) included. */
  tokens: number[];
  sum: number;
  /** sum / (generated tokens)^length_penalty. */
  score: number;
  reason: FinishReason;
  stop?: string;
  logprobs: StepLogprobs[];
  stats: StepStats[];
}

/** What a rule sees of one step: the running beams and what the driver knows about sequences. */
export interface StepContext {
  /** The running beams; beam b's logits are row b of this step's forward pass. */
  readonly beams: readonly Beam[];
  /** Generated tokens a candidate holds, its own included: what its score is divided by (to the power length_penalty). */
  readonly generated: number;
  /** Set when this step's candidates reach the length limit (max_tokens or the context): how they end there. */
  readonly limit: End | undefined;
  /**
   * Beam b's next-token scores, by token id: log-softmax of its logits, `first` (a rule's own
   * processor that runs before the others: group search's diversity penalty), then the sampling
   * chain's stages (−∞ for a removed token); undefined when a stage removed every token. A rule may
   * change it in place; it is valid until the next call.
   */
  scores(b: number, first?: (logp: Float32Array) => void): Float32Array | undefined;
  /** Whether a continuation ends by itself: an EOS token, or a stop string completed (the length limit is `limit`). */
  ends(c: Candidate): End | undefined;
  /** The running beam a continuation becomes. */
  extend(c: Candidate): Beam;
  /** The finished hypothesis a continuation becomes, scored. */
  finish(c: Candidate, end: End): Hypothesis;
}

export interface StepResult {
  /** The beams that run on, and for each the candidate it grew from. */
  next: Beam[];
  kept: Candidate[];
  /** Hypotheses that finished this step and are still among the kept ones after it. */
  entered: Hypothesis[];
  /** The search ends after this step. */
  done: boolean;
  /** No beam had any continuation (the processors removed every token). */
  empty?: boolean;
}

/** How one kind of beam search chooses, step by step, and what it returns in the end. */
export interface BeamRule {
  step(ctx: StepContext): StepResult;
  /** The finished hypotheses, best first. */
  best(): Hypothesis[];
}

/** Ranks candidates: the larger sum first, then the lower beam index, then the lower token id. */
export function byScore(x: Candidate, y: Candidate): number {
  return y.sum - x.sum || x.beam - y.beam || x.token - y.token;
}

/** The ids of the `k` largest finite values, largest first, the lower id first on ties. */
export function topTokens(values: Float32Array, k: number): number[] {
  const top: number[] = [];
  // Ids come in ascending order, so once k are held a value no larger than the k-th cannot enter.
  let floor = -Infinity;
  for (let id = 0; id < values.length; id++) {
    const v = values[id]!;
    if (v === -Infinity || (top.length === k && v <= floor)) continue;
    let i = top.length === k ? k - 1 : top.length;
    top[i] = id;
    for (; i > 0 && v > values[top[i - 1]!]!; i--) [top[i], top[i - 1]] = [top[i - 1]!, top[i]!];
    if (top.length === k) floor = values[top[k - 1]!]!;
  }
  return top;
}
