/**
 * One completion choice from an OpenAI-compatible server, in Wander's shape.
 *
 * The sampling backend drives any server that speaks OpenAI's HTTP API (vLLM, llama.cpp's llama-server,
 * Ollama, SGLang, MAX, `wander serve`) and records what it says about every generated token. The servers
 * agree on the envelope and disagree on the details, so this module is the one place that knows them. It
 * takes one element of a response's `choices` (non-streaming: streaming chunks are assembled elsewhere),
 * detects how its logprobs are written, checks every field it reads (a response body is untrusted input:
 * a wrong type is an error naming the field's path), and keeps token ids whenever the server gives them.
 *
 * The shapes, and where each comes from:
 *
 * - OpenAI's legacy completions logprobs (`/v1/completions`): parallel lists
 *   `logprobs: { tokens: string[], token_logprobs: (number | null)[], top_logprobs: ({ [token]: logprob } | null)[] | null,
 *   text_offset: number[] }` (openai-node `CompletionChoice.Logprobs`). Written this way by vLLM and SGLang
 *   (`CompletionLogProbs`: the first entry is null under `echo`, as the first prompt token has no logprob)
 *   and by `wander serve` (src/server/openai.ts, `legacyLogprobs`). There are no ids and no bytes, and the
 *   alternatives are an object keyed by token text, so two different tokens that decode to the same text
 *   collapse into one entry.
 * - OpenAI's chat logprobs (`/v1/chat/completions`): `logprobs: { content: { token, logprob, bytes, top_logprobs:
 *   { token, logprob, bytes }[] }[] | null, refusal }` (openai-node `ChatCompletionTokenLogprob`). vLLM, SGLang,
 *   Ollama and `wander serve` write it. Ollama (openai/openai.go, `ChoiceLogprobs`) writes it on
 *   `/v1/completions` too, omits `bytes` and `top_logprobs` when empty, and omits `logprobs` when it has none.
 * - llama.cpp's llama-server: the chat shape on both endpoints, with each token's vocabulary `id` on the token
 *   and on every alternative (tools/server/server-task.cpp, `completion_token_output::probs_vector_to_json`).
 *   With the request field `post_sampling_probs: true` it writes probabilities instead: `prob` and `top_probs`,
 *   taken after the sampling chain (temperature, truncation), which are converted to natural logs here and
 *   flagged with `post_sampling`. Newer builds cut a token's text to its longest valid UTF-8 prefix (so a byte
 *   token's `token` may be "") while `bytes` keeps the raw bytes, and write a probability of 0 as
 *   −3.4028234663852886e38 (the most negative float) because JSON has no −Infinity.
 * - vLLM: one of the two OpenAI shapes, plus vLLM's own fields on the choice (vllm/entrypoints/openai/
 *   completion/protocol.py `CompletionResponseChoice`, chat_completion/protocol.py `ChatCompletionResponseChoice`):
 *   `stop_reason` (the stop string or stop token id that ended the choice; null for EOS and everything else),
 *   `token_ids` and `prompt_token_ids` (with the request field `return_token_ids`; a chat response puts
 *   `prompt_token_ids` on the response, not the choice), and `prompt_logprobs`. With `return_tokens_as_token_ids`
 *   every token is written as the placeholder `"token_id:123"` and its chat `bytes` are the bytes of that
 *   placeholder, not of the token. A logprob below −9999 is written as −9999.0, OpenAI's "very unlikely".
 *
 * Other fields recorded on the way: `wander serve`'s `wander_finish_reason` (eos, max_tokens, stop_sequence,
 * context_full, error) and SGLang's `matched_stop` (its name for vLLM's `stop_reason`). A response's top-level
 * fields (`usage`, `model`, `system_fingerprint`, `wander serve`'s `seed`, llama.cpp's `timings`) are the
 * caller's to read.
 */

/** The endpoint a choice came from: it says where the text is (`text`, or `message.content`). */
export type Endpoint = 'completions' | 'chat';

