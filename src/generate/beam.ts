import { UserError } from '../errors.js';
import type { Heap } from '../kernels/heap.js';
import type { KvCache } from '../model/kv-cache.js';
import type { Model } from '../model/load.js';
import { SamplingChain } from '../sampling/chain.js';
import { stepLogprobs, type StepLogprobs } from '../sampling/logprobs.js';
import { tokenStats, type TokenStats } from '../sampling/token-stats.js';
import { vectorMath } from '../sampling/vector-math.js';
import { buildRun, searchHooks, type DecodeRequest, type GenerateOptions } from './generate.js';
import type { BeamTraceEntry, BeamTraceStep, FinishReason, Run, Sample } from './report.js';

/**
 * Beam search with Hugging Face generate()'s semantics: `_beam_search` as rewritten for transformers
 * 4.50 (PR #35802, vectorised, no BeamSearchScorer), read in a 4.56-era snapshot (`_get_top_k_continuations`,
 * `_get_running_beams_for_next_iteration`, `_update_finished_beams`, `_check_early_stop_heuristic`,
 * `_beam_search_has_unfinished_sequences`). One step:
 *
 *   1. each running beam's logits become log-probabilities (log-softmax), and the logit processors
 *      (repetition penalty, no-repeat-ngram, bias, bans, min_new_tokens) run on those log-probabilities,
 *      as Hugging Face runs them in beam search;
 *   2. every (beam, token) gets the beam's cumulative score plus that log-probability, and the best
 *      `keep` = max(2, 1 + number of EOS ids) × num_beams of them are kept, best first;
 *   3. a candidate that ends (an EOS token, a stop string, the length limit) cannot run on; among the
 *      first num_beams candidates, those that end become finished hypotheses scored
 *      sum of log-probs / (generated tokens, the last included)^length_penalty, and the finished set
 *      keeps its num_beams best — unless early stopping has decided no finished hypothesis can improve;
 *   4. the best num_beams candidates that did not end are the next running beams;
 *   5. the search stops when no candidate can run on, when (early_stopping true) num_beams hypotheses
 *      have finished, or when the "is done" heuristic finds that the best running beam, scored at
 *      its current length (false) or at the longest length it could reach (never, with a positive
 *      length_penalty), cannot beat the worst of num_beams finished hypotheses.
 *
 * The num_return_sequences best finished hypotheses are returned, best first.
 *
 * Where this differs from transformers, only where its tensors need placeholders: Hugging Face starts
 * with num_beams copies of the prompt scored 0, −1e9, −1e9 … and marks finished or removed entries by
 * adding −1e9; here the search starts from the prompt alone and keeps explicit lists, so a candidate
 * the processors removed (−∞) is never kept, and when fewer than num_beams candidates can run on,
 * fewer beams run (Hugging Face would pad the batch with beams scored near −1e9). The results differ
 * only where theirs would carry such a placeholder. Ties, which torch.topk leaves unspecified, go to
 * the lower beam index, then the lower token id; among equal scores a hypothesis finished earlier stays
 * ahead of a new one.
 *
 * All running beams decode as ONE forwardMany call per step, whatever max_batch_size is (that setting
 * spreads independent samples over batches; beams are one search), so a beam's logits, and every score,
 * never depend on it.
 */
