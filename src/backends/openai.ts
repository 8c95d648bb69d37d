import { UserError } from '../errors.js';
import type { ChatMessage, ChatPrompt } from '../generate/chat.js';
import type { FinishReason, ModelInfo, Run, Sample } from '../generate/report.js';
import { DEFAULTS, parseSettings, resolveSettings, type Settings, type SettingsInput } from '../generate/settings.js';
import { Rng } from '../sampling/rng.js';
import type { StepLogprobs } from '../sampling/logprobs.js';
import { requireCapability, requireSearchBackend, type BackendInfo } from './capabilities.js';
import { ignoredSettings, type IgnoredSetting } from './ignored.js';
import { normaliseChoice, topLogprobsTail, type Endpoint as ApiEndpoint, type NormalisedChoice } from './openai-shapes.js';

/**
 * The sampling backend for any OpenAI-compatible server (vLLM, llama.cpp's llama-server, Ollama, MAX,
 * SGLang, `wander serve`): `--model openai:http://HOST:PORT/v1#MODEL-ID`. The server samples; Wander
 * sends every setting explicitly (so the server's own defaults never apply silently), one request per
 * sample with a seed derived from (seed, i) — so sample i never depends on n or on the server's `n`
 * support — and records what came back, logprobs normalised to Wander's shape. A setting only Wander's
 * own chain can apply is an error naming it, not a silent approximation.
 *
 * One backend may spread its requests over several endpoints serving the same model (a cluster):
 * each has `concurrency` slots, a request takes the least busy free one (FIFO when all are busy), and
 * a request retried after a failure goes to another endpoint when one is free.
 */

export interface OpenAISpec { baseURL: string; model?: string }

/** "openai:http://127.0.0.1:8000/v1#MODEL-ID" (the model id is optional when the server has one model). */
export function parseOpenAISpec(spec: string): OpenAISpec {
  const rest = spec.slice('openai:'.length);
  const hash = rest.indexOf('#');
  const url = hash >= 0 ? rest.slice(0, hash) : rest;
  const model = hash >= 0 ? rest.slice(hash + 1) : undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`--model ${spec}: not a URL after openai: (expected openai:http://HOST:PORT/v1[#MODEL-ID])`, 'model');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UserError(`--model ${spec}: the server's URL must be http:// or https://`, 'model');
  if (model === '') throw new UserError(`--model ${spec}: nothing after # (give the model id, or leave out the #)`, 'model');
  return { baseURL: url.replace(/\/+$/, ''), ...(model !== undefined ? { model } : {}) };
}

/** The settings the server's sampler is sent (every one, explicitly), with their request field names. */
const SENT: (keyof Settings)[] = [
  'temperature', 'top_k', 'top_p', 'min_p', 'typical_p', 'repetition_penalty', 'frequency_penalty', 'presence_penalty',
  'stop', 'max_tokens', 'seed', 'logit_bias', 'min_new_tokens', 'top_logprobs', 'n', 'max_batch_size',
];

/**
 * Samplers that some servers have and others lack, sent under the names the servers that have them
 * use (llama-server's for DRY, XTC, mirostat, dynamic temperature and top-nσ; text-generation-webui's
 * for smoothing; Hugging Face's top_h), and only when set: a server without one ignores the field or
 * refuses it (an HTTP 400, reported as the server's message). Which servers implement which is in
 * docs/backends.md.
 */
const FORWARDED: (keyof Settings)[] = [
  'top_n_sigma', 'dry_multiplier', 'dry_base', 'dry_allowed_length', 'dry_penalty_last_n', 'dry_sequence_breakers',
  'xtc_probability', 'xtc_threshold', 'mirostat', 'mirostat_tau', 'mirostat_eta', 'dynatemp_range', 'dynatemp_exponent',
  'smoothing_factor', 'smoothing_curve', 'top_h',
];

