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
  // DRY (llama.cpp's "don't repeat yourself" penalty; 0 = off).
  dry_multiplier: range(0, 1e6, 'a number ≥ 0 (0 = off)'),
  dry_base: number('a number ≥ 1').min(1, { error: 'must be a number ≥ 1' }).max(1e6, { error: 'must be at most 1e6' }),
  dry_allowed_length: intRange(0, 1e6, 'an integer ≥ 0'),
  dry_penalty_last_n: intRange(-1, 1e9, 'an integer ≥ -1 (-1 = the whole context, 0 = off)'),
  dry_sequence_breakers: z.array(z.string({ error: 'must be a list of strings' }).min(1, { error: 'must not contain an empty string' }), { error: 'must be a list of strings' }).max(64, { error: 'takes at most 64 strings' }),
  // XTC ("exclude top choices"; probability 0 = off).
  xtc_probability: range(0, 1, 'in [0, 1] (0 = off)'),
  xtc_threshold: range(0, 1, 'in [0, 1] (above 0.5 = off)'),
  // Mirostat (0 = off, 1 = v1, 2 = v2).
  mirostat: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'must be 0 (off), 1 or 2' }),
  mirostat_tau: range(0, 1e6, 'a number ≥ 0 (target surprise, bits)'),
  mirostat_eta: range(0, 1, 'in [0, 1] (learning rate)'),
  // Dynamic temperature (llama.cpp) and quadratic/cubic smoothing (text-generation-webui).
  dynatemp_range: range(0, 1e6, 'a number ≥ 0 (0 = off)'),
  dynatemp_exponent: number('a number > 0').gt(0, { error: 'must be a number > 0' }).max(1e6, { error: 'must be at most 1e6' }),
  smoothing_factor: range(0, 1e6, 'a number ≥ 0 (0 = off)'),
  smoothing_curve: range(1, 1e6, 'a number ≥ 1 (1 = quadratic)'),
  // Top-H (Hugging Face's TopHLogitsWarper; 0 = off).
  top_h: range(0, 1, 'in [0, 1] (0 = off)'),
  // Beam search (Hugging Face generate() semantics; 1 beam = off) and contrastive search (0 = off).
  num_beams: intRange(1, 64, 'an integer from 1 to 64 (1 = no beam search)'),
  length_penalty: range(-1e3, 1e3, 'a number from -1000 to 1000 (scores are divided by length^L)'),
  early_stopping: z.union([z.boolean(), z.literal('never')], { error: 'must be true, false or "never"' }),
  num_return_sequences: intRange(1, 64, 'an integer from 1 to 64'),
  do_sample: z.boolean({ error: 'must be true or false' }),
  num_beam_groups: intRange(1, 64, 'an integer from 1 to 64 (1 = one group)'),
  diversity_penalty: range(0, 1e6, 'a number ≥ 0 (0 = off)'),
  penalty_alpha: range(0, 1, 'in [0, 1] (0 = off)'),
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
  logit_bias: [], banned_strings: [], min_new_tokens: 0, min_tokens_to_keep: 1,
  dry_multiplier: 0, dry_base: 1.75, dry_allowed_length: 2, dry_penalty_last_n: -1, dry_sequence_breakers: ['\n', ':', '"', '*'],
  xtc_probability: 0, xtc_threshold: 0.1, mirostat: 0, mirostat_tau: 5, mirostat_eta: 0.1,
  dynatemp_range: 0, dynatemp_exponent: 1, smoothing_factor: 0, smoothing_curve: 1, top_h: 0,
  num_beams: 1, length_penalty: 1, early_stopping: false, num_return_sequences: 1, do_sample: false, num_beam_groups: 1, diversity_penalty: 0, penalty_alpha: 0,
  chain: 'hf',
  max_tokens: 128, stop: [], top_logprobs: 0, n: 1, max_batch_size: 8, trace: 0,
  ablate: [], noise: [], patch_from: [],
};

