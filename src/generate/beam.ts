import { UserError } from '../errors.js';
import type { Heap } from '../kernels/heap.js';
import type { KvCache } from '../model/kv-cache.js';
import type { Model } from '../model/load.js';
import { SamplingChain } from '../sampling/chain.js';
import { stepLogprobs } from '../sampling/logprobs.js';
import { rngFor } from '../sampling/rng.js';
import { tokenStats } from '../sampling/token-stats.js';
import { vectorMath } from '../sampling/vector-math.js';
import { GroupRule } from './beam-groups.js';
import type { Beam, BeamRule, Candidate, End, Hypothesis, StepContext } from './beam-step.js';
import { TopRule } from './beam-top.js';
import { buildRun, searchHooks, type DecodeRequest, type GenerateOptions } from './generate.js';
import type { BeamTraceEntry, BeamTraceStep, Run, Sample } from './report.js';

export { topTokens } from './beam-step.js';

/**
 * Beam search with Hugging Face generate()'s semantics, in its three forms:
 *
 * - beam search (num_beams > 1): `_beam_search` as rewritten for transformers 4.50 (PR #35802,
 *   vectorised, no BeamSearchScorer), read in a 4.56-era snapshot; see TopRule (beam-top.ts);
 * - beam sampling (do_sample): the same `_beam_search` with do_sample: each beam's scores also pass
 *   Hugging Face's warpers (temperature, top_k, top_p, min_p, typical_p, ε, η, top_h: the chain's
 *   stages of those names, in the chain's order, `hf` by default), and the candidates are drawn
 *   without replacement from the softmax of the beams' sums over all beams at once — with the seeded
 *   generator rngFor(seed, 0), one uniform per draw (drawDistinct, beam-draw.ts), so a seed repeats;
 * - diverse beam search (num_beam_groups > 1, diversity_penalty > 0): `_group_beam_search` with its
 *   BeamSearchScorer (transformers 4.55, now the hub's transformers-community/group-beam-search); see
 *   GroupRule (beam-groups.ts).
 *
 * One step: each running beam's logits become log-probabilities (log-softmax, f32 as Hugging Face),
 * the sampling chain runs on those log-probabilities — the logit processors (repetition penalty,
 * no-repeat-ngram, bias, bans, min_new_tokens), and with do_sample the warpers after them, whose
 * truncations then keep at least 1 + (number of EOS ids) tokens per beam, as Hugging Face sets
 * min_tokens_to_keep for beams (or min_tokens_to_keep, when larger) — and the rule chooses the next
 * beams. A beam's sum, and every score, adds up those processed values: with do_sample the warped
 * log-probabilities (divided by the temperature), with groups minus the diversity penalty, as
 * Hugging Face sums them.
 *
 * Where this differs from transformers, only where its tensors need placeholders: Hugging Face starts
 * with num_beams copies of the prompt scored 0, −1e9, −1e9 … and marks finished or removed entries by
 * adding −1e9; here the search starts from the prompt alone and keeps explicit lists, so a candidate
 * the processors removed (−∞) is never kept (nor drawn), and when fewer than num_beams candidates can
 * run on, fewer beams run (Hugging Face would pad the batch with beams scored near −1e9, or, drawing
 * more candidates than have any probability, raise an error). The results differ only where theirs
 * would carry such a placeholder. Ties, which torch.topk leaves unspecified, go to the lower beam
 * index, then the lower token id (drawn candidates: the earlier draw); among equal scores a hypothesis
 * finished earlier stays ahead of a new one.
 *
 * All running beams decode as ONE forwardMany call per step, whatever max_batch_size is (that setting
 * spreads independent samples over batches; beams are one search), so a beam's logits, every score
 * and every draw never depend on it.
 */
