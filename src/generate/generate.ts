import { UserError } from '../errors.js';
import type { Hooks } from '../model/hooks.js';
import type { KvCache } from '../model/kv-cache.js';
import type { Model } from '../model/load.js';
import { SamplingChain } from '../sampling/chain.js';
import { stepLogprobs, type StepLogprobs } from '../sampling/logprobs.js';
import { rngFor, type Rng } from '../sampling/rng.js';
import { tokenStats, type StepStats } from '../sampling/token-stats.js';
import type { StepTrace } from '../sampling/trace.js';
import { vocabTexts } from '../tokenizer/vocab-texts.js';
import { resolveLogitBias } from './bias.js';
import { composeHooks, prepareInterventions } from '../interp/intervene.js';
import { FINISH_REASONS, modelInfo, type FinishReason, type Run, type Sample } from './report.js';
import { resolveSettings, type Settings, type SettingsInput } from './settings.js';
import { TextStream } from './text-stream.js';

export interface GenerateOptions {
  /** Called once the prompt is accepted, before any model work (e.g. to echo the prompt). */
  onStart?: (promptIds: number[]) => void;
  /** Called with each newly visible piece of a sample's text as it is generated. */
  onText?: (delta: string, sampleIndex: number) => void;
  /** Called once the prompt has run, with its token count and how long it took. */
  onPrompt?: (promptTokens: number, ms: number) => void;
  /** Called when a sample ends. */
  onSample?: (sample: Sample) => void;
  /** Milliseconds spent loading the model, for the report. */
  loadMs?: number;
  /** Hooks run in every forward pass of the generation (interventions such as ablation or noise). */
  hooks?: Hooks;
  /**
   * Which samples to run (default 0 … n − 1). Sample i always draws from stream (seed, i), so a
   * resumed sweep can run just the missing indices and get what an uninterrupted run would have.
   */
  indices?: number[];
  /** Record each token's logprob, the entropy of the model's and of the sampled distribution, and each sample's wall time. */
  tokenStats?: boolean;
  /**
   * With interventions in the settings (ablate, noise, patch_from): also generate the same samples
   * (same seed) without them, reported under `clean`, to show what the intervention changed.
   */
  compareClean?: boolean;
}

/** One sample being decoded in a batch slot. */
interface Active {
  index: number;
  cache: KvCache;
  rng: Rng;
  /** Prompt tokens, then this sample's generated tokens. */
  tokens: number[];
  stream: TextStream;
  logits: Float32Array;
  logprobs: StepLogprobs[];
  trace: StepTrace[];
  stats: StepStats[];
  started: number;
}

/**
 * Generates `n` continuations of `prompt` and reports exactly what happened: the settings actually
 * used, the tokens, why each sample stopped, and how long each part took. The prompt runs once and
 * its KV cache is copied to every sample; samples decode together in batches of up to
 * `max_batch_size`, and a finished sample frees its slot for the next. Sample i draws from its own
 * random stream (seed, i), and batching never changes a sequence's logits, so sample i is
 * bit-identical whatever n and max_batch_size are.
 */