/** Each forwarded sampler's other settings, by the switch that turns it on: they are sent only with it. */
const SWITCH_OF: Partial<Record<keyof Settings, keyof Settings>> = {
  dry_base: 'dry_multiplier', dry_allowed_length: 'dry_multiplier', dry_penalty_last_n: 'dry_multiplier', dry_sequence_breakers: 'dry_multiplier',
  xtc_threshold: 'xtc_probability', mirostat_tau: 'mirostat', mirostat_eta: 'mirostat', dynatemp_exponent: 'dynatemp_range', smoothing_curve: 'smoothing_factor',
};

const isSet = (s: Settings, k: keyof Settings) => JSON.stringify(s[k]) !== JSON.stringify((DEFAULTS as Partial<Settings>)[k]);

/** The forwarded samplers' fields for one request: those switched on, with their settings. */
function forwarded(s: Settings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FORWARDED) if (isSet(s, SWITCH_OF[k] ?? k)) out[k] = s[k];
  return out;
}

/** `wander next` on a server: the top alternatives it lists, raw (temperature 1), and the unlisted tail. */
export interface ServedNext {
  backend: BackendInfo;
  prompt: { text: string; messages?: ChatMessage[] };
  /** How many alternatives were asked for (the server's limit or --top, the smaller). */
  listed: number;
  candidates: { token_id: number | null; token: string; prob: number; cumulative_prob: number }[];
  /** The probability of every token the server did not list, together. */
  tail_mass: number;
}

export interface OpenAIOptions {
  /** The API key (from OPENAI_API_KEY or --api-key-env). */
  apiKey?: string;
  /** Requests in flight at once, per endpoint (default 4). */
  concurrency?: number;
  /**
   * More endpoints serving the same model: "URL" or "URL#MODEL-ID" (the id defaults to the spec's, or
   * to the server's only model). Requests are spread over all of them.
   */
  endpoints?: readonly string[];
  /** Per-request time limit, ms (default 120 s). */
  timeoutMs?: number;
  /** Retries on 429, 503 and connection errors, with doubling waits from 250 ms (default 4). */
  retries?: number;
}

/** One server the backend sends requests to, and how many of its slots are taken. */
interface Server { baseURL: string; model: string; busy: number }

type Usage = { prompt_tokens?: number; completion_tokens?: number };

export class OpenAIBackend {
  readonly info: BackendInfo;
  /** The most alternatives per token every endpoint gives, per API endpoint, probed once. */
  private readonly limits = new Map<ApiEndpoint, Promise<number>>();
  /** Requests waiting for a slot, first come first served; each is handed the server whose slot freed. */
  private readonly waiting: ((s: Server) => void)[] = [];
  private readonly concurrency: number;

  private constructor(readonly spec: string, private readonly servers: Server[], private readonly opts: OpenAIOptions, version: string | null) {
    const main = servers[0]!;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.info = {
      kind: 'openai', name: `${main.baseURL}#${main.model}`, version,
      ...(servers.length > 1 ? { endpoints: servers.map((e) => `${e.baseURL}#${e.model}`) } : {}),
      capabilities: { full_logits: false, top_logprobs: 20, own_sampling_chain: false, internals: false, token_ids: false, batch_invariant: false },
    };
  }

  get model(): string { return this.servers[0]!.model; }

  /**
   * Reaches the server (and every extra endpoint) and checks that each serves the model — the one the
   * spec names, or the server's only model when it names none.
   */
  static async connect(spec: string, opts: OpenAIOptions = {}): Promise<OpenAIBackend> {
    const parsed = parseOpenAISpec(spec);
    const main = await reach(parsed, opts, `--model ${spec}`);
    const servers: Server[] = [main.server];
    for (const url of opts.endpoints ?? []) {
      const where = url.startsWith('openai:') ? url : `openai:${url}`;
      const extra = parseOpenAISpec(where);
      const { server } = await reach({ baseURL: extra.baseURL, model: extra.model ?? main.server.model }, opts, `--endpoint ${url}`);
      if (servers.some((e) => e.baseURL === server.baseURL && e.model === server.model)) throw new UserError(`--endpoint ${url}: ${server.baseURL} is listed twice`, 'endpoint');
      servers.push(server);
    }
    return new OpenAIBackend(spec, servers, opts, main.version);
  }

