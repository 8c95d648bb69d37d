import type { FastifyReply } from 'fastify';
import { parseSettings, type SettingsInput } from '../generate/settings.js';
import { HttpError } from './errors.js';

// Reading requests: the body checks shared by the HTTP thread and the engine's commands (each names
// the field it rejects and what is allowed), and noticing a client that leaves.

/** Splits a body into its command fields and its settings (everything else, validated by the schema). */
export function splitBody(body: unknown, own: readonly string[]): { fields: Record<string, unknown>; settings: SettingsInput } {
  const fields: Record<string, unknown> = {}, rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(bodyObject(body))) (own.includes(k) || k === 'model' ? fields : rest)[k] = v;
  noFiles(rest);
  return { fields, settings: parseSettings(rest) };
}

/** Nothing a request sends may make the server read a file. */
export function noFiles(settings: Record<string, unknown>): void {
  if ('patch_from' in settings) throw new HttpError(400, 'patch_from reads a file, and the server reads no file a request names: run patching with the CLI', 'patch_from');
}

/** A prompt as text (`prompt`) or as token ids (`prompt_ids`). */
export function promptOf(f: Record<string, unknown>): string | number[] {
  if (typeof f['prompt'] === 'string') return f['prompt'];
  const ids = f['prompt_ids'];
  if (Array.isArray(ids) && ids.length > 0 && ids.every((t) => Number.isInteger(t))) return ids as number[];
  throw new HttpError(400, 'give prompt (a string) or prompt_ids (a list of token ids)', 'prompt');
}

export function int(v: unknown, field: string, lo: number, hi: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new HttpError(400, `${field} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`, field);
  return v;
}

export const optionalInt = (v: unknown, field: string) => (v === undefined ? undefined : int(v, field, 0, 1e6, 0));

export function tokenField(v: unknown, field: string): string | number | undefined {
  if (v === undefined || typeof v === 'string' || typeof v === 'number') return v;
  throw new HttpError(400, `${field} must be text that is one token, or a token id`, field);
}

export function text(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new HttpError(400, `${field} must be a string`, field);
  return v;
}

/** The body as an object, or a 400. */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A signal that fires when the client goes away before its answer is written. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => { if (!reply.raw.writableFinished) ac.abort(); });
  return ac.signal;
}