export function beamSearch(model: Model, request: DecodeRequest, opts: GenerateOptions): Run {
  const { settings: s, promptIds } = request;
  const P = promptIds.length, V = model.config.vocabSize, B = s.num_beams;
  const tok = model.tokenizer;
  const chain = new SamplingChain(s, request.chainInputs);
  const keep = Math.max(2, 1 + request.eos.size) * B;
  // Total tokens a sequence may reach: max_tokens new ones, or one past a full context (the last token
  // chosen need not run), as a sample stops.
  const maxLength = Math.min(P + s.max_tokens, model.config.contextLength + 1);
  const stops = s.stop, longestStop = Math.max(0, ...stops.map((x) => x.length));
  const decode = (ids: number[]) => tok.decode(ids);
  const text = (id: number) => tok.tokenText(id);
  const trace: BeamTraceStep[] | undefined = s.trace > 0 ? [] : undefined;

  opts.onStart?.(promptIds);
  const { hooks, bind } = searchHooks(model, request, opts);
  const t0 = performance.now();
  let t1 = t0;
  const finished: Hypothesis[] = [];
  let failure: string | undefined;

  model.withScratch(() => {
    const caches = beamCaches(model, B, maxLength - 1);
    bind(1);
    let logits = model.forward(promptIds, caches[0]!, { hooks });
    t1 = performance.now();
    opts.onPrompt?.(P, t1 - t0);
    // What each cache holds: the tokens whose keys and values fill its first rows.
    const held: (readonly number[])[] = caches.map(() => []);
    held[0] = promptIds;
    let beams: Beam[] = [{ tokens: promptIds, generated: [], sum: 0, text: '', slot: 0, logprobs: [], stats: [] }];
    // Hugging Face's is_early_stop_heuristic_unsatisfied: finished hypotheses may still be improved on.
    let improvable = true;
    const logp = new Float32Array(V), work = vectorMath.alloc(V), exps = vectorMath.alloc(V);
    for (let length = P; ; length++) {
      // 1–2. The best `keep` continuations over all beams, best first.
      const candidates: Candidate[] = [];
      beams.forEach((beam, b) => {
        logSoftmax(logits.subarray(b * V, (b + 1) * V), logp, work, exps);
        let processed: Float32Array;
        try {
          processed = chain.processed(logp, { tokens: beam.tokens, promptLength: P, text: beam.text });
        } catch (e) {
          // Every token of this beam removed by a processor: the beam has no continuation.
          if (e instanceof UserError) return;
          throw e;
        }
        for (const token of topTokens(processed, keep)) candidates.push({ beam: b, token, logprob: processed[token]!, sum: beam.sum + processed[token]! });
      });
      candidates.sort((x, y) => y.sum - x.sum || x.beam - y.beam || x.token - y.token);
      candidates.length = Math.min(candidates.length, keep);
      if (candidates.length === 0) {
        failure = `every token of every beam was removed by the logit processors (${chain.samplers.map((x) => x.name).join(', ')}); nothing is left to search`;
        break;
      }

      // 3. Which candidates end here, and why.
      const atLimit = length + 1 >= maxLength;
      const ends = candidates.map((c): End | undefined => {
        const beam = beams[c.beam]!;
        if (request.eos.has(c.token)) return { reason: 'eos' };
        if (stops.length > 0) {
          c.text = appendText(decode, beam.generated, beam.text, c.token);
          const stop = firstStop(c.text, stops, Math.max(0, beam.text.length - longestStop));
          if (stop) return { reason: 'stop_sequence', stop: stop.string };
        }
        return atLimit ? { reason: limitReason(length) } : undefined;
      });
      const details = (c: Candidate) => {
        const row = logits.subarray(c.beam * V, (c.beam + 1) * V), beam = beams[c.beam]!;
        return {
          logprobs: s.top_logprobs > 0 ? [...beam.logprobs, stepLogprobs(row, c.token, s.top_logprobs, text)] : beam.logprobs,
          stats: opts.tokenStats ? [...beam.stats, tokenStats(row, c.token)] : beam.stats,
        };
      };

      // 4. The next running beams: the best candidates that can run on.
      const next: Beam[] = [];
      const kept: Candidate[] = [];
      candidates.forEach((c, i) => {
        if (ends[i] || next.length >= B) return;
        const beam = beams[c.beam]!;
        next.push({
          tokens: [...beam.tokens, c.token], generated: [...beam.generated, c.token], sum: c.sum, slot: -1,
          text: c.text ?? appendText(decode, beam.generated, beam.text, c.token), ...details(c),
        });
        kept.push(c);
      });

      // 3 (continued). Hypotheses among the first num_beams candidates join the finished set while
      // improvement is possible. (Hugging Face also bars them once the set is full with early_stopping
      // true, which matters only across a batch of prompts: for one prompt the search has stopped then.)
      const entered: Hypothesis[] = [];
      if (improvable) {
        const generatedLength = length + 1 - P;
        for (let i = 0; i < Math.min(B, candidates.length); i++) {
          const end = ends[i];
          if (!end) continue;
          const c = candidates[i]!, beam = beams[c.beam]!;
          entered.push({
            parent: c.beam, token: c.token, logprob: c.logprob, tokens: [...beam.generated, c.token], sum: c.sum,
            score: c.sum / generatedLength ** s.length_penalty, reason: end.reason, stop: end.stop, ...details(c),
          });
        }
        const merged = [...finished, ...entered].sort((x, y) => y.score - x.score);
        finished.splice(0, finished.length, ...merged.slice(0, B));
      }
      trace?.push({
        step: length - P,
        beams: kept.map((c) => entry(c.beam, c.token, c.logprob, c.sum, text)),
        finished: entered.filter((h) => finished.includes(h)).map((h) => ({ ...entry(h.parent, h.token, h.logprob, h.sum, text), score: h.score, finish_reason: h.reason })),
      });

      // 5. Whether the search goes on (after this step every running beam holds length + 1 tokens).
      if (improvable && next.length > 0) improvable = finished.length < B || bestPossible(next[0]!.sum, length + 1) > finished[B - 1]!.score;
      if (!improvable || (s.early_stopping === true && finished.length === B) || next.length === 0) break;

      placeBeams(next, kept.map((c) => beams[c.beam]!), caches, held, model.heap, length);
      bind(next.length);
      logits = model.forwardMany(next.map((b) => [b.tokens[b.tokens.length - 1]!]), next.map((b) => caches[b.slot]!), { hooks });
      next.forEach((b) => { held[b.slot] = b.tokens; });
      beams = next;
    }
  });

  /** Hugging Face's best_possible_running_score: the running score at the best length it may still have. */
  function bestPossible(sum: number, length: number): number {
    const best = s.early_stopping === 'never' && s.length_penalty > 0 ? maxLength - P : length - P;
    return sum / best ** s.length_penalty;
  }
  function limitReason(length: number): FinishReason {
    return length + 1 >= P + s.max_tokens ? 'max_tokens' : 'context_full';
  }

  const t2 = performance.now();
  const samples: Sample[] = finished.slice(0, s.num_return_sequences).map((h, index) => {
    const visible = h.reason === 'eos' ? h.tokens.slice(0, -1) : h.tokens;
    let t = visible.length ? decode(visible) : '';
    // The visible text stops before the stop string, as a sample's does.
    const cut = h.stop === undefined ? -1 : t.indexOf(h.stop);
    if (cut >= 0) t = t.slice(0, cut);
    const sample: Sample = { index, text: t, token_ids: h.tokens, finish_reason: h.reason };
    if (h.stop !== undefined) sample.stop_sequence = h.stop;
    sample.score = h.score;
    sample.sum_logprobs = h.sum;
    if (s.top_logprobs > 0) sample.logprobs = h.logprobs;
    if (opts.tokenStats) {
      sample.token_logprobs = h.stats.map((x) => x.logprob);
      sample.token_entropy_bits = h.stats.map((x) => x.entropy_bits);
      // Nothing is drawn: each token is chosen outright.
      sample.token_sampled_entropy_bits = h.stats.map(() => 0);
      sample.elapsed_ms = Math.round((t2 - t1) * 100) / 100;
    }
    return sample;
  });
  if (samples.length === 0) samples.push({ index: 0, text: '', token_ids: [], finish_reason: 'error', error: failure ?? 'beam search found no sequence' });
  for (const sample of samples) {
    if (sample.text) opts.onText?.(sample.text, sample.index);
    opts.onSample?.(sample);
  }
  const run = buildRun(model, request, chain.samplers.map((x) => x.name), samples, { t0, t1, t2, loadMs: opts.loadMs });
  if (trace) run.beam_trace = trace;
  return run;
}

