import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ChatMessage } from '../generate/chat.js';
import type { FinishReason, Run, Sample } from '../generate/report.js';
import { isUserError } from '../errors.js';
import { parseSettings, type Settings, type SettingsInput } from '../generate/settings.js';
import { clientGone, noFiles } from './body.js';
import type { Engine } from './engine.js';
import { HttpError } from './errors.js';
import type { ModelRegistry } from './registry.js';

/**
 * The OpenAI-compatible endpoints: /v1/models, /v1/completions, /v1/chat/completions. A request's
 * sampling fields become Wander settings (validated by the one schema, so the same mistake gets the
 * same message as on the command line); every other Wander setting may be sent under its JSON name
 * (top_k, min_p, typical_p, repetition_penalty, …), as vLLM users do. Sample i of a request draws
 * from stream (seed, i), so a request gives exactly what `wander generate --n … --seed …` gives.
 */

/** Limits enforced before any model work. */
export const LIMITS = { n: 64, logprobs: 20, prompts: 64 };

/** Request fields that are not Wander settings (handled here), per endpoint. */
const COMMON = ['model', 'stream', 'stream_options', 'user', 'stop', 'logit_bias'];
const COMPLETION_FIELDS = new Set([...COMMON, 'prompt', 'echo', 'logprobs']);
const CHAT_FIELDS = new Set([...COMMON, 'messages', 'logprobs', 'top_logprobs']);

type Body = Record<string, unknown>;

/**
 * Other servers' names for Wander's settings, so requests written for them work unchanged: OpenAI's
 * (min_tokens, max_completion_tokens) and llama.cpp's llama-server's. llama-server's names for the
 * samplers Wander shares with it (typical_p, min_p, top_n_sigma, dry_*, xtc_*, mirostat*, dynatemp_*)
 * are Wander's own already.
 */
const ALIASES: Record<string, keyof Settings> = {
  min_tokens: 'min_new_tokens', max_completion_tokens: 'max_tokens',
  repeat_penalty: 'repetition_penalty', repeat_last_n: 'penalty_window', n_predict: 'max_tokens', min_keep: 'min_tokens_to_keep', samplers: 'chain',
};

/** llama-server's sampler names (its `samplers` list) as Wander's stages. */
const LLAMA_SAMPLERS: Record<string, string[]> = {
  penalties: ['repetition_penalty', 'frequency_presence_penalty'], dry: ['dry'], top_n_sigma: ['top_n_sigma'], top_k: ['top_k'],
  typ_p: ['typical_p'], typical_p: ['typical_p'], top_p: ['top_p'], min_p: ['min_p'], xtc: ['xtc'], temperature: ['temperature', 'dynatemp'],
};
/**
 * Wander's processors that llama-server has no name for (its logit bias always runs first; the others
 * it lacks) run before the listed samplers, and mirostat after them — llama-server runs mirostat in
 * place of the list, and Wander refuses mirostat beside a truncation sampler, so where it sits is moot.
 */
const BEFORE = ['logit_bias', 'no_repeat_ngram', 'banned_strings', 'min_new_tokens'];
const AFTER = ['mirostat'];

/** An aliased field's value in Wander's terms (llama-server's special values included). */
function aliasValue(alias: string, v: unknown, engine: Engine): unknown {
  if (alias === 'repeat_last_n') {
    // llama-server: −1 = the whole context (Wander's 0); 0 = penalties off, which Wander has no window for.
    if (v === -1) return 0;
    if (v === 0) throw new HttpError(400, 'repeat_last_n 0 turns llama-server\'s penalties off, which Wander does not do by window: leave out repeat_penalty, frequency_penalty and presence_penalty instead', alias);
  }
  if (alias === 'n_predict' && v === -1) return engine.info.context_length; // −1 = until the context is full
  if (alias === 'samplers') {
    const names = Object.keys(LLAMA_SAMPLERS).join(', ');
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) throw new HttpError(400, `samplers must be a non-empty list of llama-server sampler names (${names}), got ${JSON.stringify(v)}`, alias);
    const listed = (v as string[]).flatMap((name) => {
      const stages = LLAMA_SAMPLERS[name];
      if (!stages) throw new HttpError(400, `samplers: unknown sampler ${JSON.stringify(name)} (llama-server's names: ${names})`, alias);
      return stages;
    });
    return [...new Set([...BEFORE, ...listed, ...AFTER])];
  }
  return v;
}