  /**
   * Generates n samples of `prompt` (text for /completions, or messages for the server's chat endpoint,
   * where its own chat template applies): sample i is one request with the seed `sampleSeed(seed, i)`.
   * The report is Wander's Run, with `backend` saying who sampled; what the server does not say (its
   * tokenizer, the prompt's ids, timings of its prompt pass) is left out rather than guessed; `onPrompt`
   * is accepted for the shared sweep interface and never called, for the same reason. Several calls
   * may run at once: they share the endpoints' slots.
   */
  async generate(prompt: string | ChatPrompt, input: SettingsInput, opts: { indices?: number[]; onSample?: (s: Sample) => void; loadMs?: number; tokenStats?: boolean; onPrompt?: (tokens: number, ms: number) => void } = {}): Promise<Run> {
    const { settings, sources } = resolveSettings(parseSettings(input), {});
    this.check(input, settings);
    const endpoint: ApiEndpoint = typeof prompt === 'string' ? 'completions' : 'chat';
    // Token stats (for sweeps) need each chosen token's logprob: one alternative is enough. The
    // entropies need the whole distribution, which a server does not give: they stay empty.
    const want = Math.max(settings.top_logprobs, opts.tokenStats ? 1 : 0);
    const top = want > 0 ? Math.min(want, await this.logprobLimit(endpoint)) : 0;
    const indices = opts.indices ?? Array.from({ length: settings.n }, (_, i) => i);
    const unknown = await this.unknownSamplers(settings);
    const t0 = performance.now();
    const samples: Sample[] = [];
    let promptTokens = 0, completion = 0;
    const one = async (i: number) => {
      const started = performance.now();
      const { sample, prompt_tokens, completion_tokens } = await this.sample(prompt, settings, i, top);
      if (unknown.length && sample.finish_reason !== 'error') sample.ignored = [...unknown, ...(sample.ignored ?? [])];
      if (opts.tokenStats) {
        sample.token_logprobs = (sample.logprobs ?? []).map((t) => t.logprob);
        sample.token_entropy_bits = [];
        sample.token_sampled_entropy_bits = [];
        sample.elapsed_ms = Math.round((performance.now() - started) * 100) / 100;
        if (settings.top_logprobs === 0) delete sample.logprobs;
      }
      promptTokens = Math.max(promptTokens, prompt_tokens);
      completion += completion_tokens;
      samples.push(sample);
      opts.onSample?.(sample);
    };
    // Every request in flight ends (and is stored) before a refusal stops the run.
    const settled = await Promise.allSettled(indices.map(one));
    const refused = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused) throw refused.reason;
    const ms = performance.now() - t0;
    samples.sort((a, b) => a.index - b.index);
    const finish = Object.fromEntries((['eos', 'max_tokens', 'stop_sequence', 'context_full', 'error'] as FinishReason[]).map((r) => [r, samples.filter((s) => s.finish_reason === r).length])) as Record<FinishReason, number>;
    const round = (x: number) => Math.round(x * 100) / 100;
    const ignored = summariseIgnored(samples);
    return {
      model: this.modelInfo(),
      backend: this.info,
      ...(ignored.length ? { ignored } : {}),
      settings: { ...settings, sources, stages: [] },
      prompt: typeof prompt === 'string' ? { text: prompt, token_ids: [] } : { text: prompt.messages.map((m) => m.content).join('\n'), token_ids: [], messages: [...prompt.messages] },
      samples,
      summary: { samples: samples.length, distinct_texts: new Set(samples.map((s) => s.text)).size, finish_reasons: finish },
      usage: { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion },
      timings: { load_ms: round(opts.loadMs ?? 0), prompt_ms: 0, generate_ms: round(ms), tokens_per_second: ms > 0 ? round((completion / ms) * 1000) : 0 },
    };
  }

  /**
   * The next-token distribution as far as the server shows it: its top alternatives for the first
   * token after `prompt` (as many as it allows, up to `top`), and the probability left to all the
   * tokens it does not list — unknown individually, shown as one tail. A conversation asks the chat
   * endpoint for the reply's first token.
   */
  async next(prompt: string | ChatPrompt, top: number): Promise<ServedNext> {
    const endpoint: ApiEndpoint = typeof prompt === 'string' ? 'completions' : 'chat';
    const n = Math.min(top, await this.logprobLimit(endpoint));
    const server = await this.acquire();
    const greedy = { model: server.model, max_tokens: 1, temperature: 0, top_k: 0, top_p: 1, min_p: 0, n: 1, seed: 0 };
    let res: Response;
    try {
      res = await this.post(server, endpoint, typeof prompt === 'string' ? { ...greedy, prompt, logprobs: n } : { ...greedy, messages: prompt.messages, logprobs: true, top_logprobs: n });
    } finally {
      this.release(server);
    }
    const json = await res.json().catch(() => undefined) as { choices?: unknown[]; error?: { message?: string } } | undefined;
    if (!res.ok) throw new UserError(`the server refused the request: ${json?.error?.message ?? `HTTP ${res.status}`}`, 'model');
    const first = normaliseChoice(json?.choices?.[0], endpoint, 'choices[0]').tokens?.[0];
    if (!first) throw new UserError(`--model ${this.spec}: the server returned no logprobs for the next token`, 'model');
    let cum = 0;
    const candidates = first.top.slice(0, n).map((a) => ({ token_id: a.token_id, token: a.token, prob: Math.exp(a.logprob), cumulative_prob: (cum += Math.exp(a.logprob)) }));
    const text = typeof prompt === 'string' ? prompt : prompt.messages.map((m) => m.content).join('\n');
    return { backend: this.info, prompt: typeof prompt === 'string' ? { text } : { text, messages: [...prompt.messages] }, listed: n, candidates, tail_mass: topLogprobsTail(first.top.slice(0, n)) };
  }

  /** Each endpoint's sampling parameters as its /props lists them (llama-server), or null where none answers so; probed once. */
  private params?: Promise<(Set<string> | null)[]>;

  /**
   * The forwarded samplers this request switches on that a server proves it does not have: llama-server
   * lists its sampling parameters under /props (default_generation_settings.params), and ignores a
   * request field it does not know, so a sampler missing there was not applied. Servers without /props
   * (vLLM, Ollama, …) prove nothing this way.
   */
  private async unknownSamplers(s: Settings): Promise<IgnoredSetting[]> {
    const sent = Object.keys(forwarded(s));
    if (sent.length === 0) return [];
    const out: IgnoredSetting[] = [];
    this.params ??= Promise.all(this.servers.map(async (server) => {
      const res = await fetch(`${server.baseURL.replace(/\/v1$/, '')}/props`, { headers: headers(this.opts.apiKey), signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) }).catch(() => undefined);
      const body = res?.ok ? await res.json().catch(() => undefined) as { default_generation_settings?: { params?: unknown } } | undefined : undefined;
      const params = body?.default_generation_settings?.params ?? body?.default_generation_settings;
      return params && typeof params === 'object' && !Array.isArray(params) ? new Set(Object.keys(params)) : null;
    }));
    const lists = await this.params;
    // llama-server runs mirostat in place of its whole sampler list (common/sampling.cpp: only logit
    // bias and temperature before it), and that list holds the penalties and DRY: sent beside mirostat,
    // they are dropped there.
    const llama = this.servers.filter((_, i) => lists[i]).map((e) => `${e.baseURL.replace(/\/v1$/, '')}/props`);
    if (s.mirostat > 0 && llama.length) {
      const dropped: [keyof Settings, boolean][] = [['repetition_penalty', s.repetition_penalty !== 1], ['frequency_penalty', s.frequency_penalty !== 0], ['presence_penalty', s.presence_penalty !== 0], ['dry_multiplier', s.dry_multiplier > 0]];
      for (const [k, on] of dropped) if (on) out.push({ setting: k, evidence: `${llama.join(', ')} answers as llama-server, which runs mirostat in place of its sampler list (penalties and DRY included)` });
    }
    for (const k of sent) {
      // A sampler the server lacks is reported once, by its switch, not again for each of its settings.
      const sw = SWITCH_OF[k as keyof Settings];
      const at = this.servers.filter((_, i) => lists[i] && !lists[i]!.has(k) && !(sw && !lists[i]!.has(sw))).map((e) => `${e.baseURL.replace(/\/v1$/, '')}/props`);
      if (at.length) out.push({ setting: k as keyof Settings, evidence: `${at.join(', ')} lists no ${k} among the server's sampling parameters (llama-server ignores fields it does not know)` });
    }
    return out;
  }

  /** Settings only Wander's own chain can apply are refused, by name. */
  private check(input: SettingsInput, settings: Settings): void {
    if (settings.trace > 0) requireCapability('generate', this.info, 'own_sampling_chain', '--trace');
    for (const k of ['ablate', 'noise', 'patch_from'] as const) if (settings[k].length) requireCapability('generate', this.info, 'internals', `--${k.replace('_', '-')}`);
    requireSearchBackend(settings, 'openai');
    for (const k of Object.keys(input) as (keyof Settings)[]) {
      if (SENT.includes(k) || FORWARDED.includes(k) || input[k] === undefined) continue;
      if (JSON.stringify(settings[k]) === JSON.stringify((DEFAULTS as Partial<Settings>)[k])) continue;
      throw new UserError(`${k} cannot be sent to an OpenAI-compatible server: its own sampler runs there (sent: ${SENT.filter((s) => s !== 'max_batch_size').join(', ')}; forwarded when set: ${FORWARDED.join(', ')})`, k);
    }
    if (settings.logit_bias.some((b) => !('token_id' in b))) throw new UserError('logit_bias: the server needs token ids (#ID), not texts, since Wander does not know its tokenizer', 'logit_bias');
  }

  /** The most alternatives per token every endpoint gives on this API endpoint (probed once: 20, 5, 1). */
  private logprobLimit(endpoint: ApiEndpoint): Promise<number> {
    let limit = this.limits.get(endpoint);
    if (!limit) {
      limit = Promise.all(this.servers.map(async (server) => {
        for (const n of [20, 5, 1]) {
          const probe = endpoint === 'chat'
            ? { model: server.model, messages: [{ role: 'user', content: 'a' }], max_tokens: 1, logprobs: true, top_logprobs: n, temperature: 0 }
            : { model: server.model, prompt: 'a', max_tokens: 1, logprobs: n, temperature: 0 };
          const res = await this.post(server, endpoint, probe).catch(() => undefined);
          if (res?.ok) return n;
        }
        throw new UserError(`--model ${this.spec}: ${server.baseURL} gives no logprobs on /${endpoint === 'chat' ? 'chat/completions' : 'completions'} (asked for 20, 5 and 1)`, 'top_logprobs');
      })).then((ns) => Math.min(...ns));
      limit.catch(() => this.limits.delete(endpoint));
      this.limits.set(endpoint, limit);
    }
    return limit;
  }

  /** A slot on the least busy endpoint (another than `avoid` when one is free); waits in turn when all are busy. */
  private acquire(avoid?: Server): Promise<Server> {
    const free = this.servers.filter((e) => e.busy < this.concurrency).sort((a, b) => a.busy - b.busy);
    const pick = free.find((e) => e !== avoid) ?? free[0];
    if (pick && this.waiting.length === 0) {
      pick.busy++;
      return Promise.resolve(pick);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Frees a slot: handed straight to the longest-waiting request, so none is overtaken. */
  private release(server: Server): void {
    const next = this.waiting.shift();
    if (next) next(server);
    else server.busy--;
  }

  /** One sample: one request, retried on 429, 503 and connection errors; a failure is the sample's error. */
  private async sample(prompt: string | ChatPrompt, s: Settings, index: number, top: number): Promise<{ sample: Sample; prompt_tokens: number; completion_tokens: number }> {
    const endpoint: ApiEndpoint = typeof prompt === 'string' ? 'completions' : 'chat';
    const body: Record<string, unknown> = {
      ...(typeof prompt === 'string' ? { prompt } : { messages: prompt.messages }),
      n: 1, max_tokens: s.max_tokens, seed: sampleSeed(s.seed, index),
      temperature: s.temperature, top_p: s.top_p, top_k: s.top_k, min_p: s.min_p, typical_p: s.typical_p,
      repetition_penalty: s.repetition_penalty, frequency_penalty: s.frequency_penalty, presence_penalty: s.presence_penalty,
      ...forwarded(s),
      ...(s.stop.length ? { stop: s.stop } : {}), ...(s.min_new_tokens ? { min_tokens: s.min_new_tokens } : {}),
      ...(s.logit_bias.length ? { logit_bias: Object.fromEntries(s.logit_bias.map((b) => ['token_id' in b ? b.token_id : -1, b.bias === '-inf' ? -100 : b.bias])) } : {}),
      ...(top > 0 ? (endpoint === 'chat' ? { logprobs: true, top_logprobs: top } : { logprobs: top }) : {}),
    };
    const failed = (error: string) => ({ sample: { index, text: '', token_ids: [], finish_reason: 'error' as const, error }, prompt_tokens: 0, completion_tokens: 0 });
    let res: Response | undefined, text = '', lastError = '', last: Server | undefined;
    for (let attempt = 0; attempt <= (this.opts.retries ?? 4); attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
      const server = await this.acquire(last);
      last = server;
      try {
        res = await this.post(server, endpoint, { model: server.model, ...body });
        if (res.status === 429 || res.status === 503) {
          lastError = `HTTP ${res.status}`;
          await res.body?.cancel();
          res = undefined;
          continue;
        }
        // The slot is held until the whole answer is read: freeing it at the headers opens more connections
        // than slots, and on llama-server each idle keep-alive connection holds one of its HTTP threads —
        // with its default count that stalled requests for seconds (measured: ~9 samples/s at 4 in flight).
        text = await res.text();
        break;
      } catch (e) {
        lastError = reason(e);
        res = undefined;
      } finally {
        this.release(server);
      }
    }
    if (!res) return failed(`the server did not answer: ${lastError}`);
    let json: { choices?: unknown[]; usage?: Usage; system_fingerprint?: unknown; error?: { message?: string } } | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const message = json?.error?.message ?? `HTTP ${res.status}`;
      // A setting the server rejects is the user's to fix: one line, not an error per sample.
      if (res.status === 400) throw new UserError(`the server refused the request: ${message}`, 'model');
      return failed(`the server answered ${res.status}: ${message}`);
    }
    if (typeof json?.system_fingerprint === 'string' && this.info.version === null) this.info.version = json.system_fingerprint;
    let c: NormalisedChoice;
    try {
      c = normaliseChoice(json?.choices?.[0], endpoint, 'choices[0]');
    } catch (e) {
      return failed(`the server's answer has an unexpected shape: ${(e as Error).message}`);
    }
    const sample: Sample = { index, text: c.text, token_ids: c.token_ids ?? [], finish_reason: finishReason(c, s) };
    if (sample.finish_reason === 'stop_sequence' && typeof c.stop_reason === 'string') sample.stop_sequence = c.stop_reason;
    // What the answer proves the server did not apply (never guessed): reported, not hidden.
    const ignored = ignoredSettings(s, top, c, json?.usage);
    if (ignored.length) sample.ignored = ignored;
    if (top > 0 && c.tokens) sample.logprobs = c.tokens.filter((t) => t.logprob !== null).map((t): StepLogprobs => ({
      token_id: t.token_id ?? -1, token: t.token, logprob: t.logprob!, top_logprobs: t.top.slice(0, top).map((a) => ({ token_id: a.token_id ?? -1, token: a.token, logprob: a.logprob })),
    }));
    const count = (x: unknown, or: number) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : or);
    return { sample, prompt_tokens: count(json?.usage?.prompt_tokens, 0), completion_tokens: count(json?.usage?.completion_tokens, c.tokens?.length ?? sample.token_ids.length) };
  }

  private post(server: Server, endpoint: ApiEndpoint, body: object): Promise<Response> {
    return fetch(`${server.baseURL}/${endpoint === 'chat' ? 'chat/completions' : 'completions'}`, {
      method: 'POST', headers: { ...headers(this.opts.apiKey), 'content-type': 'application/json' }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
    });
  }

  /** What a run says about the model: the server and id; what the server does not tell is 0. */
  private modelInfo(): ModelInfo {
    return { path: this.info.name, architecture: 'served', family: 'served', format: 'openai', parameters: 0, context_length: 0, vocab_size: 0, tokenizer: 'server', kernels: 'server', threads: 0 };
  }
}

