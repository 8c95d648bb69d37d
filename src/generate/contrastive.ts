import { UserError } from '../errors.js';
import type { HookFn, Hooks } from '../model/hooks.js';
import type { KvCache } from '../model/kv-cache.js';
import type { Model } from '../model/load.js';
import { SamplingChain } from '../sampling/chain.js';
import { stepLogprobs, type StepLogprobs } from '../sampling/logprobs.js';
import { tokenStats, type TokenStats } from '../sampling/token-stats.js';
import { copyKvRows, topTokens } from './beam.js';
import { buildRun, searchHooks, type DecodeRequest, type GenerateOptions } from './generate.js';
import type { ContrastiveTraceStep, FinishReason, Run, Sample } from './report.js';
import { TextStream } from './text-stream.js';

/** Where contrastive search reads a position's "last hidden state": after the final norm (Hugging Face's hidden_states[-1] for GPT-2 and Llama). */
export const CONTRASTIVE_HOOK = 'ln_final.hook_normalized';

/**
 * Contrastive search (Su et al. 2022) with Hugging Face's semantics: `_contrastive_search` and
 * `_ranking_fast` of transformers' generation/utils.py (4.4x), which later releases moved, unchanged in
 * substance, to the hub repository transformers-community/contrastive-search. At each step:
 *
 *   1. the logit processors run on the logits and a softmax gives p; the top_k most probable tokens are
 *      the candidates (top_k is the candidate count K here, not a truncation stage);
 *   2. the K candidates run one step ahead, as ONE forwardMany call, and each one's last hidden state h
 *      is read at ln_final.hook_normalized. The K caches always hold the same prefix: the prompt is
 *      copied into each once, and after each step the chosen candidate's new row is copied into the
 *      others — one row per cache per step rather than a whole cache;
 *   3. each candidate scores (1 − α)·p − α·max_j cos(h, h_j) over the hidden states h_j of every earlier
 *      position (the prompt's and the tokens chosen so far), and the best is chosen — on ties the
 *      first candidate, i.e. the most probable, then the lowest id (as torch's max takes the first), so
 *      α = 0 is greedy decoding exactly;
 *   4. the chosen candidate's look-ahead already holds the next logits and its cache row: both are kept.
 *
 * Departures: probabilities and cosines are computed in f64 (Hugging Face: the model's dtype); a token
 * the processors removed is never a candidate (Hugging Face's top-k would take zero-probability tokens
 * when fewer than K remain); a zero hidden state has similarity 0 (Hugging Face: NaN). Every chosen
 * token needs its look-ahead, so a sequence stops with `context_full` when the context has no room
 * left for one (sampling can add one more token, which never runs).
 */