/** The request's fields as Wander settings. */
function settingsOf(body: Body, own: Set<string>, endpoint: 'completions' | 'chat', engine: Engine): SettingsInput {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!own.has(k) && !(k in ALIASES) && k !== 'cache_prompt' && k !== 'n_probs') raw[k] = v;
  noFiles(raw);
  if ('top_logprobs' in raw && endpoint === 'completions') throw new HttpError(400, 'top_logprobs is not a field of /v1/completions: use logprobs (0–20)', 'top_logprobs');
  // llama-server's cache_prompt says whether it may reuse an earlier request's prompt cache: the answer
  // is the same either way, so it is accepted and changes nothing.
  if (body['cache_prompt'] !== undefined && typeof body['cache_prompt'] !== 'boolean') throw new HttpError(400, `cache_prompt must be true or false, got ${JSON.stringify(body['cache_prompt'])}`, 'cache_prompt');
  if (body['stop'] !== undefined) raw['stop'] = typeof body['stop'] === 'string' ? [body['stop']] : body['stop'];
  // A mistake in an aliased field is reported under the name the request used.
  const aliases: Record<string, string> = {};
  for (const [alias, name] of Object.entries(ALIASES)) {
    if (body[alias] === undefined) continue;
    if (aliases[name] !== undefined || body[name] !== undefined) throw new HttpError(400, `${alias} and ${aliases[name] ?? name} name the same setting: send one of them`, alias);
    raw[name] = aliasValue(alias, body[alias], engine);
    aliases[name] = alias;
  }
  if (body['logit_bias'] !== undefined) raw['logit_bias'] = logitBias(body['logit_bias']);
  const n = raw['n'];
  if (n !== undefined && !(typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= LIMITS.n)) throw new HttpError(400, `n must be an integer from 1 to ${LIMITS.n} on the server, got ${JSON.stringify(n)}`, 'n');
  for (const [field, type] of [['echo', 'boolean'], ['stream', 'boolean'], ['user', 'string']] as const) {
    if (body[field] !== undefined && typeof body[field] !== type) throw new HttpError(400, `${field} must be ${type === 'boolean' ? 'true or false' : 'a string'}, got ${JSON.stringify(body[field])}`, field);
  }
  const so = body['stream_options'];
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) throw new HttpError(400, `stream_options must be an object such as { "include_usage": true }, got ${JSON.stringify(so)}`, 'stream_options');
  let settings: SettingsInput;
  try {
    settings = parseSettings(raw);
  } catch (e) {
    const alias = isUserError(e) && e.field !== undefined ? aliases[e.field] : undefined;
    if (alias) throw new HttpError(400, (e as Error).message.replace(/^[a-z_]+/, alias), alias);
    throw e;
  }
  const ctx = engine.info.context_length;
  if (settings.max_tokens !== undefined && settings.max_tokens > ctx) {
    const field = aliases['max_tokens'] ?? 'max_tokens';
    throw new HttpError(400, `${field} must be at most the model's context of ${ctx} tokens, got ${settings.max_tokens}`, field);
  }
  return settings;
}

