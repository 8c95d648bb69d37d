import type { Run } from '../../../src/generate/report.js';
import type { SettingsInput } from '../../../src/generate/settings.js';

// The page's only way to the model: wander serve's JSON API. Every failure becomes an ApiError whose
// message is the server's own one line (a prompt too long, a bad setting) or says the server is gone.

export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

async function call<T>(path: string, body?: object): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch {
    throw new ApiError('the server is not answering: is wander serve still running?', 0);
  }
  const json = await res.json().catch(() => undefined) as { error?: { message?: string } } | undefined;
  if (!res.ok) throw new ApiError(json?.error?.message ?? `the server answered ${res.status}`, res.status);
  return json as T;
}

export interface Vocab { vocab_size: number; tokens: string[]; bos_id: number | null; eos_ids: number[]; generation_defaults: SettingsInput }

/** The part of POST /api/next's answer the page reads: the prompt's ids and the raw logits after it. */
export interface NextAnswer {
  prompt: { text: string; token_ids: number[] };
  logits: { encoding: 'base64-f32le'; data: string; eos_ids: number[] };
}

export const api = {
  models: async () => (await call<{ data: { id: string }[] }>('/v1/models')).data.map((m) => m.id),
  vocab: (model: string) => call<Vocab>(`/api/vocab?model=${encodeURIComponent(model)}`),
  /** `wander generate` on the server: the run report. */
  generate: (model: string, prompt: string, settings: SettingsInput, opts: { token_stats?: boolean } = {}) => call<Run>('/api/generate', { model, prompt, ...settings, ...opts }),
  /** One of Wander's commands (POST /api/NAME; GET without a body): exactly what `wander NAME --json` prints. */
  command: <T>(name: string, body: object | undefined) => call<T>(`/api/${name}`, body),
  /** The raw logits after a prompt (text, or token ids), with its ids. */
  logits: (model: string, prompt: string | number[]) => call<NextAnswer>('/api/next', {
    model, ...(typeof prompt === 'string' ? { prompt } : { prompt_ids: prompt }), top: 1, seed: 0, logits: true,
  }),
};

/** The base64 little-endian float32 logits as a Float32Array. */
export function decodeLogits(data: string): Float32Array {
  const bin = atob(data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}
