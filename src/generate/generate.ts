import { requireSearchBackend } from '../backends/capabilities.js';
import { UserError } from '../errors.js';
import type { Hooks } from '../model/hooks.js';
import { Model } from '../model/load.js';
import type { GenerationDefaults } from '../model/source.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { SamplingChain, type ChainInputs } from '../sampling/chain.js';
import { stepLogprobs, type StepLogprobs } from '../sampling/logprobs.js';
import { rngFor, type Rng } from '../sampling/rng.js';
import { tokenStats, type StepStats } from '../sampling/token-stats.js';
import type { StepTrace } from '../sampling/trace.js';
import { vocabTexts } from '../tokenizer/vocab-texts.js';
import { resolveLogitBias } from './bias.js';
import { composeHooks, hasInterventions, prepareInterventions } from '../interp/intervene.js';
import { FINISH_REASONS, modelInfo, type FinishReason, type ModelInfo, type Run, type Sample } from './report.js';
import { beamSearch } from './beam.js';
import { contrastiveSearch } from './contrastive.js';
import { Scheduler } from './scheduler.js';
import { resolveSettings, type Settings, type SettingSource, type SettingsInput } from './settings.js';
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

/** One sample's progress: its stream, its tokens so far and what it has recorded. */
export interface SampleState {
  index: number;
  rng: Rng;
  /** Prompt tokens, then this sample's generated tokens. */
  tokens: number[];
  stream: TextStream;
  logprobs: StepLogprobs[];
  trace: StepTrace[];
  stats: StepStats[];
  started: number;
  /** What the sampling chain's stages carry between this sample's steps (see SamplingContext.state). */
  samplerState: Record<string, number>;
}

/**
 * Generates `n` continuations of `prompt` and reports exactly what happened: the settings actually
 * used, the tokens, why each sample stopped, and how long each part took. The prompt runs once and
 * its KV cache is copied to every sample; samples decode together in batches of up to
 * `max_batch_size`, and a finished sample frees its slot for the next (see Scheduler). Sample i draws
 * from its own random stream (seed, i), and batching never changes a sequence's logits, so sample i is
 * bit-identical whatever n and max_batch_size are, and whatever else the scheduler is running.
 *
 * With `num_beams` > 1 it runs beam search (beam.ts) and with `penalty_alpha` > 0 contrastive search
 * (contrastive.ts) instead: deterministic decoders that return the same `Run`, their sequences as samples.
 */
export function generate(model: Model, promptInput: string | readonly number[], input: SettingsInput, opts: GenerateOptions = {}): Run {
  // Settings are resolved once (a missing seed is drawn here), whichever decoder then runs.
  const request = prepareRequest(model, promptInput, input);
  const { settings } = request;
  let run: Run;
  let indices: number[] | undefined;
  if (settings.num_beams > 1 || settings.penalty_alpha > 0) {
    checkDecoderOptions(request, opts);
    run = settings.num_beams > 1 ? beamSearch(model, request, opts) : contrastiveSearch(model, request, opts);
  } else {
    const job = new Generation(model, promptInput, input, opts, request);
    model.withScratch(() => {
      const scheduler = new Scheduler(model, { maxBatchSize: job.settings.max_batch_size });
      scheduler.submit(job);
      scheduler.runToEnd();
    });
    if (job.error !== undefined) throw job.error;
    run = job.report();
    indices = job.indices;
  }
  if (opts.compareClean && hasInterventions(settings)) {
    const clean = { ...input, seed: settings.seed, ablate: [], noise: [], patch_from: [] };
    run.clean = generate(model, promptInput, clean, { indices, tokenStats: opts.tokenStats, loadMs: opts.loadMs });
    run.clean.settings.sources.seed = run.settings.sources.seed;
  }
  return run;
}

/**
 * A request checked and resolved, before any model work: what every decoder (sampling, beams,
 * contrastive search) starts from. Bad prompts and settings fail here with one clear line.
 */
