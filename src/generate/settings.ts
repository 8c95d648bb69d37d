import { z } from 'zod';
import { UserError } from '../errors.js';
import type { GenerationDefaults } from '../model/source.js';
import { randomSeed } from '../sampling/rng.js';

/**
 * The decoding settings, validated by one schema wherever they come from (CLI flags, JSON bodies,
 * experiment files), so the same mistake always gets the same message.
 */
const int = (what: string) => z.number({ error: `must be ${what}` }).int({ error: `must be ${what}` });

export const SettingsSchema = z.object({
  temperature: z.number({ error: 'must be a number ≥ 0' }).min(0, { error: 'must be a number ≥ 0 (0 = greedy)' }).max(1e6, { error: 'must be at most 1e6' }),
  top_k: int('an integer ≥ 0 (0 = off)').min(0, { error: 'must be an integer ≥ 0 (0 = off)' }),
  top_p: z.number({ error: 'must be a number in (0, 1]' }).gt(0, { error: 'must be in (0, 1] (1 = off)' }).max(1, { error: 'must be in (0, 1] (1 = off)' }),
  seed: int('an integer from 0 to 2^53 − 1').min(0, { error: 'must be an integer from 0 to 2^53 − 1' }).max(Number.MAX_SAFE_INTEGER, { error: 'must be an integer from 0 to 2^53 − 1' }),
  max_tokens: int('an integer ≥ 1').min(1, { error: 'must be an integer ≥ 1' }).max(1_000_000, { error: 'must be at most 1000000' }),
  stop: z.array(z.string({ error: 'must be a list of strings' }).min(1, { error: 'must not contain an empty string' }), { error: 'must be a list of strings' }).max(16, { error: 'takes at most 16 strings' }),
  top_logprobs: int('an integer from 0 to 100').min(0, { error: 'must be an integer from 0 to 100' }).max(100, { error: 'must be an integer from 0 to 100' }),
});

export type Settings = z.infer<typeof SettingsSchema>;
export type SettingsInput = Partial<Settings>;
export type SettingSource = 'flag' | 'generation_config.json' | 'default' | 'random';

/** Wander's own defaults: the model's raw distribution (no filtering) unless the model or the user says otherwise. */
export const DEFAULTS: Omit<Settings, 'seed'> = { temperature: 1, top_k: 0, top_p: 1, max_tokens: 128, stop: [], top_logprobs: 0 };

/** How a field is named to the person who set it: `--top-p` on the command line, `top_p` in JSON. */
export type FieldNaming = (field: string) => string;
export const cliNaming: FieldNaming = (f) => `--${f.replaceAll('_', '-')}`;
export const jsonNaming: FieldNaming = (f) => f;

/** Validates user-given settings; the first problem becomes a UserError naming the field and what is allowed. */
export function parseSettings(input: Record<string, unknown>, naming: FieldNaming = jsonNaming): SettingsInput {
  const result = SettingsSchema.partial().strict().safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const allowed = Object.keys(SettingsSchema.shape).map(naming).join(', ');
    throw new UserError(`unknown setting ${naming(String(issue.keys[0]))} (allowed: ${allowed})`, String(issue.keys[0]));
  }
  const field = String(issue.path[0]);
  const got = input[field];
  throw new UserError(`${naming(field)} ${issue.message}, got ${JSON.stringify(got)}`, field);
}

export interface ResolvedSettings {
  settings: Settings;
  /** Where each value came from. */
  sources: Record<keyof Settings, SettingSource>;
}

/** The settings actually used: the user's, else the model's generation_config.json, else Wander's defaults. */
export function resolveSettings(user: SettingsInput, model: GenerationDefaults): ResolvedSettings {
  const settings = {} as Record<string, unknown>;
  const sources = {} as Record<string, SettingSource>;
  for (const key of Object.keys(SettingsSchema.shape) as (keyof Settings)[]) {
    if (user[key] !== undefined) { settings[key] = user[key]; sources[key] = 'flag'; continue; }
    const fromModel = (model as Record<string, unknown>)[key];
    if (fromModel !== undefined) { settings[key] = fromModel; sources[key] = 'generation_config.json'; continue; }
    if (key === 'seed') { settings[key] = randomSeed(); sources[key] = 'random'; continue; }
    settings[key] = DEFAULTS[key];
    sources[key] = 'default';
  }
  return { settings: settings as Settings, sources: sources as ResolvedSettings['sources'] };
}
