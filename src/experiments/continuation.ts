import { UserError } from '../errors.js';
import { scoreTokens } from '../interp/score.js';
import type { Model } from '../model/load.js';

/** A prompt's human continuation as one model reads it. */
export interface ScoredContinuation {
  /** The continuation's tokens, as the model reads them after the prompt. */
  token_ids: number[];
  /** ln p(token | prompt and the continuation before it), at temperature 1, nothing truncated: what a generated token's stored logprob is. */
  logprobs: number[];
  /** Entropy (bits) of the model's distribution at each of them. */
  entropies: number[];
  /** Tokens before the continuation (the prompt's, BOS included where the model adds one). */
  prompt_tokens: number;
}

/**
 * Scores a human continuation under the model, teacher-forced: one forward pass over prompt +
 * continuation, and each continuation token's log-probability given everything before it — the
 * quantity a generated token's stored logprob is, so the human row's perplexity compares with the
 * decoders'. The text is encoded whole, as the model would read it; the continuation is what follows
 * the prompt's own tokens (where the tokenizer merges across the seam, the merged token counts as the
 * continuation's). Prompt and continuation must fit the model's context together.
 */
export function scoreContinuation(model: Model, prompt: string, continuation: string): ScoredContinuation {
  const tok = model.tokenizer;
  const promptIds = tok.encode(prompt);
  const ids = tok.encode(prompt + continuation);
  let k = 0;
  while (k < promptIds.length && k < ids.length && ids[k] === promptIds[k]) k++;
  // The first token of a sequence is predicted by nothing: a continuation needs a prompt (or BOS) before it.
  if (k === 0) throw new UserError('the prompt is empty and this model adds no BOS token, so nothing predicts the continuation\'s first token; give a prompt', 'prompts');
  if (k === ids.length) throw new UserError('the continuation adds no token to the prompt', 'prompts');
  const context = model.config.contextLength;
  if (ids.length > context) {
    throw new UserError(`the prompt and its continuation are ${ids.length} tokens, more than the model's context of ${context}; shorten them so the continuation is scored as the model would generate it`, 'prompts');
  }
  const scored = scoreTokens(model, ids).tokens.slice(k);
  return {
    token_ids: ids.slice(k),
    logprobs: scored.map((t) => t.logprob!),
    entropies: scored.map((t) => t.entropy_bits!),
    prompt_tokens: k,
  };
}