/** OpenAI's { "token id": bias } with bias in [−100, 100], as Wander's logit_bias entries. */
function logitBias(v: unknown): { token_id: number; bias: number }[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'logit_bias must be an object mapping token ids to biases from -100 to 100', 'logit_bias');
  return Object.entries(v).map(([id, bias]) => {
    if (!/^\d+$/.test(id)) throw new HttpError(400, `logit_bias keys must be token ids, got ${JSON.stringify(id)}`, 'logit_bias');
    if (typeof bias !== 'number' || !(bias >= -100 && bias <= 100)) throw new HttpError(400, `logit_bias[${id}] must be a number from -100 to 100, got ${JSON.stringify(bias)}`, 'logit_bias');
    return { token_id: Number(id), bias };
  });
}

/** The number of alternatives a request asks for, checked: 0–20. */
function logprobCount(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  if (v === true) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > LIMITS.logprobs) throw new HttpError(400, `${field} must be an integer from 0 to ${LIMITS.logprobs}, got ${JSON.stringify(v)}`, field);
  return v;
}

/**
 * llama-server's n_probs (alternatives per token; 0 = none), in place of the endpoint's own field
 * (`logprobs` on completions, `top_logprobs` on chat); sending both is ambiguous.
 */
function nProbs(body: Body, own: 'logprobs' | 'top_logprobs'): number | undefined {
  if (body[own] !== undefined) throw new HttpError(400, `n_probs and ${own} name the same setting: send one of them`, 'n_probs');
  const n = logprobCount(body['n_probs'], 'n_probs');
  return n === 0 ? undefined : n;
}

/** OpenAI's finish reasons; Wander's own is reported beside it. */
function finishReason(r: FinishReason): string {
  return r === 'eos' || r === 'stop_sequence' ? 'stop' : r === 'error' ? 'error' : 'length';
}

/** Completions' prompts: a string, a list of strings, token ids, or a list of token id lists. */
function prompts(v: unknown): (string | number[])[] {
  const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((t) => typeof t === 'number');
  const list = typeof v === 'string' || isIds(v) ? [v] : Array.isArray(v) && v.length > 0 && v.every((p) => typeof p === 'string' || isIds(p)) ? v : undefined;
  if (!list) throw new HttpError(400, 'prompt must be a string, a list of strings, a list of token ids, or a list of such lists', 'prompt');
  if (list.length > LIMITS.prompts) throw new HttpError(400, `prompt takes at most ${LIMITS.prompts} prompts, got ${list.length}`, 'prompt');
  return list as (string | number[])[];
}