/** How a field is named to the person who set it: `--top-p` on the command line, `top_p` in JSON. */
export type FieldNaming = (field: string) => string;
const CLI_NAMES: Record<string, string> = {
  logit_bias: '--bias', banned_strings: '--ban', epsilon_cutoff: '--epsilon', eta_cutoff: '--eta',
  no_repeat_ngram_size: '--no-repeat-ngram', min_tokens_to_keep: '--min-keep', dry_sequence_breakers: '--dry-sequence-breaker',
};
export const cliNaming: FieldNaming = (f) => CLI_NAMES[f] ?? `--${f.replaceAll('_', '-')}`;
export const jsonNaming: FieldNaming = (f) => f;

/** The setting a command-line flag names (`--min-keep` → min_tokens_to_keep), or undefined for another flag. */
export function settingOfFlag(flag: string): keyof Settings | undefined {
  return (Object.keys(SettingsSchema.shape) as (keyof Settings)[]).find((f) => cliNaming(f) === flag);
}

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
  checkConsistent(result.data, naming, true);
  return result.data;
}

/**
 * The sampling warpers (temperature and truncation) that are set to something other than neutral:
 * beam and contrastive search do not sample, and mirostat chooses its own truncation, so these
 * cannot run with them.
 */
function activeWarpers(m: Settings | Omit<Settings, 'seed'>): (keyof Settings)[] {
  const on: [keyof Settings, boolean][] = [
    ['temperature', m.temperature !== 1], ['top_k', m.top_k > 0], ['top_p', m.top_p < 1], ['min_p', m.min_p > 0], ['typical_p', m.typical_p < 1],
    ['epsilon_cutoff', m.epsilon_cutoff > 0], ['eta_cutoff', m.eta_cutoff > 0], ['top_n_sigma', m.top_n_sigma > 0], ['top_h', m.top_h > 0],
    ['xtc_probability', m.xtc_probability > 0], ['dynatemp_range', m.dynatemp_range > 0], ['smoothing_factor', m.smoothing_factor > 0], ['mirostat', m.mirostat > 0],
  ];
  return on.filter(([, active]) => active).map(([field]) => field);
}

/** The warpers each decoder refuses (beams and contrastive search do not sample; mirostat truncates by itself). */
function conflictingWarpers(m: Settings | Omit<Settings, 'seed'>, naming: FieldNaming = jsonNaming): { decoder: keyof Settings; fields: (keyof Settings)[]; why: string } | undefined {
  const warpers = activeWarpers(m);
  if (m.num_beams > 1 && m.do_sample) {
    // Beam sampling (HF's beam sample) runs Hugging Face's warpers on each beam's log-probabilities.
    const hf = new Set<keyof Settings>(['temperature', 'top_k', 'top_p', 'min_p', 'typical_p', 'epsilon_cutoff', 'eta_cutoff', 'top_h']);
    return { decoder: 'do_sample', fields: warpers.filter((f) => !hf.has(f)), why: 'beam sampling runs Hugging Face\'s warpers only (temperature, top_k, top_p, min_p, typical_p, epsilon_cutoff, eta_cutoff, top_h)' };
  }
  if (m.num_beams > 1) return { decoder: 'num_beams', fields: warpers, why: `beam search ranks beams by the model's log-probabilities and draws nothing (for sampled beams set ${naming('do_sample')})` };
  if (m.penalty_alpha > 0) return { decoder: 'penalty_alpha', fields: warpers.filter((f) => f !== 'top_k'), why: 'contrastive search picks among the top_k candidates deterministically and draws nothing' };
  if (m.mirostat > 0) {
    return { decoder: 'mirostat', fields: warpers.filter((f) => f !== 'mirostat' && f !== 'temperature'), why: 'mirostat chooses its own truncation after a plain temperature (llama.cpp runs it in place of the other samplers)' };
  }
  return undefined;
}