export function contrastiveSearch(model: Model, request: DecodeRequest, opts: GenerateOptions): Run {
  const { settings: s, promptIds } = request;
  const P = promptIds.length, V = model.config.vocabSize, ctxLen = model.config.contextLength;
  const K = Math.min(s.top_k, V), alpha = s.penalty_alpha;
  const tok = model.tokenizer;
  const text = (id: number) => tok.tokenText(id);
  // top_k picks the candidates; the chain runs the logit processors only.
  const chain = new SamplingChain({ ...s, top_k: 0 }, request.chainInputs);
  const trace: ContrastiveTraceStep[] | undefined = s.trace > 0 ? [] : undefined;

  // The read hook: rows of ln_final.hook_normalized, by absolute position (the prompt pass) or by
  // sequence (the candidates' look-ahead).
  let capture: (row: Float32Array, position: number, sequence: number) => void = () => {};
  const read: HookFn = (x, ctx) => {
    const d = ctx.shape[1]!;
    for (let r = 0; r < ctx.positions.length; r++) capture(x.subarray(r * d, (r + 1) * d), ctx.positions[r]!, ctx.sequences[r]!);
  };
  opts.onStart?.(promptIds);
  const { hooks, bind } = searchHooks(model, request, opts, new Map([[CONTRASTIVE_HOOK, read]]) as Hooks);

  const t0 = performance.now();
  let t1 = t0;
  const tokens = [...promptIds];
  const stream = new TextStream((ids) => tok.decode(ids), s.stop);
  const logprobs: StepLogprobs[] = [];
  const stats: TokenStats[] = [];
  let reason: FinishReason = 'max_tokens', error: string | undefined;

  model.withScratch(() => {
    const capacity = Math.min(ctxLen, P + s.max_tokens);
    const slots: KvCache[] = Array.from({ length: K }, () => model.newCache(capacity));
    // Hidden states of every position so far, with their norms.
    const context: { h: Float32Array; norm: number }[] = [];
    capture = (row, position) => { context[position] = { h: row.slice(), norm: norm(row) }; };
    // The prompt runs once; the final norm's hook sees every position's hidden state, and only the
    // last position's logits are computed.
    bind(1);
    let logits = model.forward(promptIds, slots[0]!, { hooks });
    for (let i = 1; i < K; i++) slots[i]!.copyFrom(slots[0]!, model.heap, P);
    t1 = performance.now();
    opts.onPrompt?.(P, t1 - t0);

    const hidden: Float32Array[] = [];
    capture = (row, _position, sequence) => { hidden[sequence] = row.slice(); };
    for (;;) {
      const length = tokens.length;
      // Each candidate must run one step ahead to be scored: without room for it the sequence ends.
      if (length >= ctxLen) { reason = 'context_full'; break; }
      let probs: (token: number) => number, candidates: number[];
      try {
        const processed = chain.processed(logits, { tokens, promptLength: P, text: stream.text });
        probs = softmax(processed);
        // The K most probable, ranked on the processed logits (the same order as p, without rounding p).
        candidates = topTokens(processed, K);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        reason = 'error';
        error = e.message;
        break;
      }
      bind(candidates.length);
      const ahead = model.forwardMany(candidates.map((t) => [t]), slots.slice(0, candidates.length), { hooks });
      const scored = candidates.map((token, i) => {
        const h = hidden[i]!, hn = norm(h);
        let maxSim = -Infinity;
        for (const c of context) maxSim = Math.max(maxSim, c.norm === 0 || hn === 0 ? 0 : dot(c.h, h) / (c.norm * hn));
        return { token, prob: probs(token), maxSim, score: (1 - alpha) * probs(token) - alpha * maxSim };
      });
      // The first best score wins, as torch's max over the candidates (ranked by probability, then id) takes it.
      let best = 0;
      scored.forEach((c, i) => { if (c.score > scored[best]!.score) best = i; });
      const next = scored[best]!.token;
      trace?.push({
        step: length - P, chosen: next,
        candidates: scored.map((c) => ({ token_id: c.token, token: text(c.token), prob: c.prob, max_similarity: c.maxSim, score: c.score })),
      });
      if (s.top_logprobs > 0) logprobs.push(stepLogprobs(logits, next, s.top_logprobs, text));
      if (opts.tokenStats) stats.push(tokenStats(logits, next));
      // Every cache takes the chosen candidate's new row, so all hold the chosen prefix again.
      for (let i = 0; i < K; i++) if (i !== best) copyKvRows(slots[i]!, slots[best]!, model.heap, length, length + 1);
      context.push({ h: hidden[best]!, norm: norm(hidden[best]!) });
      logits = ahead.slice(best * V, (best + 1) * V);
      tokens.push(next);
      if (request.eos.has(next)) { reason = 'eos'; break; }
      const delta = stream.push(next);
      if (delta) opts.onText?.(delta, 0);
      if (stream.stopped !== undefined) { reason = 'stop_sequence'; break; }
      if (tokens.length - P >= s.max_tokens) { reason = 'max_tokens'; break; }
    }
  });

  const tail = stream.flush();
  if (tail) opts.onText?.(tail, 0);
  const t2 = performance.now();
  const sample: Sample = { index: 0, text: stream.text, token_ids: tokens.slice(P), finish_reason: reason };
  if (stream.stopped !== undefined) sample.stop_sequence = stream.stopped;
  if (error !== undefined) sample.error = error;
  if (s.top_logprobs > 0) sample.logprobs = logprobs;
  if (opts.tokenStats) {
    sample.token_logprobs = stats.map((x) => x.logprob);
    sample.token_entropy_bits = stats.map((x) => x.entropy_bits);
    // Nothing is drawn: each token is chosen outright.
    sample.token_sampled_entropy_bits = stats.map(() => 0);
    sample.elapsed_ms = Math.round((t2 - t1) * 100) / 100;
  }
  opts.onSample?.(sample);
  const run = buildRun(model, request, chain.samplers.map((x) => x.name), [sample], { t0, t1, t2, loadMs: opts.loadMs });
  if (trace) run.contrastive_trace = trace;
  return run;
}

/** Softmax in f64 of f32 logits (−∞ ⇒ 0). */
/**
 * The softmax of `logits` as a function of the token, in f64: one pass for the max and one for the sum,
 * and each probability computed only when asked for (only the K candidates' are), so a step allocates
 * nothing the size of the vocabulary. Valid while `logits` is unchanged.
 */
function softmax(logits: Float32Array): (token: number) => number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return (token) => Math.exp(logits[token]! - max) / sum;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a));
}
