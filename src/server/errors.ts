import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isUserError } from '../errors.js';
import { settingOfFlag } from '../generate/settings.js';

/** An error with an HTTP status, answered in OpenAI's shape. */
export class HttpError extends Error {
  /** `retryAfter`: seconds, sent as Retry-After (with 503). */
  constructor(readonly status: number, message: string, readonly param: string | null = null, readonly code: string | null = null, readonly retryAfter?: number) {
    super(message);
  }
}

const TYPES: Record<number, string> = { 400: 'invalid_request_error', 401: 'authentication_error', 404: 'not_found_error', 413: 'invalid_request_error', 503: 'server_busy' };

/**
 * Every error as `{ error: { message, type, param, code } }`: a UserError (the CLI's one-line messages,
 * from the one settings schema) is a 400 naming its field; anything unexpected is a 500 without details.
 */
export function errorHandler(err: FastifyError | Error, _req: FastifyRequest, reply: FastifyReply): void {
  let status = 500, message = 'internal error', param: string | null = null, code: string | null = null;
  if (err instanceof HttpError) {
    ({ status, message, param, code } = err);
    if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
  }
  else if (isUserError(err)) { status = 400; message = fieldMessage(err.message); param = err.field ?? null; }
  else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode < 500) {
    // Fastify's own: a body that is not JSON (400), too large (413), a wrong content type (415).
    status = err.statusCode; message = err.message; code = (err as FastifyError).code ?? null;
  } else reply.log.error(err);
  reply.status(status).send({ error: { message, type: TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), param, code } });
}

/**
 * The library's messages name command-line flags ("--prompt is 401 tokens…"); over HTTP the same
 * message names the JSON field ("prompt is 401 tokens…").
 */
export function fieldMessage(message: string): string {
  return message.replace(/--([a-z][a-z-]*)/g, (whole, flag: string) => settingOfFlag(whole) ?? flag.replace(/-/g, '_'));
}