/**
 * How a choice was written, most specific first: 'llama.cpp' when its logprobs carry token ids (`id`) or
 * post-sampling probabilities (`prob`); 'vllm' when the choice has vLLM's own fields (`stop_reason`,
 * `token_ids`, `prompt_token_ids`, `prompt_logprobs`; vLLM writes `stop_reason` on every choice, null or not);
 * otherwise by its logprobs, 'openai-legacy' (parallel lists) or 'openai-chat' (`content` entries); 'none'
 * when it has neither logprobs nor vLLM's fields.
 */
export type ChoiceShape = 'openai-legacy' | 'openai-chat' | 'llama.cpp' | 'vllm' | 'none';

/**
 * How the tokens' text compares with the choice's text. 'exact': they spell it. 'prefix': they spell only
 * the start of it, some tokens are missing (llama.cpp build 4748 drops the last token's logprobs when a stop
 * string ends the choice). 'suffix': they spell only the end of it (under `echo` the text starts with the
 * prompt, and `wander serve` reports the generated tokens only; vLLM reports the prompt's tokens too).
 * 'overrun': the text is the start of what they spell (the server cut the text at a stop string and still
 * reported the token that completed it, as `wander serve` does). 'mismatch': none of these (e.g. tokens
 * decoded on their own differ from the text decoded as a whole).
 */
export type TextCoverage = 'exact' | 'prefix' | 'suffix' | 'overrun' | 'mismatch';

/** One alternative at a position: a token the model could have chosen. */
export interface NormalisedAlternative {
  token: string;
  /** The token's vocabulary id, when the server said it (llama.cpp's `id`, vLLM's "token_id:N"). */
  token_id: number | null;
  /**
   * Natural log of its probability (of a post-sampling probability when the choice's `post_sampling` is set,
   * where a probability of 0 becomes −Infinity). Servers write "below anything they track" as a sentinel, kept
   * as sent: −9999 (OpenAI, vLLM) or −3.4028234663852886e38 (llama.cpp).
   */
  logprob: number;
}

/** One generated token (or, under vLLM's `echo`, one prompt token) as the server described it. */
export interface NormalisedToken {
  /**
   * The token's text as the server wrote it. Under vLLM's `return_tokens_as_token_ids` this is the placeholder
   * "token_id:N" (the text is then unknown here; `token_id` holds N; see `tokenIdPlaceholder`).
   */
  token: string;
  /** Its vocabulary id: llama.cpp's `id`, a "token_id:N" placeholder, or vLLM's `token_ids` lined up with the tokens. */
  token_id: number | null;
  /** Natural log of its probability; null where the server had none (the first token under `echo`). */
  logprob: number | null;
  /** Its UTF-8 bytes as the server sent them (chat shape); null when it sent none, or only a placeholder's bytes. */
  bytes: number[] | null;
  /**
   * The alternatives the server listed, most likely first (stably sorted, so ties keep the server's order).
   * The token itself may be among them or not: llama.cpp and OpenAI list the top N, vLLM's legacy shape adds the
   * chosen token to them. Empty when the server listed none.
   */
  top: NormalisedAlternative[];
}