/** A running beam. */
interface Beam {
  /** Prompt and generated tokens. */
  tokens: readonly number[];
  generated: readonly number[];
  /** Sum of the generated tokens' (processed) log-probabilities. */
  sum: number;
  /** The generated text (what banned strings and stop strings look at). */
  text: string;
  /** Which KV cache holds its rows. */
  slot: number;
  logprobs: StepLogprobs[];
  stats: TokenStats[];
}

/** A continuation: beam `beam` (its rank this step) extended by `token`. */
interface Candidate {
  beam: number;
  token: number;
  logprob: number;
  sum: number;
  /** Its text, when a stop-string check decoded it already. */
  text?: string;
}

interface End {
  reason: FinishReason;
  stop?: string;
}

/** A finished hypothesis. */
interface Hypothesis {
  parent: number;
  token: number;
  logprob: number;
  /** The generated tokens, the last (EOS or stop-completing) included. */
  tokens: number[];
  sum: number;
  score: number;
  reason: FinishReason;
  stop?: string;
  logprobs: StepLogprobs[];
  stats: TokenStats[];
}

function entry(parent: number, token: number, logprob: number, sum: number, text: (id: number) => string): BeamTraceEntry {
  return { parent, token_id: token, token: text(token), logprob, sum_logprobs: sum };
}

/** One KV cache per beam, each able to hold `positions` rows (the prompt and all but the last token). */
function beamCaches(model: Model, beams: number, positions: number): KvCache[] {
  try {
    return Array.from({ length: beams }, () => model.newCache(positions));
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`beam search keeps one KV cache per beam (${beams} of ${positions} positions): ${e.message}; or use fewer --num-beams`, e.field);
    throw e;
  }
}

