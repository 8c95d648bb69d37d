import { UserError } from '../errors.js';
import type { Model } from '../model/load.js';
import { captureActivations } from './cache.js';
import type { InterventionSettings } from './intervene.js';
import { inputIds, logSoftmax, rankOf, resolveTarget, tokenLabel, topIds, type TokenEntry } from './tokens.js';

export interface LensToken { token_id: number; token: string; prob: number }

export interface LensCell {
  position: number;
  /** The most likely tokens at this layer and position, best first (ties: lower id first). */
  top: LensToken[];
  /** With a target: its probability and 1-based rank here. */
  target?: { token_id: number; prob: number; rank: number };
}

export interface LensResult {
  tokens: TokenEntry[];
  /** One entry per block, in order; each has one cell per input position. */
  layers: { layer: number; positions: LensCell[] }[];
}

export interface LensOptions {
  /** A token to follow through the layers: text that is exactly one token, or "#id". */
  target?: string | number;
  /** Tokens per cell, 1–1000 (default 5). */
  top?: number;
  /** Interventions on the pass (see intervene.ts): the lens then reads the intervened model. */
  interventions?: Partial<InterventionSettings>;
  /** Seed of the noise streams (default 0). */
  seed?: number;
}

/**
 * The logit lens: what each block's output would predict if the model stopped there. Every
 * `blocks.{i}.hook_resid_post` row ([pos, d_model]) goes through the model's own final norm (learned
 * gain, and bias for GPT-2) and unembedding — the engine's kernels, via Model.unembed — and a softmax
 * over the whole vocabulary. At the last block this is the model's real output distribution.
 * `prompt` is text (BOS included when the model adds one) or token ids used as they are.
 */
export function logitLens(model: Model, prompt: string | readonly number[], opts: LensOptions = {}): LensResult {
  const top = opts.top ?? 5;
  if (!Number.isInteger(top) || top < 1 || top > 1000) throw new UserError(`--top must be an integer from 1 to 1000, got ${top}`, 'top');
  const tok = model.tokenizer, V = model.config.vocabSize, n = Math.min(top, V);
  const ids = inputIds(model, prompt);
  const target = opts.target === undefined ? undefined : resolveTarget(model, opts.target);
  const cache = captureActivations(model, ids, { hooks: ['blocks.*.hook_resid_post'], interventions: opts.interventions, seed: opts.seed });
  const layers = cache.activations.map((resid, layer) => {
    const logits = model.unembed(resid.data); // [pos, d_vocab]
    const positions = ids.map((_, p): LensCell => {
      const row = logits.subarray(p * V, (p + 1) * V);
      const { logprobs } = logSoftmax(row);
      const cell: LensCell = { position: p, top: topIds(row, n).map((id) => ({ token_id: id, token: tokenLabel(tok, id), prob: Math.exp(logprobs[id]!) })) };
      if (target !== undefined) cell.target = { token_id: target, prob: Math.exp(logprobs[target]!), rank: rankOf(row, target) };
      return cell;
    });
    return { layer, positions };
  });
  return { tokens: cache.tokens, layers };
}
