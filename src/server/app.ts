import Fastify, { type FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { apiRoutes } from './api.js';
import { errorHandler, HttpError } from './errors.js';
import { openaiRoutes } from './openai.js';
import { sweepRoutes } from './sweeps.js';
import { webRoutes } from './web.js';
import type { ModelRegistry } from './registry.js';

export interface ServerOptions {
  registry: ModelRegistry;
  /** When set, every API request (/v1, /api, /tokenize, /detokenize) needs `Authorization: Bearer KEY`. */
  apiKey?: string;
  /** Largest request body, bytes (default 1 MiB). */
  bodyLimit?: number;
  /** A results database (wander sweep) to serve under /api/sweeps. */
  db?: string;
  /** On close, how long requests in flight may take to finish before they are cancelled with 503 (default 10 s). */
  graceMs?: number;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The server as a Fastify app, built by a function so that tests start it on a free loopback port and
 * close it. Handlers only turn HTTP into library calls and back; errors come out in OpenAI's shape.
 */
export function buildServer(opts: ServerOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: opts.bodyLimit ?? 1 << 20, logger: false });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { message: `no route ${req.method} ${req.url}`, type: 'not_found_error', param: null, code: 'route_not_found' } });
  });
  if (opts.apiKey) {
    const expected = `Bearer ${opts.apiKey}`;
    app.addHook('onRequest', async (req) => {
      // The web lab's files hold no data (its requests to the API carry the key); /health is public.
      if (!/^\/(v1|api|tokenize|detokenize)(\/|\?|$)/.test(req.url)) return;
      if (req.headers.authorization !== expected) throw new HttpError(401, 'a valid API key is needed: Authorization: Bearer <key>', null, 'invalid_api_key');
    });
  }
  app.get('/health', async () => ({ status: 'ok', version: VERSION, models: opts.registry.ids, queues: opts.registry.status() }));
  openaiRoutes(app, opts.registry, VERSION);
  apiRoutes(app, opts.registry);
  sweepRoutes(app, opts.db);
  webRoutes(app);
  // Closing: new requests get 503 (Fastify's return503OnClosing) and those in flight have graceMs to
  // finish, then are cancelled (503). A client's keep-alive connection would hold the close open until
  // it times out, so idle ones are closed as soon as their last answer is written.
  let reaper: NodeJS.Timeout | undefined, deadline: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    reaper = setInterval(() => app.server.closeIdleConnections(), 50);
    deadline = setTimeout(() => void opts.registry.close(0), opts.graceMs ?? 10_000);
  });
  app.addHook('onClose', async () => {
    clearInterval(reaper);
    clearTimeout(deadline);
    await opts.registry.close(0);
  });
  return app;
}