export function beamSearch(model: Model, request: DecodeRequest, opts: GenerateOptions): Run {
  const { settings: s, promptIds } = request;
  const P = promptIds.length, V = model.config.vocabSize, B = s.num_beams, G = s.num_beam_groups;
  const tok = model.tokenizer;
  // Hugging Face's warpers keep at least len(eos) + 1 tokens in beam methods (2 without an EOS id),
  // so that every beam keeps a continuation that does not end.
  const chain = new SamplingChain(s.do_sample ? { ...s, min_tokens_to_keep: Math.max(s.min_tokens_to_keep, 1 + request.eos.size, 2) } : s, request.chainInputs);
  // Total tokens a sequence may reach: max_tokens new ones, or one past a full context (the last token
  // chosen need not run), as a sample stops.
  const maxLength = Math.min(P + s.max_tokens, model.config.contextLength + 1);
  const shared = { beams: B, lengthPenalty: s.length_penalty, earlyStopping: s.early_stopping, maxGenerated: maxLength - P };
  const rule: BeamRule = G > 1
    ? new GroupRule({ ...shared, groups: G, penalty: s.diversity_penalty, eosCount: request.eos.size })
    : new TopRule({ ...shared, keep: Math.max(2, 1 + request.eos.size) * B, vocab: V, rng: s.do_sample ? rngFor(s.seed, 0) : undefined, entropy: opts.tokenStats });
  const stops = s.stop, longestStop = Math.max(0, ...stops.map((x) => x.length));
  const decode = (ids: number[]) => tok.decode(ids);
  const text = (id: number) => tok.tokenText(id);
  const trace: BeamTraceStep[] | undefined = s.trace > 0 ? [] : undefined;
  const entry = (parent: number, token: number, logprob: number, sum: number, group: number): BeamTraceEntry =>
    ({ parent, token_id: token, token: text(token), logprob, sum_logprobs: sum, ...(G > 1 && { group }) });

  opts.onStart?.(promptIds);
  const { hooks, bind } = searchHooks(model, request, opts);
  const t0 = performance.now();
  let t1 = t0;
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
    let beams: Beam[] = [{ tokens: promptIds, generated: [], sum: 0, text: '', slot: 0, group: -1, logprobs: [], stats: [] }];
    const logp = new Float32Array(V), work = vectorMath.alloc(V), exps = vectorMath.alloc(V);
    for (let length = P; ; length++) {
      const current = beams, row = (b: number) => logits.subarray(b * V, (b + 1) * V);
      const generated = length + 1 - P;
      const details = (c: Candidate) => {
        const r = row(c.beam), beam = current[c.beam]!;
        return {
          logprobs: s.top_logprobs > 0 ? [...beam.logprobs, stepLogprobs(r, c.token, s.top_logprobs, text)] : beam.logprobs,
          stats: opts.tokenStats ? [...beam.stats, { ...tokenStats(r, c.token), sampled_entropy_bits: c.drawnEntropy }] : beam.stats,
        };
      };
      const ctx: StepContext = {
        beams: current, generated,
        limit: length + 1 >= maxLength ? { reason: length + 1 >= P + s.max_tokens ? 'max_tokens' : 'context_full' } : undefined,
        scores: (b, first) => {
          const beam = current[b]!;
          logSoftmax(row(b), logp, work, exps);
          first?.(logp);
          // With no stage on, the log-probabilities are the scores: no copy through the chain.
          if (chain.samplers.length === 0) return logp;
          try {
            return chain.processed(logp, { tokens: beam.tokens, promptLength: P, text: beam.text });
          } catch (e) {
            // Every token of this beam removed by a stage: the beam has no continuation.
            if (e instanceof UserError) return undefined;
            throw e;
          }
        },
        ends: (c): End | undefined => {
          const beam = current[c.beam]!;
          if (request.eos.has(c.token)) return { reason: 'eos' };
          if (stops.length === 0) return undefined;
          c.text = appendText(decode, beam.generated, beam.text, c.token);
          const stop = firstStop(c.text, stops, Math.max(0, beam.text.length - longestStop));
          return stop ? { reason: 'stop_sequence', stop: stop.string } : undefined;
        },
        extend: (c): Beam => {
          const beam = current[c.beam]!;
          return {
            tokens: [...beam.tokens, c.token], generated: [...beam.generated, c.token], sum: c.sum, slot: -1, group: c.group,
            text: c.text ?? appendText(decode, beam.generated, beam.text, c.token), ...details(c),
          };
        },
        finish: (c, end): Hypothesis => ({
          parent: c.beam, token: c.token, logprob: c.logprob, group: c.group, tokens: [...current[c.beam]!.generated, c.token], sum: c.sum,
          score: c.sum / generated ** s.length_penalty, reason: end.reason, stop: end.stop, ...details(c),
        }),
      };
      const step = rule.step(ctx);
      if (step.empty) {
        failure = `every token of every beam was removed by the sampling chain (${chain.samplers.map((x) => x.name).join(', ')}); nothing is left to search`;
        break;
      }
      trace?.push({
        step: length - P,
        beams: step.kept.map((c) => entry(c.beam, c.token, c.logprob, c.sum, c.group)),
        finished: step.entered.map((h) => ({ ...entry(h.parent, h.token, h.logprob, h.sum, h.group), score: h.score, finish_reason: h.reason })),
      });
      if (step.done) break;

      placeBeams(step.next, step.kept.map((c) => current[c.beam]!), caches, held, model.heap, length);
      bind(step.next.length);
      logits = model.forwardMany(step.next.map((b) => [b.tokens[b.tokens.length - 1]!]), step.next.map((b) => caches[b.slot]!), { hooks });
      step.next.forEach((b) => { held[b.slot] = b.tokens; });
      beams = step.next;
    }
  });

  const t2 = performance.now();
  const samples: Sample[] = rule.best().slice(0, s.num_return_sequences).map((h, index) => {
    const visible = h.reason === 'eos' ? h.tokens.slice(0, -1) : h.tokens;
    let t = visible.length ? decode(visible) : '';
    // The visible text stops before the stop string, as a sample's does.
    const cut = h.stop === undefined ? -1 : t.indexOf(h.stop);
    if (cut >= 0) t = t.slice(0, cut);
    const sample: Sample = { index, text: t, token_ids: h.tokens, finish_reason: h.reason };
    if (h.stop !== undefined) sample.stop_sequence = h.stop;
    sample.score = h.score;
    sample.sum_logprobs = h.sum;
    if (G > 1) sample.group = h.group;
    if (s.top_logprobs > 0) sample.logprobs = h.logprobs;
    if (opts.tokenStats) {
      sample.token_logprobs = h.stats.map((x) => x.logprob);
      sample.token_entropy_bits = h.stats.map((x) => x.entropy_bits);
      // Beam search chooses each token outright (0); beam sampling draws it from its beam's warped distribution.
      sample.token_sampled_entropy_bits = h.stats.map((x) => x.sampled_entropy_bits);
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
export function logSoftmax(logits: Float32Array, out: Float32Array, work: Float32Array, exps: Float32Array): void {
  const n = logits.length;
  work.set(logits);
  const max = vectorMath.max(work, n);
  const lse = max + Math.log(vectorMath.expShift(work, n, max, exps));
  for (let i = 0; i < n; i++) out[i] = logits[i]! - lse;
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