/**
 * Gives each new beam a KV cache holding its parent's `length` rows, before the forward pass appends
 * its new token. The first child of a parent takes over the parent's cache as it is; every other child
 * gets a cache whose beam has no child this step, and only the rows where that cache's old tokens
 * differ from the parent's are copied (beams mostly share long prefixes, and equal tokens give equal
 * rows: a sequence's rows never depend on the batch it ran in). A cache is written only when its old
 * beam has no child, and copies only read caches whose beam has one, so no copy can clobber rows
 * another beam still needs — without a second set of caches.
 */
function placeBeams(next: Beam[], parents: Beam[], caches: KvCache[], held: (readonly number[])[], heap: Heap, length: number): void {
  const inherited = new Set<number>();
  next.forEach((b, i) => {
    const slot = parents[i]!.slot;
    if (!inherited.has(slot)) { b.slot = slot; inherited.add(slot); }
  });
  const free = caches.map((_, i) => i).filter((i) => !inherited.has(i));
  next.forEach((b, i) => {
    if (b.slot >= 0) return;
    const from = parents[i]!, slot = free.shift()!;
    const old = held[slot]!;
    let same = 0;
    while (same < length && same < old.length && old[same] === from.tokens[same]) same++;
    copyKvRows(caches[slot]!, caches[from.slot]!, heap, same, length);
    b.slot = slot;
  });
  for (const b of next) caches[b.slot]!.length = length;
}

/**
 * Copies rows [from, to) of every layer's keys and values from `src` into `dst` and makes `dst` hold
 * `to` positions; its rows before `from` must already equal src's. (KvCache.copyFrom copies from row 0;
 * a row p of a layer sits at p × rowFloats × valueBytes from the layer's start, see kv-cache.ts.)
 */
export function copyKvRows(dst: KvCache, src: KvCache, heap: Heap, from: number, to: number): void {
  if (dst.rowFloats !== src.rowFloats || dst.k.length !== src.k.length || dst.type !== src.type) throw new Error('copyKvRows() needs caches of the same model and type');
  if (from < 0 || to > src.length || to > dst.capacity || from > to) throw new Error(`copyKvRows(): rows ${from}..${to} of a cache holding ${src.length}, into one of ${dst.capacity}`);
  const row = src.rowFloats * src.valueBytes;
  const mem = new Uint8Array(heap.memory.buffer);
  for (let l = 0; l < src.k.length; l++) {
    mem.copyWithin(dst.k[l]! + from * row, src.k[l]! + from * row, src.k[l]! + to * row);
    mem.copyWithin(dst.v[l]! + from * row, src.v[l]! + from * row, src.v[l]! + to * row);
  }
  dst.length = to;
}

/**
 * log-softmax of f32 logits into `out` (f32, what the processors then see, as in Hugging Face): the max
 * and the sum of exponentials run in the SIMD kernels over `work` and `exps` (scratch in kernel memory,
 * one vocabulary long), log Z in f64.
 */
function logSoftmax(logits: Float32Array, out: Float32Array, work: Float32Array, exps: Float32Array): void {
  const n = logits.length;
  work.set(logits);
  const max = vectorMath.max(work, n);
  const lse = max + Math.log(vectorMath.expShift(work, n, max, exps));
  for (let i = 0; i < n; i++) out[i] = logits[i]! - lse;
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

/** Tokens of context decoded before a new one, so a decoder sees the same neighbourhood (as TextStream). */
const CONTEXT = 4;

/**
 * The text of `generated` + `token`, given the text of `generated`: decodes a few tokens of context
 * with the new one and appends what the new one adds, or decodes everything when the decoder rewrote
 * the context (an unfinished UTF-8 character completed).
 */
function appendText(decode: (ids: number[]) => string, generated: readonly number[], text: string, token: number): string {
  const ctx = generated.slice(-CONTEXT);
  const ctxText = ctx.length ? decode(ctx) : '';
  const both = decode([...ctx, token]);
  return both.startsWith(ctxText) ? text + both.slice(ctxText.length) : decode([...generated, token]);
}

/** The stop string that occurs first in `text` at or after `from`, and where. */
function firstStop(text: string, stops: readonly string[], from: number): { string: string; at: number } | undefined {
  let best: { string: string; at: number } | undefined;
  for (const st of stops) {
    const at = text.indexOf(st, from);
    if (at >= 0 && (!best || at < best.at)) best = { string: st, at };
  }
  return best;
}