export function openaiRoutes(app: FastifyInstance, registry: ModelRegistry, version: string): void {
  const created = () => Math.floor(Date.now() / 1000);
  const id = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  // The kernels and the KV cache's type decide the numbers, so they are part of the fingerprint (f32, the default, unnamed).
  const fingerprint = (engine: Engine) => `wander-${version}-${engine.info.kernels}${engine.info.kv_cache === 'f16' ? '-kvf16' : ''}-${engine.info.fingerprint}`;

  app.get('/v1/models', async () => ({
    object: 'list',
    data: registry.ids.map((m) => ({ id: m, object: 'model', created: 0, owned_by: 'wander' })),
  }));

  app.post('/v1/completions', async (req, reply) => {
    const body = bodyOf(req.body);
    const engine = registry.get(optionalString(body['model'], 'model'));
    const top = body['n_probs'] !== undefined ? nProbs(body, 'logprobs') : logprobCount(body['logprobs'], 'logprobs');
    const input = { ...settingsOf(body, COMPLETION_FIELDS, 'completions', engine), ...(top !== undefined ? { top_logprobs: Math.max(1, top) } : {}) };
    const list = prompts(body['prompt']);
    const echo = body['echo'] === true;
    const n = input.n ?? 1;
    const signal = clientGone(reply);
    const head = { id: id('cmpl'), object: 'text_completion', created: created(), model: engine.id, system_fingerprint: fingerprint(engine) };
    const choice = (text: string, s: Sample, p: number) => ({
      index: p * n + s.index, text: (echo ? text : '') + s.text,
      logprobs: top === undefined ? null : legacyLogprobs(s, top, echo ? text.length : 0),
      finish_reason: finishReason(s.finish_reason), wander_finish_reason: s.finish_reason,
      // vLLM's name for the generated ids (its `return_token_ids`): clients that know it need no tokenizer.
      token_ids: s.token_ids,
    });
    if (body['stream'] === true) {
      // Every prompt's samples decode together; their chunks interleave, each naming its choice.
      const sse = openStream(reply);
      const runs = await Promise.all(list.map((prompt, p) => {
        let text = '';
        const echoed = new Set<number>();
        const send = (i: number, t: string, s?: Sample) => {
          if (echo && !echoed.has(i)) { echoed.add(i); t = text + t; }
          sse.send({ ...head, choices: [s ? { ...choice(text, s, p), text: t } : { index: p * n + i, text: t, logprobs: null, finish_reason: null }] });
        };
        return engine.generate(prompt, input, {
          stream: true, signal, onStart: (t) => { text = t ?? ''; }, onText: (t, i) => send(i, t), onSample: (s) => send(s.index, '', s),
        });
      })).catch((e: unknown) => sse.fail(e));
      if (!runs) return reply;
      if (includeUsage(body)) sse.send({ ...head, choices: [], usage: totalUsage(runs), seed: runs[0]!.settings.seed });
      sse.end();
      return reply;
    }
    const runs = await Promise.all(list.map((prompt) => engine.generate(prompt, input, { signal })));
    return { ...head, choices: runs.flatMap((run, p) => run.samples.map((s) => choice(run.prompt.text, s, p))), usage: totalUsage(runs), seed: runs[0]!.settings.seed };
  });

  app.post('/v1/chat/completions', async (req, reply) => {
    const body = bodyOf(req.body);
    const engine = registry.get(optionalString(body['model'], 'model'));
    const messages = chatMessages(body['messages']);
    const probs = body['n_probs'] !== undefined ? nProbs(body, 'top_logprobs') : undefined;
    const wantLogprobs = body['logprobs'] === true || probs !== undefined;
    if (body['logprobs'] !== undefined && typeof body['logprobs'] !== 'boolean') throw new HttpError(400, `logprobs must be true or false on /v1/chat/completions, got ${JSON.stringify(body['logprobs'])}`, 'logprobs');
    const top = probs ?? (wantLogprobs ? logprobCount(body['top_logprobs'] ?? 0, 'top_logprobs')! : 0);
    if (!wantLogprobs && body['top_logprobs'] !== undefined) throw new HttpError(400, 'top_logprobs needs logprobs: true', 'top_logprobs');
    const input = { ...settingsOf(body, CHAT_FIELDS, 'chat', engine), ...(wantLogprobs ? { top_logprobs: Math.max(1, top) } : {}) };
    const signal = clientGone(reply);
    const head = { id: id('chatcmpl'), created: created(), model: engine.id, system_fingerprint: fingerprint(engine) };
    if (body['stream'] === true) {
      const sse = openStream(reply);
      const chunk = (index: number, delta: object, finish: Sample | null, logprobs: object | null = null) => sse.send({
        ...head, object: 'chat.completion.chunk',
        choices: [{ index, delta, logprobs, finish_reason: finish ? finishReason(finish.finish_reason) : null, ...(finish ? { wander_finish_reason: finish.finish_reason } : {}) }],
      });
      const started = new Set<number>();
      const begin = (i: number) => {
        if (!started.has(i)) { started.add(i); chunk(i, { role: 'assistant', content: '' }, null); }
      };
      const run = await engine.generate({ messages }, input, {
        stream: true, signal,
        onText: (text, i) => { begin(i); chunk(i, { content: text }, null); },
        onSample: (s) => { begin(s.index); chunk(s.index, {}, s, wantLogprobs ? { content: chatLogprobs(s, top) } : null); },
      }).catch((e: unknown) => sse.fail(e));
      if (!run) return reply;
      if (includeUsage(body)) sse.send({ ...head, object: 'chat.completion.chunk', choices: [], usage: run.usage, seed: run.settings.seed });
      sse.end();
      return reply;
    }
    const run = await engine.generate({ messages }, input, { signal });
    return {
      ...head, object: 'chat.completion',
      choices: run.samples.map((s) => ({
        index: s.index, message: { role: 'assistant', content: s.text }, logprobs: wantLogprobs ? { content: chatLogprobs(s, top) } : null,
        finish_reason: finishReason(s.finish_reason), wander_finish_reason: s.finish_reason, token_ids: s.token_ids,
      })),
      usage: run.usage, seed: run.settings.seed,
    };
  });
}