export interface NormalisedChoice {
  index: number;
  /** The generated text (`text`, or the chat message's `content`, '' when that is null). */
  text: string;
  /** Every token with its logprob; null when the server sent no logprobs for this choice. */
  tokens: NormalisedToken[] | null;
  /**
   * The generated token ids: vLLM's `token_ids` when sent, else the ids of `tokens` when every one has one
   * (llama.cpp, "token_id:N" placeholders); null otherwise.
   */
  token_ids: number[] | null;
  /** The prompt's token ids, when the server puts them on the choice (vLLM's completions with `return_token_ids`). */
  prompt_token_ids: number[] | null;
  /**
   * Why the choice ended: 'stop' (an end-of-sequence token or a stop string), 'length' (the token limit), or
   * 'other' (anything else, including a server that sent null: tool calls, content filters, aborts, errors).
   */
  finish_reason: 'stop' | 'length' | 'other';
  /** The server's own `finish_reason`, unchanged; null when it sent null or nothing. */
  raw_finish_reason: string | null;
  /** The stop string or stop token id that ended the choice (vLLM's `stop_reason`, SGLang's `matched_stop`); null otherwise. */
  stop_reason: string | number | null;
  /** `wander serve`'s own finish reason (eos, max_tokens, stop_sequence, context_full, error); null from other servers. */
  wander_finish_reason: string | null;
  /**
   * True when the server reported post-sampling probabilities (llama.cpp's `post_sampling_probs`): the
   * distribution after temperature and truncation, not the model's. Otherwise logprobs are what the server
   * calls logprobs (the raw softmax for llama.cpp and Wander; vLLM's depends on its `--logprobs-mode`).
   */
  post_sampling: boolean;
  /** How `tokens` spell `text`; null when there are no tokens or some token is only a "token_id:N" placeholder. */
  text_coverage: TextCoverage | null;
  shape: ChoiceShape;
}

