import { UserError } from '../errors.js';
import type { Model } from '../model/load.js';
import { gpt2Parameters } from '../train/from-model.js';
import { Gpt2Graph } from '../train/gpt2.js';
import type { Arr } from '../train/layers.js';
import { LlamaGraph } from '../train/llama.js';
import { resolveTarget, tokenLabel } from './tokens.js';

/** What attribution needs of a model: a forward pass and the gradient with respect to its input embeddings. */
export interface InputDifferentiable {
  forward(tokens: ArrayLike<number>, targets: ArrayLike<number>, B: number, T: number): number;
  readonly logits: Arr;
  /** Changes which positions are scored (and against what) for the next backward(), without a new forward pass. */
  setTargets(targets: ArrayLike<number>): void;
  backward(opts?: { parameters?: boolean }): void;
  readonly dEncoded?: Arr;
  embedding(id: number): Arr;
}

/** The model's differentiable twin: GPT-2 or Llama family, weights dequantized. */
export function differentiable(model: Model, precision: 'f32' | 'f64' = 'f32'): InputDifferentiable {
  const c = model.config;
  if (c.family === 'gemma') {
    // The differentiable graph has GPT-2's and Llama's layers; Gemma's (GeGLU, scaled embeddings, post
    // norms, sliding windows, soft-capping) are not in it, and a Llama graph would be silently wrong.
    throw new UserError(`${model.path}: gradients and attribution cover the GPT-2 and Llama families; this is a ${c.architecture} model (Gemma), whose layers the differentiable graph does not have yet`, 'model');
  }
  return c.family === 'gpt2' ? new Gpt2Graph(gpt2Parameters(model, precision)) : new LlamaGraph(model, precision);
}

export interface TokenAttribution {
  position: number;
  token_id: number;
  token: string;
  /** Σ_c embedding[c] · ∂ log p(target) / ∂ embedding[c]: how much this token's embedding pushes toward the target. */
  input_x_gradient: number;
  /** ‖∂ log p(target) / ∂ embedding‖₂: how sensitive the target is to this position at all. */
  gradient_norm: number;
}

export interface Attribution {
  model: string;
  prompt: { text: string; token_ids: number[] };
  target: { token_id: number; token: string; prob: number; logprob: number; rank: number; chosen_by: 'argmax' | 'flag' };
  tokens: TokenAttribution[];
  method: string;
}

/**
 * Gradient saliency of each prompt token for one next token: the gradient of log p(target | prompt)
 * with respect to each position's input embedding, through the whole network (GPT-2 or Llama family). `target` is a token id, or text that is exactly one token; by default the most likely
 * next token.
 */
export function attribute(model: Model, prompt: string, target?: string | number): Attribution {
  const tok = model.tokenizer;
  const ids = tok.encode(prompt);
  if (ids.length === 0) throw new UserError('--prompt is empty and this model adds no BOS token; give a prompt', 'prompt');
  if (ids.length > model.config.contextLength) throw new UserError(`--prompt is ${ids.length} tokens, longer than the model's context of ${model.config.contextLength}`, 'prompt');
  const graph = differentiable(model);
  const T = ids.length, V = model.config.vocabSize, C = model.config.nEmbd;
  // One forward pass: the distribution at the last position picks (and ranks) the target; then the
  // backward pass from −log p(target) at that position.
  graph.forward(ids, ids.map(() => -1), 1, T);
  const last = graph.logits.subarray((T - 1) * V, T * V);
  const targetId = target === undefined ? argmax(last) : resolveTarget(model, target);
  let max = -Infinity, z = 0;
  for (let i = 0; i < V; i++) max = Math.max(max, last[i]!);
  for (let i = 0; i < V; i++) z += Math.exp(last[i]! - max);
  const loss = -(last[targetId]! - max - Math.log(z));
  graph.setTargets(ids.map((_, i) => (i === T - 1 ? targetId : -1)));
  graph.backward({ parameters: false });
  const d = graph.dEncoded!;
  const tokens = ids.map((id, t): TokenAttribution => {
    const e = graph.embedding(id);
    let ixg = 0, norm = 0;
    for (let c = 0; c < C; c++) {
      const g = -d[t * C + c]!; // ∂ log p = −∂ loss
      ixg += e[c]! * g;
      norm += g * g;
    }
    // Control tokens (BOS) render as nothing; name them so the row is readable.
    const text = tokenLabel(tok, id);
    return { position: t, token_id: id, token: text, input_x_gradient: ixg, gradient_norm: Math.sqrt(norm) };
  });
  let rank = 1;
  for (let i = 0; i < V; i++) if (last[i]! > last[targetId]! || (last[i] === last[targetId] && i < targetId)) rank++;
  return {
    model: model.path,
    prompt: { text: prompt, token_ids: ids },
    target: { token_id: targetId, token: tok.tokenText(targetId), prob: Math.exp(-loss), logprob: -loss, rank, chosen_by: target === undefined ? 'argmax' : 'flag' },
    tokens,
    method: model.config.family === 'gpt2'
      ? 'gradient of log p(target) with respect to each input embedding (token + position); input × gradient uses the token embedding'
      : 'gradient of log p(target) with respect to each input (token) embedding; input × gradient = embedding · gradient',
  };
}

function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
}
