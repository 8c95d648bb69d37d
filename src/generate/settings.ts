import { z } from 'zod';
import { UserError } from '../errors.js';
import type { GenerationDefaults } from '../model/source.js';
import { parseAblation, parseNoise, parsePatchFrom } from '../interp/intervention-specs.js';
import { randomSeed } from '../sampling/rng.js';

/**
 * The decoding settings, validated by one schema wherever they come from (CLI flags, JSON bodies,
 * experiment files), so the same mistake always gets the same message.
 */
const number = (what: string) => z.number({ error: `must be ${what}` });
const int = (what: string) => number(what).int({ error: `must be ${what}` });
const range = (lo: number, hi: number, what: string) => number(what).min(lo, { error: `must be ${what}` }).max(hi, { error: `must be ${what}` });
const intRange = (lo: number, hi: number, what: string) => int(what).min(lo, { error: `must be ${what}` }).max(hi, { error: `must be ${what}` });

const BiasEntry = z.object({
  token_id: z.number().int().min(0).optional(),
  text: z.string().min(1).optional(),
  bias: z.union([z.number(), z.literal('-inf')]),
}).strict().refine((b) => (b.token_id === undefined) !== (b.text === undefined), { error: 'each entry needs exactly one of token_id or text' });

/** A list of intervention strings, each checked by its parser (which says what the syntax is). */
const specs = (parse: (s: string) => unknown) => z.array(z.string({ error: 'must be a list of strings' }).superRefine((spec, ctx) => {
  try {
    parse(spec);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
}), { error: 'must be a list of strings' }).max(256, { error: 'takes at most 256 entries' });

export const SettingsSchema = z.object({
  temperature: range(0, 1e6, 'a number ≥ 0 (0 = greedy)'),
  top_k: intRange(0, 1e9, 'an integer ≥ 0 (0 = off)'),
  top_p: number('in (0, 1] (1 = off)').gt(0, { error: 'must be in (0, 1] (1 = off)' }).max(1, { error: 'must be in (0, 1] (1 = off)' }),
  min_p: range(0, 1, 'in [0, 1] (0 = off)'),
  typical_p: number('in (0, 1] (1 = off)').gt(0, { error: 'must be in (0, 1] (1 = off)' }).max(1, { error: 'must be in (0, 1] (1 = off)' }),
  epsilon_cutoff: number('in [0, 1) (0 = off)').min(0, { error: 'must be in [0, 1) (0 = off)' }).lt(1, { error: 'must be in [0, 1) (0 = off)' }),
  eta_cutoff: number('in [0, 1) (0 = off)').min(0, { error: 'must be in [0, 1) (0 = off)' }).lt(1, { error: 'must be in [0, 1) (0 = off)' }),
  top_n_sigma: range(0, 1e6, 'a number ≥ 0 (0 = off)'),
  repetition_penalty: number('a number > 0 (1 = off)').gt(0, { error: 'must be a number > 0 (1 = off)' }).max(1e6, { error: 'must be at most 1e6' }),
  frequency_penalty: range(-2, 2, 'in [-2, 2] (0 = off)'),
  presence_penalty: range(-2, 2, 'in [-2, 2] (0 = off)'),
  penalty_window: intRange(0, 1e9, 'an integer ≥ 0 (0 = the whole sequence)'),
  no_repeat_ngram_size: intRange(0, 1e6, 'an integer ≥ 0 (0 = off)'),
  logit_bias: z.array(BiasEntry, { error: 'must be a list of { token_id | text, bias }' }).max(10000),
  banned_strings: z.array(z.string({ error: 'must be a list of strings' }).min(1, { error: 'must not contain an empty string' }), { error: 'must be a list of strings' }).max(1000),
  min_new_tokens: intRange(0, 1e6, 'an integer ≥ 0'),
  min_tokens_to_keep: intRange(1, 1e9, 'an integer ≥ 1'),
  chain: z.union([z.string({ error: 'must be hf, llama.cpp or a list of stages' }), z.array(z.string()).min(1)], { error: 'must be hf, llama.cpp or a list of stages' }),
  seed: intRange(0, Number.MAX_SAFE_INTEGER, 'an integer from 0 to 2^53 − 1'),
  max_tokens: intRange(1, 1_000_000, 'an integer from 1 to 1000000'),
  stop: z.array(z.string({ error: 'must be a list of strings' }).min(1, { error: 'must not contain an empty string' }), { error: 'must be a list of strings' }).max(16, { error: 'takes at most 16 strings' }),
  top_logprobs: intRange(0, 100, 'an integer from 0 to 100'),
  n: intRange(1, 100_000, 'an integer from 1 to 100000'),
  max_batch_size: intRange(1, 64, 'an integer from 1 to 64'),
  trace: intRange(0, 100, 'an integer from 0 to 100 (candidates shown per step; 0 = off)'),
  // Interventions on the forward pass (see src/interp/intervene.ts for the syntax).
  ablate: specs(parseAblation),
  noise: specs(parseNoise),
  patch_from: specs(parsePatchFrom),
});

export type Settings = z.infer<typeof SettingsSchema>;
export type SettingsInput = Partial<Settings>;
export type SettingSource = 'flag' | 'generation_config.json' | 'default' | 'random';

/**
 * Wander's own defaults: the model's raw distribution — nothing truncated unless the user or the
 * model's generation_config asks (no implicit top_k = 50).
 */
export const DEFAULTS: Omit<Settings, 'seed'> = {
  temperature: 1, top_k: 0, top_p: 1, min_p: 0, typical_p: 1, epsilon_cutoff: 0, eta_cutoff: 0, top_n_sigma: 0,
  repetition_penalty: 1, frequency_penalty: 0, presence_penalty: 0, penalty_window: 0, no_repeat_ngram_size: 0,
  logit_bias: [], banned_strings: [], min_new_tokens: 0, min_tokens_to_keep: 1, chain: 'hf',
  max_tokens: 128, stop: [], top_logprobs: 0, n: 1, max_batch_size: 8, trace: 0,
  ablate: [], noise: [], patch_from: [],
};

/** How a field is named to the person who set it: `--top-p` on the command line, `top_p` in JSON. */
export type FieldNaming = (field: string) => string;
const CLI_NAMES: Record<string, string> = {
  logit_bias: '--bias', banned_strings: '--ban', epsilon_cutoff: '--epsilon', eta_cutoff: '--eta',
  no_repeat_ngram_size: '--no-repeat-ngram', min_tokens_to_keep: '--min-keep',
};
export const cliNaming: FieldNaming = (f) => CLI_NAMES[f] ?? `--${f.replaceAll('_', '-')}`;
export const jsonNaming: FieldNaming = (f) => f;

/** Validates user-given settings; the first problem becomes a UserError naming the field and what is allowed. */
export function parseSettings(input: Record<string, unknown>, naming: FieldNaming = jsonNaming): SettingsInput {
  const result = SettingsSchema.partial().strict().safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const allowed = Object.keys(SettingsSchema.shape).map(naming).join(', ');
      throw new UserError(`unknown setting ${naming(String(issue.keys[0]))} (allowed: ${allowed})`, String(issue.keys[0]));
    }
    const field = String(issue.path[0]);
    const got = input[field];
    const message = issue.path.length > 1 ? `entry ${JSON.stringify(got instanceof Array ? got[Number(issue.path[1])] : got)}: ${issue.message}` : `${issue.message}, got ${JSON.stringify(got)}`;
    throw new UserError(`${naming(field)} ${message}`, field);
  }
  checkConsistent(result.data, naming);
  return result.data;
}

/** Settings that are each valid but contradict each other (checked where both are known). */
function checkConsistent(s: SettingsInput, naming: FieldNaming): void {
  if (s.min_new_tokens !== undefined && s.max_tokens !== undefined && s.min_new_tokens > s.max_tokens) {
    throw new UserError(`${naming('min_new_tokens')} (${s.min_new_tokens}) must not exceed ${naming('max_tokens')} (${s.max_tokens})`, 'min_new_tokens');
  }
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
    // A model's generation_config may hold values Wander would reject from a user: those are skipped.
    if (fromModel !== undefined && SettingsSchema.shape[key].safeParse(fromModel).success) { settings[key] = fromModel; sources[key] = 'generation_config.json'; continue; }
    if (key === 'seed') { settings[key] = randomSeed(); sources[key] = 'random'; continue; }
    settings[key] = DEFAULTS[key];
    sources[key] = 'default';
  }
  checkConsistent(settings as Settings, cliNaming);
  return { settings: settings as Settings, sources: sources as ResolvedSettings['sources'] };
}