/** A response that does not have the shape its field should have; `path` names the field (e.g. `choice.logprobs.tokens[2]`). */
export class ResponseShapeError extends Error {
  override name = 'ResponseShapeError';
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

/**
 * One choice of a non-streaming /v1/completions or /v1/chat/completions response, normalised. `path` names the
 * choice in error messages (pass `choices[2]` for the third). Throws a ResponseShapeError, one line naming the
 * field and what was expected, when a field it reads has the wrong type, or lists of one token each disagree in
 * length. Fields it does not read are not checked.
 */
export function normaliseChoice(choice: unknown, endpoint: Endpoint, path = 'choice'): NormalisedChoice {
  const c = record(choice, path);
  if (endpoint !== 'completions' && endpoint !== 'chat') throw new TypeError(`endpoint must be 'completions' or 'chat', got ${show(endpoint)}`);
  const index = nonNegativeInteger(c['index'], `${path}.index`);
  const text = endpoint === 'completions' ? completionText(c, path) : chatText(c, path);

  const lp = c['logprobs'];
  let parsed: { tokens: NormalisedToken[] | null; format: 'legacy' | 'chat' | 'none'; llama: boolean; postSampling: boolean; tokenPath: (i: number) => string };
  if (lp === undefined || lp === null) {
    parsed = { tokens: null, format: 'none', llama: false, postSampling: false, tokenPath: () => '' };
  } else {
    const o = record(lp, `${path}.logprobs`);
    if ('content' in o) parsed = { ...chatTokens(o['content'], `${path}.logprobs.content`), format: 'chat' };
    else if ('tokens' in o) parsed = { tokens: legacyTokens(o, `${path}.logprobs`), format: 'legacy', llama: false, postSampling: false, tokenPath: (i) => `${path}.logprobs.tokens[${i}]` };
    else throw new ResponseShapeError(`${path}.logprobs`, `${path}.logprobs must have tokens (the completions shape) or content (the chat shape), got ${show(lp)}`);
  }
  const { tokens } = parsed;

  // vLLM's token ids: the generated ones, and the prompt's (completions only). Under echo the logprobs cover the
  // prompt and the generation, so the ids line up with prompt_token_ids followed by token_ids.
  const serverIds = optionalIds(c['token_ids'], `${path}.token_ids`);
  const promptIds = optionalIds(c['prompt_token_ids'], `${path}.prompt_token_ids`);
  if (tokens && serverIds) {
    const lined = tokens.length === serverIds.length ? { ids: serverIds, from: 0 }
      : promptIds && tokens.length === promptIds.length + serverIds.length ? { ids: [...promptIds, ...serverIds], from: promptIds.length }
      : null;
    if (lined) {
      tokens.forEach((t, i) => {
        const id = lined.ids[i]!;
        if (t.token_id === null) t.token_id = id;
        else if (t.token_id !== id) {
          const other = i < lined.from ? `${path}.prompt_token_ids[${i}]` : `${path}.token_ids[${i - lined.from}]`;
          throw new ResponseShapeError(parsed.tokenPath(i), `${parsed.tokenPath(i)} names token id ${t.token_id}, but ${other} is ${id}`);
        }
      });
    }
  }
  const tokenIds = serverIds ?? (tokens && tokens.length > 0 && tokens.every((t) => t.token_id !== null) ? tokens.map((t) => t.token_id!) : null);

  const raw = c['finish_reason'];
  if (raw !== undefined && raw !== null && typeof raw !== 'string') fail(`${path}.finish_reason`, 'a string or null', raw);
  const rawFinish = typeof raw === 'string' ? raw : null;

  const stopReason = stopReasonOf(c, path);
  const wf = c['wander_finish_reason'];
  if (wf !== undefined && wf !== null && typeof wf !== 'string') fail(`${path}.wander_finish_reason`, 'a string or null', wf);

  const vllm = ['stop_reason', 'token_ids', 'prompt_token_ids', 'prompt_logprobs'].some((k) => k in c);
  const shape: ChoiceShape = parsed.llama ? 'llama.cpp' : vllm ? 'vllm' : parsed.format === 'legacy' ? 'openai-legacy' : parsed.format === 'chat' ? 'openai-chat' : 'none';

  return {
    index, text, tokens, token_ids: tokenIds, prompt_token_ids: promptIds,
    finish_reason: finishReason(rawFinish), raw_finish_reason: rawFinish, stop_reason: stopReason,
    wander_finish_reason: typeof wf === 'string' ? wf : null,
    post_sampling: parsed.postSampling, text_coverage: tokens ? coverage(tokens, text) : null, shape,
  };
}

/**
 * The probability mass the listed alternatives leave out, 1 − Σ exp(logprob), clamped at 0 (rounding can make
 * the sum exceed 1 by a hair). It is the mass of every token not listed: the chosen token's own when it is not
 * among them, and the whole unlisted tail. Alternatives must be distinct tokens, as every server lists them.
 * An empty list leaves out everything: 1.
 */
export function topLogprobsTail(top: readonly { logprob: number }[]): number {
  let sum = 0;
  for (const t of top) sum += Math.exp(t.logprob);
  return Math.max(0, 1 - sum);
}

/** The id in vLLM's "token_id:N" placeholder (written under `return_tokens_as_token_ids`), or null for any other text. */
export function tokenIdPlaceholder(token: string): number | null {
  const m = /^token_id:(\d{1,15})$/.exec(token);
  return m ? Number(m[1]) : null;
}

// --- the shapes ---

function completionText(c: Record<string, unknown>, path: string): string {
  if (!('text' in c) && 'message' in c) throw new ResponseShapeError(`${path}.text`, `${path}.text is missing; expected a string (this choice has a message: is it a /v1/chat/completions answer?)`);
  if (!('text' in c) && 'delta' in c) throw new ResponseShapeError(`${path}.text`, `${path}.text is missing; expected a string (this choice has a delta: streaming chunks are not choices)`);
  return string(c['text'], `${path}.text`);
}

function chatText(c: Record<string, unknown>, path: string): string {
  if (!('message' in c) && 'delta' in c) throw new ResponseShapeError(`${path}.message`, `${path}.message is missing; expected an object (this choice has a delta: streaming chunks are not choices)`);
  if (!('message' in c) && 'text' in c) throw new ResponseShapeError(`${path}.message`, `${path}.message is missing; expected an object (this choice has text: is it a /v1/completions answer?)`);
  const m = record(c['message'], `${path}.message`);
  const content = m['content'];
  if (content === undefined || content === null) return '';
  return string(content, `${path}.message.content`);
}

/** OpenAI's legacy lists: tokens, token_logprobs and top_logprobs, one entry per token. */
function legacyTokens(o: Record<string, unknown>, path: string): NormalisedToken[] {
  const tokens = list(o['tokens'], `${path}.tokens`, 'a list of token strings');
  const logprobs = list(o['token_logprobs'], `${path}.token_logprobs`, 'a list of numbers or nulls, one per token');
  sameLength(logprobs, `${path}.token_logprobs`, tokens, `${path}.tokens`);
  const tops = o['top_logprobs'];
  const topList = tops === undefined || tops === null ? null : list(tops, `${path}.top_logprobs`, 'a list of { token: logprob } objects, one per token, or null');
  if (topList) sameLength(topList, `${path}.top_logprobs`, tokens, `${path}.tokens`);
  return tokens.map((t, i) => {
    const token = string(t, `${path}.tokens[${i}]`);
    const lp = logprobs[i];
    const logprob = lp === null ? null : finite(lp, `${path}.token_logprobs[${i}]`, 'a number or null');
    const entry = topList ? topList[i] : null;
    let top: NormalisedAlternative[] = [];
    if (entry !== null && entry !== undefined) {
      const alts = record(entry, `${path}.top_logprobs[${i}]`, 'an object { token: logprob } or null');
      // Object keys that look like integers ("1", "42") come first in JS iteration order: sorting restores best-first.
      top = sortTop(Object.entries(alts).map(([k, v]) => ({ token: k, token_id: tokenIdPlaceholder(k), logprob: finite(v, `${path}.top_logprobs[${i}][${JSON.stringify(k)}]`, 'a number') })));
    }
    return { token, token_id: tokenIdPlaceholder(token), logprob, bytes: null, top };
  });
}

/** The chat shape's entries (OpenAI, vLLM, Ollama, Wander), llama.cpp's ids and post-sampling probabilities included. */
function chatTokens(v: unknown, path: string): { tokens: NormalisedToken[] | null; llama: boolean; postSampling: boolean; tokenPath: (i: number) => string } {
  const tokenPath = (i: number) => `${path}[${i}]`;
  // OpenAI writes content: null when the message is a refusal; there are no content logprobs then.
  if (v === null) return { tokens: null, llama: false, postSampling: false, tokenPath };
  const entries = list(v, path, 'a list of { token, logprob, bytes, top_logprobs } or null');
  let llama = false;
  let postSampling = false;
  const tokens = entries.map((e, i) => {
    const p = tokenPath(i);
    const at = entry(e, p);
    llama ||= at.hasId || at.post;
    postSampling ||= at.post;
    const o = e as Record<string, unknown>;
    const topField = 'top_logprobs' in o || !('top_probs' in o) ? 'top_logprobs' : 'top_probs';
    const tv = o[topField];
    const alts = tv === undefined || tv === null ? [] : list(tv, `${p}.${topField}`, 'a list of { token, logprob, bytes }');
    const top = sortTop(alts.map((a, j) => {
      const alt = entry(a, `${p}.${topField}[${j}]`);
      llama ||= alt.hasId || alt.post;
      postSampling ||= alt.post;
      return { token: alt.token, token_id: alt.token_id, logprob: alt.logprob };
    }));
    return { token: at.token, token_id: at.token_id, logprob: at.logprob, bytes: at.bytes, top };
  });
  return { tokens, llama, postSampling, tokenPath };
}

/** One chat-shape token or alternative: token, logprob (or llama.cpp's prob), optional bytes, optional id. */
function entry(v: unknown, path: string): { token: string; token_id: number | null; logprob: number; bytes: number[] | null; hasId: boolean; post: boolean } {
  const o = record(v, path);
  const token = string(o['token'], `${path}.token`);
  let logprob: number;
  let post = false;
  if ('logprob' in o || !('prob' in o)) logprob = finite(o['logprob'], `${path}.logprob`, 'a finite number');
  else {
    const p = finite(o['prob'], `${path}.prob`, 'a probability from 0 to 1');
    if (!(p >= 0 && p <= 1 + 1e-6)) fail(`${path}.prob`, 'a probability from 0 to 1', p);
    logprob = Math.log(p);
    post = true;
  }
  const hasId = o['id'] !== undefined && o['id'] !== null;
  const explicitId = hasId ? nonNegativeInteger(o['id'], `${path}.id`) : null;
  const placeholder = tokenIdPlaceholder(token);
  if (explicitId !== null && placeholder !== null && explicitId !== placeholder) {
    throw new ResponseShapeError(`${path}.id`, `${path}.id is ${explicitId}, but ${path}.token names token id ${placeholder}`);
  }
  let bytes = byteList(o['bytes'], `${path}.bytes`);
  // vLLM writes a placeholder's bytes as the bytes of "token_id:N" itself: they say nothing about the token.
  if (placeholder !== null && bytes && bytes.length === token.length && bytes.every((b, i) => b === token.charCodeAt(i))) bytes = null;
  return { token, token_id: explicitId ?? placeholder, logprob, bytes, hasId, post };
}

function stopReasonOf(c: Record<string, unknown>, path: string): string | number | null {
  for (const field of ['stop_reason', 'matched_stop']) {
    const v = c[field];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    fail(`${path}.${field}`, 'a stop string, a token id, or null', v);
  }
  return null;
}

/**
 * OpenAI's 'stop' and 'length', and the names other servers have used for them: Hugging Face TGI wrote
 * 'eos_token' and 'stop_sequence' before it aligned with OpenAI (huggingface/text-generation-inference#2344).
 */
const STOPS = new Set(['stop', 'eos_token', 'stop_sequence']);
const LENGTHS = new Set(['length']);

function finishReason(raw: string | null): 'stop' | 'length' | 'other' {
  return raw === null ? 'other' : STOPS.has(raw) ? 'stop' : LENGTHS.has(raw) ? 'length' : 'other';
}

function coverage(tokens: NormalisedToken[], text: string): TextCoverage | null {
  // Raw bytes, when every token has them, spell what the server decoded (a token may be part of a character).
  const allBytes = tokens.every((t) => t.bytes !== null);
  if (!allBytes && tokens.some((t) => tokenIdPlaceholder(t.token) !== null)) return null;
  const spelled = allBytes
    ? new TextDecoder().decode(Uint8Array.from(tokens.flatMap((t) => t.bytes!)))
    : tokens.map((t) => t.token).join('');
  if (spelled === text) return 'exact';
  if (text.startsWith(spelled)) return 'prefix';
  if (text.endsWith(spelled)) return 'suffix';
  if (spelled.startsWith(text)) return 'overrun';
  return 'mismatch';
}

function sortTop(top: NormalisedAlternative[]): NormalisedAlternative[] {
  return top.sort((a, b) => b.logprob - a.logprob);
}

// --- checks ---

function fail(path: string, expected: string, v: unknown): never {
  throw new ResponseShapeError(path, v === undefined ? `${path} is missing; expected ${expected}` : `${path} must be ${expected}, got ${show(v)}`);
}

function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function record(v: unknown, path: string, expected = 'an object'): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, expected, v);
  return v as Record<string, unknown>;
}

function list(v: unknown, path: string, expected: string): unknown[] {
  if (!Array.isArray(v)) fail(path, expected, v);
  return v;
}

function sameLength(a: unknown[], aPath: string, b: unknown[], bPath: string): void {
  if (a.length !== b.length) throw new ResponseShapeError(aPath, `${aPath} has ${a.length} entries, but ${bPath} has ${b.length}`);
}

function string(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, 'a string', v);
  return v;
}

function finite(v: unknown, path: string, expected: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, expected, v);
  return v;
}

function nonNegativeInteger(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(path, 'a non-negative integer', v);
  return v;
}

function optionalIds(v: unknown, path: string): number[] | null {
  if (v === undefined || v === null) return null;
  const ids = list(v, path, 'a list of token ids or null');
  return ids.map((id, i) => nonNegativeInteger(id, `${path}[${i}]`));
}

function byteList(v: unknown, path: string): number[] | null {
  if (v === undefined || v === null) return null;
  const bytes = list(v, path, 'a list of bytes (integers from 0 to 255) or null');
  return bytes.map((b, i) => {
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) fail(`${path}[${i}]`, 'a byte (an integer from 0 to 255)', b);
    return b;
  });
}