/** GET /models on one server: it answers, takes the key, and serves the model (or exactly one, when none is named). */
async function reach(where: OpenAISpec, opts: OpenAIOptions, label: string): Promise<{ server: Server; version: string | null }> {
  const { baseURL, model } = where;
  const field = label.startsWith('--endpoint') ? 'endpoint' : 'model';
  let res: Response;
  try {
    res = await fetch(`${baseURL}/models`, { headers: headers(opts.apiKey), signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (e) {
    throw new UserError(`${label}: cannot reach the server: ${reason(e)}`, field);
  }
  if (res.status === 401 || res.status === 403) throw new UserError(`${label}: the server refused the API key (${res.status}); set OPENAI_API_KEY or --api-key-env NAME`, field);
  const body = await res.json().catch(() => undefined) as { data?: { id?: unknown }[] } | undefined;
  const ids = Array.isArray(body?.data) ? body.data.map((m) => m.id).filter((id): id is string => typeof id === 'string') : undefined;
  if (!res.ok || !ids) throw new UserError(`${label}: ${baseURL}/models did not answer as an OpenAI-compatible server (HTTP ${res.status})`, field);
  let chosen = model;
  if (chosen === undefined) {
    if (ids.length !== 1) throw new UserError(`${label}: the server serves ${ids.length} models (${ids.join(', ')}); name one: openai:${baseURL}#ID`, field);
    chosen = ids[0]!;
  } else if (!ids.includes(chosen)) {
    const hint = field === 'endpoint' && !label.includes('#') ? `; name its id for this model: ${label.slice('--endpoint '.length)}#ID` : '';
    throw new UserError(`${label}: the server does not serve ${chosen} (it serves: ${ids.join(', ')})${hint}`, field);
  }
  return { server: { baseURL, model: chosen, busy: 0 }, version: res.headers.get('server') };
}

/** Each ignored setting once: in how many samples, with the first sample's evidence. */
export function summariseIgnored(samples: readonly Sample[]): { setting: string; samples: number; evidence: string }[] {
  const by = new Map<string, { setting: string; samples: number; evidence: string }>();
  for (const s of [...samples].sort((a, b) => a.index - b.index)) {
    for (const { setting, evidence } of s.ignored ?? []) {
      const seen = by.get(setting);
      if (seen) seen.samples++;
      else by.set(setting, { setting, samples: 1, evidence: s.index === 0 && samples.length === 1 ? evidence : `sample ${s.index}: ${evidence}` });
    }
  }
  return [...by.values()];
}

/** The seed sent for sample i: a keyed stream of (seed, i), so samples differ and each repeats. */
export function sampleSeed(seed: number, index: number): number {
  return Rng.keyed('openai-sample-seed', [seed >>> 0, Math.floor(seed / 2 ** 32), index]).nextU32() & 0x7fffffff;
}

/** The server's 'stop' is an end of sequence or a stop string: Wander's own reason when the server says it, or vLLM's stop_reason. */
function finishReason(c: NormalisedChoice, s: Settings): FinishReason {
  const own = c.wander_finish_reason;
  if (own === 'eos' || own === 'max_tokens' || own === 'stop_sequence' || own === 'context_full' || own === 'error') return own;
  if (c.finish_reason === 'length') return 'max_tokens';
  // Without vLLM's stop_reason, a server's 'stop' after stop strings were sent may be either; it is
  // counted as the stop string (the server cut the text there, or ended it — both end the sample).
  if (c.finish_reason === 'stop') return typeof c.stop_reason === 'string' || (c.shape !== 'vllm' && s.stop.length > 0) ? 'stop_sequence' : 'eos';
  return 'error';
}

function headers(apiKey?: string): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

function reason(e: unknown): string {
  const err = e as { cause?: { code?: string; message?: string }; name?: string; message?: string };
  if (err?.name === 'TimeoutError') return 'timed out';
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}
