import type { FastifyInstance } from 'fastify';
import { bodyObject, clientGone, promptOf, splitBody } from './body.js';
import { COMMANDS } from './commands.js';
import { HttpError } from './errors.js';
import type { ModelRegistry } from './registry.js';

/**
 * Wander's own API: one endpoint per command, taking the command's settings in JSON (the same schema
 * and names as the CLI and experiment files) and returning exactly what the command's --json prints.
 * The commands run in the model's engine (commands.ts); this file only routes.
 */
export function apiRoutes(app: FastifyInstance, registry: ModelRegistry): void {
  const model = (body: unknown) => {
    const m = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['model'] : undefined;
    return registry.get(typeof m === 'string' ? m : undefined);
  };

  app.post('/api/generate', async (req, reply) => {
    const { fields, settings } = splitBody(req.body, ['prompt', 'prompt_ids', 'token_stats']);
    const tokenStats = fields['token_stats'] ?? false;
    if (typeof tokenStats !== 'boolean') throw new HttpError(400, `token_stats must be true or false, got ${JSON.stringify(tokenStats)}`, 'token_stats');
    return model(req.body).generate(promptOf(fields), settings, { compareClean: true, tokenStats, signal: clientGone(reply) });
  });

  app.get('/api/vocab', async (req, reply) => model(req.query).call('vocab', {}, clientGone(reply)));

  for (const command of Object.keys(COMMANDS)) {
    if (command === 'vocab') continue;
    const path = command === 'tokenize' || command === 'detokenize' ? `/${command}` : `/api/${command}`;
    app.post(path, async (req, reply) => {
      return model(req.body).call(command, bodyObject(req.body), clientGone(reply));
    });
  }
}