export function generate(model: Model, promptInput: string | readonly number[], input: SettingsInput, opts: GenerateOptions = {}): Run {
  const { settings, sources } = resolveSettings(input, model.generationDefaults);
  const c = model.config;
  const tok = model.tokenizer;
  // A text is encoded as the model's tokenizer does; token ids are used exactly as given.
  const promptIds = typeof promptInput === 'string' ? tok.encode(promptInput) : [...promptInput];
  const prompt = typeof promptInput === 'string' ? promptInput : tok.decode(promptIds);
  if (typeof promptInput !== 'string') {
    const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= c.vocabSize);
    if (bad !== undefined) throw new UserError(`--prompt: token id ${bad} is outside the vocabulary (0..${c.vocabSize - 1})`, 'prompt');
  }
  if (promptIds.length === 0) throw new UserError('--prompt is empty and this model adds no BOS token, so there is nothing to continue; give a prompt', 'prompt');
  if (promptIds.length > c.contextLength) {
    throw new UserError(`--prompt is ${promptIds.length} tokens, longer than the model's context of ${c.contextLength} tokens`, 'prompt');
  }
  const eos = new Set(tok.eosIds);
  const bias = resolveLogitBias(settings.logit_bias, tok, c.vocabSize);
  const chain = new SamplingChain(settings, {
    logitBias: bias, bannedStrings: settings.banned_strings, eosIds: tok.eosIds, vocabTexts: () => vocabTexts(tok, c.vocabSize),
  });
  const indices = opts.indices ?? Array.from({ length: settings.n }, (_, i) => i);
  // Interventions become hooks; noise depends on the sample, so the hooks read which sample each
  // sequence of the current forward call is from `hookSamples`, set before every call.
  const intervention = prepareInterventions(model, promptIds, settings, settings.seed);
  const hookSamples: number[] = [];
  const forwardOpts = { hooks: composeHooks(intervention?.hooks(hookSamples), opts.hooks) };
  const forSamples = <T>(ids: readonly number[], f: () => T): T => {
    if (intervention) hookSamples.splice(0, hookSamples.length, ...ids);
    return f();
  };
  opts.onStart?.(promptIds);

  const samples: Sample[] = [];
  const text = (id: number) => tok.tokenText(id);
  const t0 = performance.now();
  let t1 = t0;

  try {
    model.withScratch(() => decode());
  } catch (e) {
    throw e instanceof CallbackFailure ? e.error : e;
  }
  /**
   * The prompt once (or once per sample, when an intervention makes it differ between samples), then
   * every sample, decoded in batches; runs inside the model's scratch arena.
   */
  function decode(): void {
    const shared = !intervention?.perSample;
    const prefix = model.newCache(promptIds.length);
    let promptLogits: Float32Array = new Float32Array(0);
    try {
      promptLogits = forSamples([indices[0] ?? 0], () => model.forward(promptIds, prefix, forwardOpts));
    } catch (e) {
      if (e instanceof UserError) throw e;
      for (const i of indices) samples.push({ index: i, text: '', token_ids: [], finish_reason: 'error', error: (e as Error).message });
      return;
    }
    t1 = performance.now();
    callback(() => opts.onPrompt?.(promptIds.length, t1 - t0));
    const capacity = Math.min(c.contextLength, promptIds.length + settings.max_tokens);
    const slots: (Active | undefined)[] = Array.from({ length: Math.min(settings.max_batch_size, indices.length) });
    const caches = slots.map(() => model.newCache(capacity));
    let queued = 0; // how many of `indices` have been given a slot

    const finish = (a: Active, slot: number, reason: FinishReason, error?: string) => {
      const tail = a.stream.flush();
      if (tail) callback(() => opts.onText?.(tail, a.index));
      const s: Sample = { index: a.index, text: a.stream.text, token_ids: a.tokens.slice(promptIds.length), finish_reason: reason };
      if (a.stream.stopped !== undefined) s.stop_sequence = a.stream.stopped;
      if (error !== undefined) s.error = error;
      if (settings.top_logprobs > 0) s.logprobs = a.logprobs;
      if (settings.trace > 0) s.trace = a.trace;
      if (opts.tokenStats) {
        s.token_logprobs = a.stats.map((t) => t.logprob);
        s.token_entropy_bits = a.stats.map((t) => t.entropy_bits);
        s.token_sampled_entropy_bits = a.stats.map((t) => t.sampled_entropy_bits);
        s.elapsed_ms = round(performance.now() - a.started);
      }
      samples.push(s);
      callback(() => opts.onSample?.(s));
      slots[slot] = undefined;
    };

    for (;;) {
      // Fill free slots with the next samples; each starts from the shared prompt, or, where the
      // interventions make each sample's prompt its own, from its own prompt pass (run together).
      const own: number[] = [];
      for (let s = 0; s < slots.length && queued < indices.length; s++) {
        if (slots[s]) continue;
        const cache = caches[s]!;
        const index = indices[queued++]!;
        if (shared || index === indices[0]) cache.copyFrom(prefix, model.heap);
        else {
          cache.length = 0;
          own.push(s);
        }
        slots[s] = {
          index, cache, rng: rngFor(settings.seed, index), tokens: [...promptIds], logits: promptLogits,
          // EOS ends a sample before it reaches the stream, so the stream decodes visible tokens only.
          stream: new TextStream((x) => tok.decode(x), settings.stop), logprobs: [], trace: [], stats: [], started: performance.now(),
        };
      }
      if (own.length > 0) {
        const fresh = own.map((s) => slots[s]!);
        try {
          const logits = forSamples(fresh.map((a) => a.index), () => model.forwardMany(fresh.map(() => promptIds), fresh.map((a) => a.cache), forwardOpts));
          fresh.forEach((a, b) => { a.logits = logits.subarray(b * c.vocabSize, (b + 1) * c.vocabSize); });
        } catch (e) {
          if (e instanceof CallbackFailure) throw e;
          for (const s of own) finish(slots[s]!, s, 'error', (e as Error).message);
        }
      }
      const live = slots.flatMap((a, s) => (a ? [s] : []));
      if (live.length === 0) break;

      // Choose every live sample's next token; those that go on are run together.
      const going: number[] = [];
      for (const s of live) {
        const a = slots[s]!;
        try {
          const ctx = { tokens: a.tokens, promptLength: promptIds.length, text: a.stream.text };
          let next: number;
          let sampledEntropy = 0;
          if (settings.trace > 0) {
            const r = chain.sampleWithTrace(a.logits, a.rng, ctx, settings.trace, text);
            next = r.token;
            sampledEntropy = r.trace.final_entropy_bits;
            a.trace.push(r.trace);
          } else if (opts.tokenStats) {
            ({ token: next, entropy_bits: sampledEntropy } = chain.sampleWithEntropy(a.logits, a.rng, ctx));
          } else {
            next = chain.sample(a.logits, a.rng, ctx);
          }
          if (settings.top_logprobs > 0) a.logprobs.push(stepLogprobs(a.logits, next, settings.top_logprobs, text));
          if (opts.tokenStats) a.stats.push({ ...tokenStats(a.logits, next), sampled_entropy_bits: sampledEntropy });
          a.tokens.push(next);
          if (eos.has(next)) { finish(a, s, 'eos'); continue; }
          const delta = a.stream.push(next);
          if (delta) callback(() => opts.onText?.(delta, a.index));
          if (a.stream.stopped !== undefined) finish(a, s, 'stop_sequence');
          else if (a.tokens.length - promptIds.length >= settings.max_tokens) finish(a, s, 'max_tokens');
          else if (a.cache.length >= c.contextLength) finish(a, s, 'context_full');
          else going.push(s);
        } catch (e) {
          if (e instanceof CallbackFailure) throw e;
          finish(a, s, 'error', (e as Error).message);
        }
      }
      if (going.length === 0) continue;
      try {
        const actives = going.map((s) => slots[s]!);
        const tokens = actives.map((a) => a.tokens[a.tokens.length - 1]!);
        const logits = forSamples(intervention ? actives.map((a) => a.index) : [], () => actives.length === 1
          ? model.forward(tokens, actives[0]!.cache, forwardOpts)
          : model.forwardBatch(tokens, actives.map((a) => a.cache), forwardOpts));
        actives.forEach((a, b) => { a.logits = logits.subarray(b * c.vocabSize, (b + 1) * c.vocabSize); });
      } catch (e) {
        if (e instanceof CallbackFailure) throw e;
        for (const s of going) finish(slots[s]!, s, 'error', (e as Error).message);
      }
    }
  }
  const t2 = performance.now();
  samples.sort((a, b) => a.index - b.index);

  const completion = samples.reduce((n, s) => n + s.token_ids.length, 0);
  const finishCounts = Object.fromEntries(FINISH_REASONS.map((r) => [r, samples.filter((s) => s.finish_reason === r).length])) as Record<FinishReason, number>;
  const generateMs = t2 - t1;
  const run: Run = {
    model: modelInfo(model),
    settings: { ...settings, sources, stages: chain.samplers.map((s) => s.name), ...resolvedBias(settings, bias, text) },
    prompt: { text: prompt, token_ids: promptIds },
    samples,
    summary: { samples: samples.length, distinct_texts: new Set(samples.map((s) => s.text)).size, finish_reasons: finishCounts },
    usage: { prompt_tokens: promptIds.length, completion_tokens: completion, total_tokens: promptIds.length + completion },
    timings: {
      load_ms: round(opts.loadMs ?? 0), prompt_ms: round(t1 - t0), generate_ms: round(generateMs),
      tokens_per_second: generateMs > 0 ? round((completion / generateMs) * 1000) : 0,
    },
  };
  if (opts.compareClean && intervention) {
    const clean = { ...input, seed: settings.seed, ablate: [], noise: [], patch_from: [] };
    run.clean = generate(model, promptInput, clean, { indices, tokenStats: opts.tokenStats, loadMs: opts.loadMs });
    run.clean.settings.sources.seed = sources.seed;
  }
  return run;
}

/**
 * An exception thrown by the caller's callback (say, a full disk while storing a sample): it ends the
 * whole generation, rather than being recorded as that sample's error.
 */
class CallbackFailure {
  constructor(readonly error: unknown) {}
}

function callback(f: () => void): void {
  try {
    f();
  } catch (e) {
    throw new CallbackFailure(e);
  }
}

function resolvedBias(settings: Settings, bias: Map<number, number>, text: (id: number) => string): { resolved_bias?: NonNullable<Run['settings']['resolved_bias']> } {
  if (settings.logit_bias.length === 0) return {};
  return { resolved_bias: [...bias].sort((a, b) => a[0] - b[0]).map(([id, b]) => ({ token_id: id, token: text(id), bias: b === -Infinity ? '-inf' as const : b })) };
}

const round = (x: number) => Math.round(x * 100) / 100;
