import { UserError } from '../errors.js';
import { interventionEffect, prepareInterventions, type InterventionEffect } from '../interp/intervene.js';
import { inputIds } from '../interp/tokens.js';
import type { Hooks } from '../model/hooks.js';
import type { BackendInfo } from '../backends/capabilities.js';
import { Model } from '../model/load.js';
import type { GenerationModel } from './generate.js';
import { SamplingChain } from '../sampling/chain.js';
import { describeDistribution, type DistributionView } from '../sampling/describe.js';
import { rngFor } from '../sampling/rng.js';
import { vocabTexts } from '../tokenizer/vocab-texts.js';
import { resolveLogitBias } from './bias.js';
import { modelInfo, type ModelInfo } from './report.js';
import { resolveSettings, type Settings, type SettingSource, type SettingsInput } from './settings.js';

export type { NextCandidate } from '../sampling/describe.js';

/** What `wander next --json` prints: the chain's view of the distribution (describe.ts), with its context. */
export interface NextTokenDistribution extends Omit<DistributionView, 'chosen'> {
  model: ModelInfo;
  prompt: { text: string; token_ids: number[] };
  settings: Settings & { sources: Record<keyof Settings, SettingSource> };
  /** With interventions: what they did to the distribution (every probability above is the intervened model's). */
  intervention?: InterventionEffect;
  /**
   * With `logits: true`: the model's raw next-token logits (before any sampler), every one of them,
   * as little-endian float32 in base64 — what a page needs to re-run the sampling chain itself — and
   * the ids that end a generation.
   */
  logits?: { encoding: 'base64-f32le'; data: string; eos_ids: number[] };
  /** When another engine than Wander's computed the distribution (llama.cpp). */
  backend?: BackendInfo;
}

/**
 * The next-token distribution after `prompt`: the `top` most likely tokens with their raw probability,
 * what each stage of the chain did to them, and (with `draws` > 0) that many tokens drawn from the
 * final distribution with the run's seed, counted.
 */
export function nextTokenDistribution(model: Model, prompt: string | readonly number[], input: SettingsInput, opts: NextOptions = {}): NextTokenDistribution {
  const ids = nextIds(model, prompt, opts);
  const resolved = resolveSettings(input, model.generationDefaults);
  const intervention = prepareInterventions(model, ids, resolved.settings, resolved.settings.seed);
  const run = (hooks?: Hooks) => model.withScratch(() => model.forward(ids, model.newCache(ids.length), { hooks }));
  const logits = run(intervention?.hooks([0]));
  const out = nextFromLogits(model, prompt, ids, logits, resolved, opts);
  if (intervention) {
    const { intervention: _, draws, ...rest } = out;
    return { ...rest, intervention: interventionEffect(model.tokenizer, run(), logits, Math.min(opts.top ?? 20, model.config.vocabSize)), ...(draws ? { draws } : {}) };
  }
  return out;
}

export interface NextOptions { top?: number; draws?: number; logits?: boolean }

/** The prompt's token ids, once `top` and `draws` are checked. */
export function nextIds(model: GenerationModel, prompt: string | readonly number[], opts: NextOptions): number[] {
  const top = opts.top ?? 20, draws = opts.draws ?? 0;
  if (!Number.isInteger(top) || top < 1 || top > 1000) throw new UserError(`--top must be an integer from 1 to 1000, got ${top}`, 'top');
  if (!Number.isInteger(draws) || draws < 0 || draws > 1_000_000) throw new UserError(`--draw must be an integer from 0 to 1000000, got ${draws}`, 'draw');
  // Text is encoded as the tokenizer does; ids are used as given (re-encoding a text after a drawn
  // token can give other ids than the ones drawn).
  return inputIds(model, prompt);
}

/**
 * `next` from logits computed elsewhere (llama.cpp's, say): the chain's view of them, exactly as for
 * Wander's engine. `logits` may be any shift of the true ones (log-probabilities will do).
 */
export function nextFromLogits(
  model: GenerationModel | Model, prompt: string | readonly number[], ids: number[], logits: Float32Array,
  { settings, sources }: ReturnType<typeof resolveSettings>, opts: NextOptions = {},
): NextTokenDistribution {
  const top = opts.top ?? 20, draws = opts.draws ?? 0;
  const c = model.config, tok = model.tokenizer;
  // One step of the sampling chain has no beams to search: a decoder over whole sequences is refused,
  // not shown as if it were sampling (contrastive search's top_k would run as a truncation here).
  for (const [field, what] of [['num_beams', 'beam search'], ['penalty_alpha', 'contrastive search']] as const) {
    if (settings[field] !== (field === 'num_beams' ? 1 : 0)) throw new UserError(`--${field.replace('_', '-')} (${what}) decodes whole sequences, not one step of the sampling chain: run it with wander generate`, field);
  }
  const chain = new SamplingChain(settings, {
    logitBias: resolveLogitBias(settings.logit_bias, tok, c.vocabSize), bannedStrings: settings.banned_strings,
    eosIds: tok.eosIds, vocabTexts: () => vocabTexts(tok, c.vocabSize),
  });
  const ctx = { tokens: ids, promptLength: ids.length, text: '' };
  const text = (id: number) => tok.tokenText(id);
  const { chosen: _, draws: counted, ...view } = describeDistribution(chain, logits, ctx, rngFor(settings.seed, 0), { top, draws, text });
  const out: NextTokenDistribution = {
    model: model instanceof Model ? modelInfo(model) : model.describe?.() ?? modelInfo(model as Model),
    prompt: { text: typeof prompt === 'string' ? prompt : tok.decode(ids), token_ids: ids },
    settings: { ...settings, sources },
    ...view,
  };
  if (opts.logits) {
    const le = new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength);
    out.logits = { encoding: 'base64-f32le', data: Buffer.from(le).toString('base64'), eos_ids: [...tok.eosIds] };
  }
  if (counted) out.draws = counted;
  return out;
}