export interface DecodeRequest {
  readonly settings: Settings;
  readonly sources: Record<keyof Settings, SettingSource>;
  readonly promptIds: number[];
  /** The prompt as text: as given, or its token ids decoded. */
  readonly promptText: string;
  readonly eos: ReadonlySet<number>;
  /** logit_bias resolved to token ids. */
  readonly bias: Map<number, number>;
  /** What a SamplingChain needs besides the settings. */
  readonly chainInputs: ChainInputs;
}

/** Resolves the settings and checks the prompt (encoding a text as the model's tokenizer does). */
export function prepareRequest(model: Model | GenerationModel, promptInput: string | readonly number[], input: SettingsInput): DecodeRequest {
  const { settings, sources } = resolveSettings(input, model.generationDefaults);
  const c = model.config, tok = model.tokenizer;
  // A text is encoded as the model's tokenizer does; token ids are used exactly as given.
  const promptIds = typeof promptInput === 'string' ? tok.encode(promptInput) : [...promptInput];
  if (typeof promptInput !== 'string') {
    const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= c.vocabSize);
    if (bad !== undefined) throw new UserError(`--prompt: token id ${bad} is outside the vocabulary (0..${c.vocabSize - 1})`, 'prompt');
  }
  if (promptIds.length === 0) throw new UserError('--prompt is empty and this model adds no BOS token, so there is nothing to continue; give a prompt', 'prompt');
  if (promptIds.length > c.contextLength) {
    throw new UserError(`--prompt is ${promptIds.length} tokens, longer than the model's context of ${c.contextLength} tokens`, 'prompt');
  }
  const bias = resolveLogitBias(settings.logit_bias, tok, c.vocabSize);
  return {
    settings, sources, promptIds, bias,
    promptText: typeof promptInput === 'string' ? promptInput : tok.decode(promptIds),
    eos: new Set(tok.eosIds),
    chainInputs: { logitBias: bias, bannedStrings: settings.banned_strings, eosIds: tok.eosIds, vocabTexts: () => vocabTexts(tok, c.vocabSize) },
  };
}

/**
 * The options of generate() that mean nothing to a deterministic search, refused rather than ignored:
 * `indices` picks samples out of n independent ones, but beams come back together (best first) and
 * contrastive search has a single sequence.
 */
function checkDecoderOptions(request: DecodeRequest, opts: GenerateOptions): void {
  if (opts.indices === undefined) return;
  const s = request.settings, beams = s.num_beams > 1;
  const all = Array.from({ length: beams ? s.num_return_sequences : 1 }, (_, i) => i);
  if (opts.indices.length !== all.length || opts.indices.some((x, i) => x !== all[i])) {
    const what = beams ? `beam search returns its ${all.length} best sequence${all.length > 1 ? 's' : ''} together` : 'contrastive search returns one sequence';
    throw new UserError(`indices ${JSON.stringify(opts.indices)} cannot be run alone: ${what} (indices ${JSON.stringify(all)}), not independent samples`, 'indices');
  }
}

/**
 * Hooks for a search that runs every sequence as sample 0 (beams and contrastive search have no
 * per-sample streams): the settings' interventions, then the caller's, then `extra` (a decoder's own
 * read hook, which so sees what the model really computed). `bind(n)` before each forward call of n
 * sequences tells the interventions' hooks that each of them is sample 0.
 */
export function searchHooks(model: Model, request: DecodeRequest, opts: GenerateOptions, extra?: Hooks): { hooks: Hooks | undefined; bind(n: number): void } {
  const samples: number[] = [];
  const intervention = prepareInterventions(model, request.promptIds, request.settings, request.settings.seed);
  return {
    hooks: composeHooks(intervention?.hooks(samples), opts.hooks, extra),
    bind: (n) => { samples.length = 0; for (let i = 0; i < n; i++) samples.push(0); },
  };
}