function bodyOf(v: unknown): Body {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'the request body must be a JSON object');
  return v as Body;
}

function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `${field} must be a string, got ${JSON.stringify(v)}`, field);
  return v;
}

function chatMessages(v: unknown): ChatMessage[] {
  const ok = Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'object' && m !== null && typeof m.role === 'string' && typeof m.content === 'string');
  if (!ok) throw new HttpError(400, 'messages must be a non-empty list of { role, content } with string content', 'messages');
  return (v as ChatMessage[]).map((m) => ({ role: m.role, content: m.content }));
}

function includeUsage(body: Body): boolean {
  const o = body['stream_options'];
  return typeof o === 'object' && o !== null && (o as Record<string, unknown>)['include_usage'] === true;
}

function totalUsage(runs: Run[]): Run['usage'] {
  const u = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  for (const run of runs) {
    u.prompt_tokens += run.usage.prompt_tokens;
    u.completion_tokens += run.usage.completion_tokens;
    u.total_tokens += run.usage.total_tokens;
  }
  return u;
}

/** The legacy completions logprobs: every generated token, its logprob, the top alternatives, its text offset. */
function legacyLogprobs(s: Sample, top: number, offset: number) {
  const lp = s.logprobs ?? [];
  const text_offset: number[] = [];
  let at = offset;
  for (const t of lp) { text_offset.push(at); at += t.token.length; }
  return {
    tokens: lp.map((t) => t.token), token_logprobs: lp.map((t) => t.logprob), text_offset,
    top_logprobs: lp.map((t) => Object.fromEntries(t.top_logprobs.slice(0, top).map((a) => [a.token, a.logprob]))),
  };
}

/** Chat logprobs: { token, logprob, bytes, top_logprobs } per generated token. */
function chatLogprobs(s: Sample, top: number) {
  const bytes = (t: string) => [...Buffer.from(t, 'utf8')];
  return (s.logprobs ?? []).map((t) => ({
    token: t.token, logprob: t.logprob, bytes: bytes(t.token),
    top_logprobs: t.top_logprobs.slice(0, top).map((a) => ({ token: a.token, logprob: a.logprob, bytes: bytes(a.token) })),
  }));
}

/**
 * Server-sent events on the raw response: `data: {json}` per chunk, then `data: [DONE]`. The response
 * starts with the first chunk, so a request rejected before any work still gets its JSON error.
 */
function openStream(reply: FastifyReply): { send: (o: object) => void; end: () => void; fail: (e: unknown) => undefined } {
  const res = reply.raw;
  let open = false;
  const start = () => {
    if (open) return;
    open = true;
    reply.hijack();
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  };
  return {
    send: (o) => { start(); res.write(`data: ${JSON.stringify(o)}\n\n`); },
    end: () => { start(); res.end('data: [DONE]\n\n'); },
    // Before the first chunk an error is an ordinary JSON answer; after it, an error event ends the stream.
    fail: (e) => {
      if (!open) throw e;
      if (!res.writableEnded && !res.destroyed) {
        const err = e instanceof HttpError ? e : new HttpError(500, 'internal error');
        res.end(`data: ${JSON.stringify({ error: { message: err.message, type: err.status >= 500 ? 'server_error' : 'invalid_request_error', param: err.param, code: err.code } })}\n\n`);
      }
      return undefined;
    },
  };
}
