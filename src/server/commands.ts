import type { GenerationModel } from '../generate/generate.js';
import { nextTokenDistribution, type NextOptions } from '../generate/next.js';
import type { SettingsInput } from '../generate/settings.js';
import { attentionPatterns } from '../interp/attention.js';
import { directLogitAttribution } from '../interp/dla.js';
import { headAblationScan } from '../interp/heads.js';
import { logitLens } from '../interp/lens.js';
import { activationPatching } from '../interp/patch.js';
import { scoreTokens } from '../interp/score.js';
import { cacheToJson, captureActivations } from '../interp/cache.js';
import type { Model } from '../model/load.js';
import { vocabTexts } from '../tokenizer/vocab-texts.js';
import { int, optionalInt, promptOf, splitBody, text, tokenField } from './body.js';
import { HttpError } from './errors.js';

/**
 * Wander's own API, model side: one function per command, taking the request body (the command's
 * settings in JSON: the same schema and names as the CLI and experiment files) and returning exactly
 * what the command's --json prints. They run in the engine's worker thread, between decoding steps.
 */
/** What one answer may carry. */
export const LIMITS = { cacheValues: 4_000_000 };

export type Command = (model: Model, body: Record<string, unknown>) => unknown;

/** What `next` reads from its body: the prompt, the settings, and top / draw / logits. */
export function nextRequest(body: Record<string, unknown>): { prompt: string | number[]; settings: SettingsInput; opts: NextOptions } {
  const { fields, settings } = splitBody(body, ['prompt', 'prompt_ids', 'top', 'draw', 'logits']);
  const logits = fields['logits'] ?? false;
  if (typeof logits !== 'boolean') throw new HttpError(400, `logits must be true or false, got ${JSON.stringify(logits)}`, 'logits');
  return { prompt: promptOf(fields), settings, opts: { top: int(fields['top'], 'top', 1, 1000, 20), draws: int(fields['draw'], 'draw', 0, 1_000_000, 0), logits } };
}

/** The commands that need only a tokenizer: they run on any engine that has one (llama.cpp's too). */
export const TOKENIZER_COMMANDS: Record<string, (model: GenerationModel, body: Record<string, unknown>) => unknown> = {
  vocab(model) {
    const tok = model.tokenizer, V = model.config.vocabSize;
    // With the model's generation defaults, a page resolves settings exactly as the server does.
    return { vocab_size: V, tokens: vocabTexts(tok, V), bos_id: tok.bosId ?? null, eos_ids: [...tok.eosIds], generation_defaults: model.generationDefaults };
  },

  tokenize(model, body) {
    const { fields } = splitBody(body, ['prompt']);
    const tokens = model.tokenizer.encode(text(fields['prompt'], 'prompt'));
    return { tokens, count: tokens.length, max_model_len: model.config.contextLength };
  },

  detokenize(model, body) {
    const { fields } = splitBody(body, ['tokens']);
    const ids = fields['tokens'], V = model.config.vocabSize;
    if (!Array.isArray(ids) || !ids.every((t) => Number.isInteger(t) && t >= 0 && t < V)) throw new HttpError(400, `tokens must be a list of token ids from 0 to ${V - 1}`, 'tokens');
    return { prompt: model.tokenizer.decode(ids as number[]) };
  },
};

export const COMMANDS: Record<string, Command> = {
  ...TOKENIZER_COMMANDS,

  next(model, body) {
    const { prompt, settings, opts } = nextRequest(body);
    return nextTokenDistribution(model, prompt, settings, opts);
  },

  cache(model, body) {
    const { fields } = splitBody(body, ['prompt', 'prompt_ids', 'hooks']);
    const hooks = fields['hooks'] ?? [];
    if (!Array.isArray(hooks) || !hooks.every((h) => typeof h === 'string')) throw new HttpError(400, 'hooks must be a list of hook-name patterns such as "blocks.*.hook_resid_post"', 'hooks');
    const cache = captureActivations(model, promptOf(fields), hooks.length ? { hooks } : {});
    const values = cache.activations.reduce((n, a) => n + a.data.length, 0);
    if (values > LIMITS.cacheValues) {
      throw new HttpError(400, `these hooks hold ${values} values, more than the ${LIMITS.cacheValues} one answer may carry: choose fewer with hooks (e.g. ["blocks.0.*"])`, 'hooks');
    }
    return cacheToJson(cache);
  },

  score(model, body) {
    const { fields, settings } = splitBody(body, ['text', 'ids']);
    const input = typeof fields['text'] === 'string' ? fields['text'] : Array.isArray(fields['ids']) ? (fields['ids'] as number[]) : undefined;
    if (input === undefined) throw new HttpError(400, 'give text (a string) or ids (a list of token ids)', 'text');
    return scoreTokens(model, input, typeof input === 'string' ? 'text' : 'ids', { interventions: settings, seed: settings.seed ?? 0 });
  },

  lens(model, body) {
    const { fields, settings } = splitBody(body, ['prompt', 'prompt_ids', 'target', 'top']);
    return logitLens(model, promptOf(fields), { target: tokenField(fields['target'], 'target'), top: int(fields['top'], 'top', 1, 1000, 5), interventions: settings, seed: settings.seed ?? 0 });
  },

  attention(model, body) {
    const { fields } = splitBody(body, ['prompt', 'prompt_ids', 'layer', 'head']);
    return attentionPatterns(model, promptOf(fields), { layer: optionalInt(fields['layer'], 'layer'), head: optionalInt(fields['head'], 'head') });
  },

  heads(model, body) {
    const { fields } = splitBody(body, ['prompt', 'prompt_ids', 'mode']);
    return headAblationScan(model, promptOf(fields), { mode: fields['mode'] === undefined ? undefined : text(fields['mode'], 'mode') });
  },

  patch(model, body) {
    const { fields } = splitBody(body, ['clean', 'corrupted', 'hook', 'target', 'foil']);
    return activationPatching(model, text(fields['clean'], 'clean'), text(fields['corrupted'], 'corrupted'), {
      hook: fields['hook'] === undefined ? undefined : text(fields['hook'], 'hook'), target: tokenField(fields['target'], 'target'), foil: tokenField(fields['foil'], 'foil'),
    });
  },

  dla(model, body) {
    const { fields } = splitBody(body, ['prompt', 'prompt_ids', 'target']);
    return directLogitAttribution(model, promptOf(fields), { target: tokenField(fields['target'], 'target') });
  },
};