/** The report of a finished run: the model, the settings used, the prompt, samples (by index), usage and timings. */
export function buildRun(model: Model | GenerationModel, request: DecodeRequest, stages: string[], samples: Sample[], t: { t0: number; t1: number; t2: number; loadMs?: number }): Run {
  const { settings, promptIds } = request;
  const text = (id: number) => model.tokenizer.tokenText(id);
  const sorted = [...samples].sort((a, b) => a.index - b.index);
  const completion = sorted.reduce((n, s) => n + s.token_ids.length, 0);
  const finishCounts = Object.fromEntries(FINISH_REASONS.map((r) => [r, sorted.filter((s) => s.finish_reason === r).length])) as Record<FinishReason, number>;
  const generateMs = Math.max(0, t.t2 - t.t1);
  return {
    model: model instanceof Model ? modelInfo(model) : model.describe?.() ?? modelInfo(model as Model),
    settings: { ...settings, sources: request.sources, stages, ...resolvedBias(settings, request.bias, text) },
    prompt: { text: request.promptText, token_ids: promptIds },
    samples: sorted,
    summary: { samples: sorted.length, distinct_texts: new Set(sorted.map((s) => s.text)).size, finish_reasons: finishCounts },
    usage: { prompt_tokens: promptIds.length, completion_tokens: completion, total_tokens: promptIds.length + completion },
    timings: {
      load_ms: round(t.loadMs ?? 0), prompt_ms: round(t.t1 - t.t0), generate_ms: round(generateMs),
      tokens_per_second: generateMs > 0 ? round((completion / generateMs) * 1000) : 0,
    },
  };
}

/**
 * What a generation needs of the model that runs it: its tokenizer, its context and vocabulary sizes,
 * its decoding defaults, and (for another engine than Wander's) a description for the report.
 * Wander's own `Model` is one; llama.cpp's (src/backends/llama-cpp.ts) is another.
 */
export interface GenerationModel {
  readonly tokenizer: Tokenizer;
  readonly config: { readonly contextLength: number; readonly vocabSize: number };
  readonly generationDefaults: GenerationDefaults;
  describe?(): ModelInfo;
}

/**
 * One generation request: its resolved settings, sampling chain and samples, advanced by a Scheduler
 * (which owns the batch, the caches and the forward calls). The constructor checks everything a
 * person could get wrong, so a bad request fails before any model work.
 */
export class Generation {
  readonly settings: Settings;
  readonly promptIds: number[];
  readonly promptText: string;
  /** KV positions a sample may need. */
  readonly capacity: number;
  /** The samples to run; `pending` holds those not started yet. */
  readonly indices: number[];
  readonly pending: number[];
  /** The sample whose hooks the prompt pass runs with; it continues the prompt's cache. */
  readonly promptSample: number;
  /** Hooks for every forward call of this generation (interventions, the caller's). */
  readonly hooks: Hooks | undefined;
  /** With interventions that differ between samples (noise on prompt positions): each sample runs its own prompt pass. */
  readonly perSample: boolean;
  readonly maxLive: number;
  /** Samples running now (kept by the scheduler). */
  live = 0;
  state: 'queued' | 'prompt' | 'running' | 'done' = 'queued';
  promptLogits: Float32Array | null = null;
  /** Why the whole generation failed: a callback threw, or memory ran out. */
  error: unknown;

  private readonly request: DecodeRequest;
  private readonly chain: SamplingChain;
  private readonly eos: ReadonlySet<number>;
  private readonly hookSamples: number[] = [];
  private readonly samples: Sample[] = [];
  private readonly intervention: ReturnType<typeof prepareInterventions>;
  private t0 = 0;
  private t1 = 0;
  private t2 = 0;