/** Settings a model's generation_config.json may set (see GenerationDefaults): unknown until a model is resolved. */
const MODEL_FIELDS = new Set<string>(['temperature', 'top_k', 'top_p', 'min_p', 'typical_p', 'epsilon_cutoff', 'eta_cutoff', 'repetition_penalty', 'no_repeat_ngram_size', 'max_tokens']);

/** Two or more settings that contradict each other: the fields it reads, when it is broken, the field blamed and why. */
interface Rule {
  reads: (keyof Settings)[];
  broken: (m: Omit<Settings, 'seed'>) => boolean;
  field: keyof Settings;
  why: (m: Omit<Settings, 'seed'>, naming: FieldNaming) => string;
}

const RULES: Rule[] = [
  { reads: ['min_new_tokens', 'max_tokens'], broken: (m) => m.min_new_tokens > m.max_tokens, field: 'min_new_tokens', why: (m, n) => `(${m.min_new_tokens}) must not exceed ${n('max_tokens')} (${m.max_tokens})` },
  { reads: ['num_beams', 'penalty_alpha'], broken: (m) => m.num_beams > 1 && m.penalty_alpha > 0, field: 'penalty_alpha', why: (m, n) => `(contrastive search) cannot run with ${n('num_beams')} ${m.num_beams}: choose one decoder` },
  { reads: ['num_beams', 'n'], broken: (m) => m.num_beams > 1 && m.n > 1, field: 'n', why: (_, n) => `must be 1 with beam search, which returns its best beams rather than samples: use ${n('num_return_sequences')} instead` },
  { reads: ['num_return_sequences', 'num_beams'], broken: (m) => m.num_return_sequences > 1 && m.num_beams === 1, field: 'num_return_sequences', why: (m, n) => `needs beam search (${n('num_beams')} ≥ ${m.num_return_sequences}); for several samples use ${n('n')}` },
  { reads: ['num_return_sequences', 'num_beams'], broken: (m) => m.num_return_sequences > m.num_beams, field: 'num_return_sequences', why: (m, n) => `(${m.num_return_sequences}) must not exceed ${n('num_beams')} (${m.num_beams})` },
  { reads: ['length_penalty', 'num_beams'], broken: (m) => m.length_penalty !== 1 && m.num_beams === 1, field: 'length_penalty', why: (_, n) => `scores finished beams: it needs beam search (${n('num_beams')} ≥ 2)` },
  { reads: ['early_stopping', 'num_beams'], broken: (m) => m.early_stopping !== false && m.num_beams === 1, field: 'early_stopping', why: (_, n) => `decides when beam search stops: it needs beam search (${n('num_beams')} ≥ 2)` },
  { reads: ['do_sample', 'num_beams'], broken: (m) => m.do_sample && m.num_beams === 1, field: 'do_sample', why: (_, n) => `applies to beam search (${n('num_beams')} ≥ 2: Hugging Face's beam sampling); without beams Wander samples unless temperature is 0` },
  { reads: ['num_beam_groups', 'num_beams'], broken: (m) => m.num_beam_groups > 1 && m.num_beams === 1, field: 'num_beam_groups', why: (m, n) => `needs beam search: set ${n('num_beams')} to a multiple of ${m.num_beam_groups}` },
  { reads: ['num_beam_groups', 'num_beams'], broken: (m) => m.num_beam_groups > 1 && m.num_beams % m.num_beam_groups !== 0, field: 'num_beam_groups', why: (m, n) => `(${m.num_beam_groups}) must divide ${n('num_beams')} (${m.num_beams}) into equal groups` },
  { reads: ['num_beam_groups', 'do_sample'], broken: (m) => m.num_beam_groups > 1 && m.do_sample, field: 'num_beam_groups', why: (_, n) => `(diverse beam search) cannot run with ${n('do_sample')}: Hugging Face's group beam search does not sample` },
  { reads: ['diversity_penalty', 'num_beam_groups'], broken: (m) => m.diversity_penalty > 0 && m.num_beam_groups === 1, field: 'diversity_penalty', why: (_, n) => `acts between beam groups: set ${n('num_beam_groups')} to 2 or more` },
  { reads: ['num_beam_groups', 'diversity_penalty'], broken: (m) => m.num_beam_groups > 1 && m.diversity_penalty === 0, field: 'diversity_penalty', why: (m, n) => `must be above 0 with ${n('num_beam_groups')} ${m.num_beam_groups}: without it every group runs the same search and returns the same beams (Hugging Face refuses it too)` },
  { reads: ['do_sample', 'num_beams', 'temperature'], broken: (m) => m.do_sample && m.num_beams > 1 && m.temperature === 0, field: 'temperature', why: (_, n) => `0 cannot be used with ${n('do_sample')}: beam sampling draws from the warped distribution, which needs a temperature above 0 (Hugging Face refuses 0 too)` },
  { reads: ['penalty_alpha', 'top_k'], broken: (m) => m.penalty_alpha > 0 && m.top_k < 2, field: 'penalty_alpha', why: (_, n) => `(contrastive search) chooses among the ${n('top_k')} most likely tokens: set ${n('top_k')} to 2 or more` },
  { reads: ['penalty_alpha', 'n'], broken: (m) => m.penalty_alpha > 0 && m.n > 1, field: 'n', why: () => 'must be 1 with contrastive search, which is deterministic: every sample would be the same' },
  // Greedy decoding runs no warpers. A truncation that keeps the most likely token cannot change its
  // choice, but these would (XTC removes the likeliest; mirostat and dynamic temperature sample).
  ...(['mirostat', 'xtc_probability', 'dynatemp_range'] as const).map((field): Rule => ({
    reads: [field, 'temperature'], broken: (m) => m[field] > 0 && m.temperature === 0, field, why: () => 'samples, but temperature 0 decodes greedily: set a temperature above 0 or leave it off',
  })),
];

