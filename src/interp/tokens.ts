import { UserError } from '../errors.js';
import type { Model } from '../model/load.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/** Token handling shared by the interpretability commands: inputs, labels, targets, ranks. */

export interface TokenEntry { token_id: number; token: string }

/** A token's own text; a control token that renders as nothing (BOS) is named, so a row is readable. */
export function tokenLabel(tok: Tokenizer, id: number): string {
  return tok.tokenText(id) || (id === tok.bosId ? '<bos>' : '');
}

export function tokenEntries(tok: Tokenizer, ids: readonly number[]): TokenEntry[] {
  return ids.map((id) => ({ token_id: id, token: tokenLabel(tok, id) }));
}

/**
 * The token ids to run: text is encoded as the model's tokenizer does (BOS first when the model adds
 * one); ids are used exactly as given. Either must be non-empty, inside the vocabulary, and fit the
 * model's context. `flag` names the setting in messages.
 */
export function inputIds(model: Pick<Model, 'tokenizer'> & { config: { contextLength: number; vocabSize: number } }, input: string | readonly number[], flag = 'prompt'): number[] {
  const c = model.config;
  const ids = typeof input === 'string' ? model.tokenizer.encode(input) : [...input];
  if (ids.length === 0) {
    throw new UserError(typeof input === 'string' ? `--${flag} is empty and this model adds no BOS token; give some text` : `--${flag} is empty: give at least one token id`, flag);
  }
  if (typeof input !== 'string') {
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= c.vocabSize);
    if (bad !== undefined) throw new UserError(`--${flag}: token id ${bad} is outside the vocabulary (0..${c.vocabSize - 1})`, flag);
  }
  if (ids.length > c.contextLength) throw new UserError(`--${flag} is ${ids.length} tokens, longer than the model's context of ${c.contextLength} tokens`, flag);
  return ids;
}

/**
 * "#123" (or a number) is a token id; any other text must encode to exactly one token (or to tokens one
 * of which is exactly that text, as SentencePiece's added leading space gives " " "," for ",").
 */
export function resolveTarget(model: Model, target: string | number, flag = 'target'): number {
  const V = model.config.vocabSize, tok = model.tokenizer;
  const m = typeof target === 'number' ? [String(target), String(target)] : /^#(\d+)$/.exec(target);
  if (m) {
    const id = Number(m[1]);
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new UserError(`--${flag} ${target}: token ids go from 0 to ${V - 1}`, flag);
    return id;
  }
  const text = target as string;
  let ids = tok.encode(text);
  if (tok.addBos && ids[0] === tok.bosId) ids = ids.slice(1);
  if (ids.length !== 1) {
    // A tokenizer may add to the text (SentencePiece's leading space makes "," two tokens, " " ","):
    // the token it used whose own text is exactly the target still counts.
    const own = ids.find((id) => tok.tokenText(id) === text);
    if (own !== undefined) return own;
    throw new UserError(`--${flag} ${JSON.stringify(text)} is ${ids.length} tokens (${ids.map((i) => JSON.stringify(tok.tokenText(i))).join(' ')}); give exactly one token, or #id`, flag);
  }
  return ids[0]!;
}

/** 1-based rank of token `id` in a row of logits (or probabilities): ties go to the lower id. */
export function rankOf(scores: ArrayLike<number>, id: number): number {
  const x = scores[id]!;
  let rank = 1;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > x || (scores[i] === x && i < id)) rank++;
  return rank;
}

/** The `n` highest-scoring ids, best first, ties to the lower id. */
export function topIds(scores: ArrayLike<number>, n: number): number[] {
  const top: number[] = [];
  const better = (a: number, b: number) => scores[a]! > scores[b]! || (scores[a] === scores[b] && a < b);
  for (let id = 0; id < scores.length && n > 0; id++) {
    if (top.length === n && !better(id, top[n - 1]!)) continue;
    let i = top.length === n ? n - 1 : top.length;
    top[i] = id;
    for (; i > 0 && better(top[i]!, top[i - 1]!); i--) [top[i], top[i - 1]] = [top[i - 1]!, top[i]!];
  }
  return top;
}

/**
 * log softmax of one row of logits in float64: [d_vocab] → [d_vocab] natural-log probabilities, and the
 * distribution's entropy in bits.
 */
export function logSoftmax(logits: ArrayLike<number>): { logprobs: Float64Array; entropyBits: number } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  const logprobs = new Float64Array(logits.length);
  let h = 0;
  for (let i = 0; i < logits.length; i++) {
    const lp = (logprobs[i] = logits[i]! - lse);
    if (lp > -Infinity) h -= Math.exp(lp) * lp;
  }
  return { logprobs, entropyBits: h / Math.LN2 };
}

/** KL(p ‖ q) in nats between the softmax distributions of two rows of logits, in float64 over the whole vocabulary. */
export function klDivergence(pLogits: ArrayLike<number>, qLogits: ArrayLike<number>): number {
  const p = logSoftmax(pLogits).logprobs, q = logSoftmax(qLogits).logprobs;
  let kl = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > -Infinity) kl += Math.exp(p[i]!) * (p[i]! - q[i]!);
  return Math.max(0, kl);
}