  /**
   * `request` is the checked request when the caller has prepared it already (generate() does, to pick
   * the decoder); otherwise the prompt and settings are checked here.
   */
  constructor(private readonly model: Model | GenerationModel, promptInput: string | readonly number[], input: SettingsInput, private readonly opts: GenerateOptions = {}, request?: DecodeRequest) {
    const req = request ?? prepareRequest(model, promptInput, input);
    ({ settings: this.settings, promptIds: this.promptIds, promptText: this.promptText, eos: this.eos } = req);
    this.request = req;
    const settings = this.settings, c = model.config;
    refuseSearch(model, settings);
    this.chain = new SamplingChain(settings, req.chainInputs);
    this.indices = opts.indices ?? Array.from({ length: settings.n }, (_, i) => i);
    this.pending = [...this.indices];
    this.promptSample = this.indices[0] ?? 0;
    this.capacity = Math.min(c.contextLength, this.promptIds.length + settings.max_tokens);
    this.maxLive = settings.max_batch_size;
    // Interventions become hooks; noise depends on the sample, so the hooks read which sample each
    // sequence of the current forward call is from `hookSamples`, set by bind() before every call.
    // Interventions need Wander's own forward pass (its hooks).
    this.intervention = model instanceof Model ? prepareInterventions(model, this.promptIds, settings, settings.seed) : undefined;
    this.perSample = this.intervention?.perSample ?? false;
    this.hooks = composeHooks(this.intervention?.hooks(this.hookSamples), opts.hooks);
    opts.onStart?.(this.promptIds);
    if (this.indices.length === 0) this.state = 'done';
  }

  get intervened(): boolean {
    return this.intervention !== undefined;
  }

  get finished(): boolean {
    return this.state === 'done';
  }

  get failed(): boolean {
    return this.error !== undefined;
  }

  /** The scheduler starts the prompt pass. */
  begin(): void {
    this.state = 'prompt';
    this.t0 = this.t1 = performance.now();
  }

  /** The next forward call's sequence s is sample samples[s] (for the interventions' hooks). */
  bind(samples: readonly number[]): void {
    if (this.intervention) this.hookSamples.splice(0, this.hookSamples.length, ...samples);
  }

  /** The prompt has run: its last logits start every sample. */
  promptDone(logits: Float32Array): void {
    this.promptLogits = logits;
    this.state = 'running';
    this.t1 = performance.now();
    callback(() => this.opts.onPrompt?.(this.promptIds.length, this.t1 - this.t0));
  }

  /** The prompt pass failed: every sample ends with its error, having generated nothing. */
  promptFailed(message: string): void {
    this.t1 = performance.now();
    for (const index of this.pending.splice(0)) this.record({ index, text: '', token_ids: [], finish_reason: 'error', error: message });
  }

  startSample(index: number): SampleState {
    this.live++;
    const tok = this.model.tokenizer;
    return {
      index, rng: rngFor(this.settings.seed, index), tokens: [...this.promptIds],
      // EOS ends a sample before it reaches the stream, so the stream decodes visible tokens only.
      stream: new TextStream((x) => tok.decode(x), this.settings.stop), logprobs: [], trace: [], stats: [], started: performance.now(), samplerState: {},
    };
  }