/**
 * Settings that are each valid but contradict each other; unset fields count as Wander's defaults.
 * For a user's input alone (`partial`), a rule that reads a field the user left unset and a model's
 * generation_config may set (its max_tokens, top_k, …) waits until the model is known: resolveSettings
 * checks every rule again on the settings actually used.
 */
function checkConsistent(s: SettingsInput, naming: FieldNaming, partial: boolean): void {
  const m = { ...DEFAULTS, ...s };
  const known = (f: keyof Settings) => !partial || s[f] !== undefined || !MODEL_FIELDS.has(f);
  for (const rule of RULES) {
    if (rule.reads.every(known) && rule.broken(m)) throw new UserError(`${naming(rule.field)} ${rule.why(m, naming)}`, rule.field);
  }
  // Unset sampling warpers count as neutral: under a decoder that refuses them, a model's own are
  // dropped when the settings are resolved, so only the user's can conflict.
  const conflict = conflictingWarpers(m, naming);
  if (conflict && conflict.fields.length > 0) throw new UserError(`${naming(conflict.fields[0]!)} cannot be used with ${naming(conflict.decoder)}: ${conflict.why}`, conflict.fields[0]!);
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
  // A model's sampling defaults do not apply to a decoder that does not sample (as in Hugging Face,
  // where generation_config's top_p has no effect on beam search): they fall back to neutral, and the
  // sources say so. A user's own conflicting flags are refused below.
  const conflict = conflictingWarpers(settings as Settings);
  for (const field of conflict?.fields ?? []) {
    if (sources[field] !== 'generation_config.json') continue;
    settings[field] = DEFAULTS[field as keyof typeof DEFAULTS];
    sources[field] = 'default';
  }
  // A model whose generation_config does not sample gets temperature 0 from it; asking for beam
  // sampling overrides that, as Hugging Face's do_sample does.
  if (settings['do_sample'] === true && settings['temperature'] === 0 && sources['temperature'] === 'generation_config.json') {
    settings['temperature'] = DEFAULTS.temperature;
    sources['temperature'] = 'default';
  }
  checkConsistent(settings as Settings, cliNaming, false);
  return { settings: settings as Settings, sources: sources as ResolvedSettings['sources'] };
}
