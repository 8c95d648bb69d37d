import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HttpError } from './errors.js';

/** The web lab's production build (npm run build:web, part of npm ci). */
export const WEB_ROOT = fileURLToPath(new URL('../../build/web/', import.meta.url));

/**
 * The web lab at /: its built files, and index.html for each page's path (/explorer …), which the
 * page routes itself. Every answer is cross-origin isolated (COOP + COEP), which the page needs to
 * share WebAssembly memory — the sampling chain runs there on the same SIMD kernels as the CLI.
 */
export function webRoutes(app: FastifyInstance): void {
  app.addHook('onSend', async (_req, reply) => {
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-embedder-policy', 'require-corp');
  });
  if (!existsSync(WEB_ROOT)) {
    app.get('/', async () => { throw new HttpError(404, 'the web lab is not built here: run npm run build:web (npm ci does it)', null, 'web_lab_not_built'); });
    return;
  }
  void app.register(fastifyStatic, { root: WEB_ROOT, prefix: '/', wildcard: false, index: ['index.html'] });
  for (const page of PAGES) app.get(page, async (_req, reply) => reply.sendFile('index.html'));
}

/** The lab's pages (web/lab/src/app.tsx). */
const PAGES = ['/explorer', '/compare', '/diversity', '/inside', '/sweeps'];