  /**
   * Chooses a sample's next token from its logits. Returns the token to run next, or undefined when the
   * sample has ended (EOS, a stop string, max_tokens, the context, or an error in sampling).
   */
  choose(a: SampleState, logits: Float32Array, cacheLength: number): number | undefined {
    const { settings, opts } = this;
    const text = (id: number) => this.model.tokenizer.tokenText(id);
    try {
      const ctx = { tokens: a.tokens, promptLength: this.promptIds.length, text: a.stream.text, state: a.samplerState };
      let next: number;
      let sampledEntropy = 0;
      if (settings.trace > 0) {
        const r = this.chain.sampleWithTrace(logits, a.rng, ctx, settings.trace, text);
        next = r.token;
        sampledEntropy = r.trace.final_entropy_bits;
        a.trace.push(r.trace);
      } else if (opts.tokenStats) {
        ({ token: next, entropy_bits: sampledEntropy } = this.chain.sampleWithEntropy(logits, a.rng, ctx));
      } else {
        next = this.chain.sample(logits, a.rng, ctx);
      }
      if (settings.top_logprobs > 0) a.logprobs.push(stepLogprobs(logits, next, settings.top_logprobs, text));
      if (opts.tokenStats) a.stats.push({ ...tokenStats(logits, next), sampled_entropy_bits: sampledEntropy });
      a.tokens.push(next);
      if (this.eos.has(next)) return this.finishSample(a, 'eos');
      const delta = a.stream.push(next);
      if (delta) callback(() => opts.onText?.(delta, a.index));
      if (a.stream.stopped !== undefined) return this.finishSample(a, 'stop_sequence');
      if (a.tokens.length - this.promptIds.length >= settings.max_tokens) return this.finishSample(a, 'max_tokens');
      if (cacheLength >= this.model.config.contextLength) return this.finishSample(a, 'context_full');
      return next;
    } catch (e) {
      if (e instanceof CallbackFailure) throw e;
      return this.finishSample(a, 'error', (e as Error).message);
    }
  }

  /** Ends a sample: flushes its text and records it. */
  finishSample(a: SampleState, reason: FinishReason, error?: string): undefined {
    const tail = a.stream.flush();
    if (tail) callback(() => this.opts.onText?.(tail, a.index));
    const s: Sample = { index: a.index, text: a.stream.text, token_ids: a.tokens.slice(this.promptIds.length), finish_reason: reason };
    if (a.stream.stopped !== undefined) s.stop_sequence = a.stream.stopped;
    if (error !== undefined) s.error = error;
    if (this.settings.top_logprobs > 0) s.logprobs = a.logprobs;
    if (this.settings.trace > 0) s.trace = a.trace;
    if (this.opts.tokenStats) {
      s.token_logprobs = a.stats.map((t) => t.logprob);
      s.token_entropy_bits = a.stats.map((t) => t.entropy_bits);
      s.token_sampled_entropy_bits = a.stats.map((t) => t.sampled_entropy_bits);
      s.elapsed_ms = round(performance.now() - a.started);
    }
    this.record(s);
    return undefined;
  }

  private record(s: Sample): void {
    this.samples.push(s);
    if (this.samples.length === this.indices.length) {
      this.state = 'done';
      this.t2 = performance.now();
    }
    callback(() => this.opts.onSample?.(s));
  }

  /** The whole generation failed (a callback threw, memory ran out): it stops, and `error` says why. */
  fail(e: unknown): void {
    this.error = e instanceof CallbackFailure ? e.error : e;
    this.state = 'done';
  }

  /** The report of a finished generation. */
  report(): Run {
    return buildRun(this.model, this.request, this.chain.samplers.map((s) => s.name), this.samples, { t0: this.t0, t1: this.t1, t2: this.t2, loadMs: this.opts.loadMs });
  }
}

/**
 * Beam and contrastive search are searches over whole sequences, not samples a scheduler can decode
 * one token at a time beside others: only generate() on Wander's own engine runs them. Anything else
 * that builds a Generation (llama.cpp, wander serve, sweeps) says so instead of quietly sampling.
 */
function refuseSearch(model: Model | GenerationModel, s: Settings): void {
  const field = s.num_beams > 1 ? 'num_beams' : s.penalty_alpha > 0 ? 'penalty_alpha' : undefined;
  if (!field) return;
  const what = field === 'num_beams' ? 'beam search' : 'contrastive search';
  // The only other engine that builds Generations is llama.cpp's (src/backends/llama-cpp.ts).
  if (!(model instanceof Model)) requireSearchBackend(s, 'llama.cpp');
  throw new UserError(`${field} (${what}) runs through generate() (wander generate), not through the shared scheduler that decodes samples for servers and sweeps`, field);
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
