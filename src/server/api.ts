import type { FastifyInstance } from 'fastify';
import { generate } from '../generate/generate.js';
import { nextTokenDistribution } from '../generate/next.js';
import { parseSettings } from '../generate/settings.js';
import { attentionPatterns } from '../interp/attention.js';
import { directLogitAttribution } from '../interp/dla.js';
import { headAblationScan } from '../interp/heads.js';
import { logitLens } from '../interp/lens.js';
import { activationPatching } from '../interp/patch.js';
import { scoreTokens } from '../interp/score.js';
import { HttpError } from './errors.js';
import type { ModelRegistry } from './registry.js';

/**
 * Wander's own API: one endpoint per command, taking the command's settings in JSON (the same schema
 * and names as the CLI and experiment files) and returning exactly what the command's --json prints.
 */
export function apiRoutes(app: FastifyInstance, registry: ModelRegistry): void {
  /** Splits a body into its command fields and its settings (everything else, validated by the schema). */
  const split = (body: unknown, own: string[]) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
    const fields: Record<string, unknown> = {}, rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) (own.includes(k) ? fields : rest)[k] = v;
    if ('patch_from' in rest) throw new HttpError(400, 'patch_from reads a file, and the server reads no file a request names: run patching with the CLI', 'patch_from');
    return { fields, settings: parseSettings(rest) };
  };
  const prompt = (f: Record<string, unknown>): string | number[] => {
    if (typeof f['prompt'] === 'string') return f['prompt'];
    const ids = f['prompt_ids'];
    if (Array.isArray(ids) && ids.length > 0 && ids.every((t) => Number.isInteger(t))) return ids as number[];
    throw new HttpError(400, 'give prompt (a string) or prompt_ids (a list of token ids)', 'prompt');
  };
  const int = (v: unknown, field: string, lo: number, hi: number, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new HttpError(400, `${field} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`, field);
    return v;
  };

  app.post('/api/generate', async (req) => {
    const { fields, settings } = split(req.body, ['model', 'prompt', 'prompt_ids']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    return generate(model, prompt(fields), settings, { compareClean: true });
  });

  app.post('/api/next', async (req) => {
    const { fields, settings } = split(req.body, ['model', 'prompt', 'top', 'draw']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    if (typeof fields['prompt'] !== 'string') throw new HttpError(400, 'prompt must be a string', 'prompt');
    return nextTokenDistribution(model, fields['prompt'], settings, { top: int(fields['top'], 'top', 1, 1000, 20), draws: int(fields['draw'], 'draw', 0, 1_000_000, 0) });
  });

  app.post('/api/score', async (req) => {
    const { fields, settings } = split(req.body, ['model', 'text', 'ids']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    const input = typeof fields['text'] === 'string' ? fields['text'] : Array.isArray(fields['ids']) ? (fields['ids'] as number[]) : undefined;
    if (input === undefined) throw new HttpError(400, 'give text (a string) or ids (a list of token ids)', 'text');
    return scoreTokens(model, input, typeof input === 'string' ? 'text' : 'ids', { interventions: settings, seed: settings.seed ?? 0 });
  });

  const optionalInt = (v: unknown, field: string) => (v === undefined ? undefined : int(v, field, 0, 1e6, 0));
  const tokenField = (v: unknown, field: string): string | number | undefined => {
    if (v === undefined || typeof v === 'string' || typeof v === 'number') return v;
    throw new HttpError(400, `${field} must be text that is one token, or a token id`, field);
  };
  const text = (v: unknown, field: string): string => {
    if (typeof v !== 'string') throw new HttpError(400, `${field} must be a string`, field);
    return v;
  };

  app.post('/api/attention', async (req) => {
    const { fields } = split(req.body, ['model', 'prompt', 'prompt_ids', 'layer', 'head']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    return attentionPatterns(model, prompt(fields), { layer: optionalInt(fields['layer'], 'layer'), head: optionalInt(fields['head'], 'head') });
  });

  app.post('/api/heads', async (req) => {
    const { fields } = split(req.body, ['model', 'prompt', 'prompt_ids', 'mode']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    return headAblationScan(model, prompt(fields), { mode: fields['mode'] === undefined ? undefined : text(fields['mode'], 'mode') });
  });

  app.post('/api/patch', async (req) => {
    const { fields } = split(req.body, ['model', 'clean', 'corrupted', 'hook', 'target', 'foil']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    return activationPatching(model, text(fields['clean'], 'clean'), text(fields['corrupted'], 'corrupted'), {
      hook: fields['hook'] === undefined ? undefined : text(fields['hook'], 'hook'), target: tokenField(fields['target'], 'target'), foil: tokenField(fields['foil'], 'foil'),
    });
  });

  app.post('/api/dla', async (req) => {
    const { fields } = split(req.body, ['model', 'prompt', 'prompt_ids', 'target']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    return directLogitAttribution(model, prompt(fields), { target: tokenField(fields['target'], 'target') });
  });

  app.post('/tokenize', async (req) => {
    const { fields } = split(req.body, ['model', 'prompt']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    const tokens = model.tokenizer.encode(text(fields['prompt'], 'prompt'));
    return { tokens, count: tokens.length, max_model_len: model.config.contextLength };
  });

  app.post('/detokenize', async (req) => {
    const { fields } = split(req.body, ['model', 'tokens']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    const ids = fields['tokens'], V = model.config.vocabSize;
    if (!Array.isArray(ids) || !ids.every((t) => Number.isInteger(t) && t >= 0 && t < V)) throw new HttpError(400, `tokens must be a list of token ids from 0 to ${V - 1}`, 'tokens');
    return { prompt: model.tokenizer.decode(ids as number[]) };
  });

  app.post('/api/lens', async (req) => {
    const { fields, settings } = split(req.body, ['model', 'prompt', 'prompt_ids', 'target', 'top']);
    const { model } = await registry.get(fields['model'] as string | undefined);
    return logitLens(model, prompt(fields), { target: tokenField(fields['target'], 'target'), top: int(fields['top'], 'top', 1, 1000, 5), interventions: settings, seed: settings.seed ?? 0 });
  });
}
