import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { parseSettings, SettingsSchema, type SettingsInput } from '../generate/settings.js';

/**
 * An experiment file: models × prompts × presets, each cell sampled `samples` times per seed.
 * The YAML is validated by one schema; an error names the file, the line, the path inside the file
 * and what is allowed there.
 */
export interface ExperimentSpec {
  name: string;
  description?: string;
  /**
   * Each model's spec and label; `endpoints`, for an `openai:` model, are more servers serving it
   * ("URL" or "URL#MODEL-ID"): the sweep spreads its requests over them. They are not part of the cells'
   * keys, so a sweep may resume on other endpoints.
   */
  models: { spec: string; label: string; endpoints?: string[] }[];
  /**
   * Each prompt; `continuation` is the text that follows it in the source (the human continuation), which
   * the sweep scores under each model and the degeneration view measures as Table 1's human row.
   */
  prompts: { text: string; label: string; chat: boolean; continuation?: string }[];
  /** Preset name → the settings it sets (validated by the sampling settings schema). */
  presets: { name: string; settings: SettingsInput }[];
  samples: number;
  seeds: number[];
  max_tokens: number;
  stop: string[];
  max_batch_size?: number;
  /**
   * Strings whose occurrences the reports count in every sample ("," or "Cleopatra"). Counted from the
   * stored texts when a report is made, so they do not change the cells or their samples.
   */
  count?: string[];
  /**
   * `degeneration`: the reports add Holtzman et al. (2020)'s Table 1 view — per model and preset, one
   * generation per prompt pooled over the prompts, beside the human continuations and the paper's figures.
   */
  view?: 'degeneration';
  /** Where the file was (model paths in it are relative to its folder). */
  file?: string;
}

/** Settings that belong to the experiment, not to a preset. */
const NOT_IN_PRESETS: Record<string, string> = {
  seed: 'set seed or seeds at the top level of the file',
  n: 'set samples at the top level of the file',
  max_batch_size: 'set max_batch_size at the top level of the file',
  trace: 'traces are not stored by sweeps; use wander generate --trace',
  top_logprobs: 'sweeps always store each token\'s logprob and entropy',
};

/** The views a file may ask the reports for (besides the per-cell tables every report has). */
export const VIEWS = ['degeneration'] as const;

const PRESET_SETTINGS = Object.keys(SettingsSchema.shape).filter((k) => !NOT_IN_PRESETS[k]).join(', ');

const NAME = /^[A-Za-z0-9][\w.-]{0,99}$/;
const text = (what: string) => z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` });
const int = (lo: number, hi: number) => z.number({ error: `must be an integer from ${lo} to ${hi}` }).int({ error: `must be an integer from ${lo} to ${hi}` })
  .min(lo, { error: `must be an integer from ${lo} to ${hi}` }).max(hi, { error: `must be an integer from ${lo} to ${hi}` });

const ModelEntry = z.union([
  text('a model spec'),
  z.object({
    model: text('a model spec'), label: text('a non-empty label').optional(),
    endpoints: z.array(text('a server URL (http://HOST:PORT/v1[#MODEL-ID])'), { error: 'must be a list of server URLs' }).min(1, { error: 'must list at least one server URL' }).optional(),
  }, { error: 'must be a model spec or { model, label, endpoints }' }).strict(),
], { error: 'must be a model spec (a .gguf file, a model folder, ladder:<size>, hf:<owner>/<repo>, ollama:<name>, openai:URL[#ID]) or { model, label, endpoints }' });

const PromptEntry = z.union([
  z.string({ error: 'must be a string or { text, label, chat, continuation }' }),
  z.object({
    text: z.string({ error: 'must be a string' }), label: text('a non-empty label').optional(), chat: z.boolean({ error: 'must be true or false' }).optional(),
    continuation: text('a non-empty string (the text that follows the prompt in its source)').optional(),
  }).strict(),
], { error: 'must be a string or { text, label, chat, continuation }' });

const FileSchema = z.object({
  name: z.string({ error: 'must be a name of letters, digits, ".", "_" or "-"' }).regex(NAME, { error: 'must be a name of letters, digits, ".", "_" or "-" (at most 100)' }),
  description: z.string({ error: 'must be a string' }).optional(),
  models: z.array(ModelEntry, { error: 'must be a list of model specs' }).min(1, { error: 'must list at least one model' }),
  prompts: z.array(PromptEntry, { error: 'must be a list of prompts' }).min(1, { error: 'must list at least one prompt' }),
  presets: z.record(z.string().regex(NAME, { error: 'preset names must be letters, digits, ".", "_" or "-"' }), z.record(z.string(), z.unknown(), { error: 'must be a map of settings such as { temperature: 0.7, top_p: 0.9 }' }), { error: 'must be a map of preset name → settings' })
    .refine((p) => Object.keys(p).length > 0, { error: 'must define at least one preset' }),
  samples: int(1, 100_000).default(16),
  seed: int(0, Number.MAX_SAFE_INTEGER).optional(),
  seeds: z.array(int(0, Number.MAX_SAFE_INTEGER), { error: 'must be a list of integers' }).min(1, { error: 'must list at least one seed' }).optional(),
  max_tokens: int(1, 1_000_000).default(64),
  stop: z.array(text('a non-empty string'), { error: 'must be a list of strings' }).max(16, { error: 'takes at most 16 strings' }).default([]),
  chat: z.boolean({ error: 'must be true or false' }).default(false),
  max_batch_size: int(1, 64).optional(),
  count: z.array(text('a non-empty string'), { error: 'must be a list of strings, such as [",", "Cleopatra"]' })
    .min(1, { error: 'must list at least one string' }).max(32, { error: 'takes at most 32 strings' }).optional(),
  view: z.enum(VIEWS, { error: `must be ${VIEWS.join(' or ')} (Holtzman et al. 2020's Table 1: one generation per prompt, pooled over the prompts)` }).optional(),
}, { error: 'must be a map of fields (name, models, prompts, presets, …)' }).strict();

const ALLOWED = Object.keys(FileSchema.shape).join(', ');

/** Reads and validates an experiment file. */
export function loadExperiment(file: string): ExperimentSpec {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${file}: no such experiment file` : `${file}: cannot read (${code ?? (e as Error).message})`, 'file');
  }
  return { ...parseExperiment(source, file), file };
}

/** Validates an experiment given as YAML text; `file` names it in errors. */
export function parseExperiment(source: string, file = 'experiment'): ExperimentSpec {
  const where = basename(file);
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new UserError(`${where}${line ? `:${line}` : ''}: not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, 'file');
  }
  const fail = (path: (string | number)[], message: string): never => {
    throw new UserError(`${where}${lineOf(doc, lines, path)}: ${path.length ? `${formatPath(path)} ` : ''}${message}`, String(path[0] ?? 'file'));
  };
  const raw: unknown = doc.toJS();
  const parsed = FileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') fail([...issue.path as (string | number)[], issue.keys[0]!], `is not a field (allowed: ${issue.path.length === 0 ? ALLOWED : issue.path[0] === 'prompts' ? 'text, label, chat, continuation' : 'model, label, endpoints'})`);
    // (zod does not report the input by default: look the value up, so a wrong type is not called missing.)
    if (issue.code === 'invalid_type' && issue.path.length === 1 && valueAt(raw, issue.path as (string | number)[]) === undefined) fail([], `is missing ${issue.path[0] as string} (the fields are ${ALLOWED})`);
    fail(issue.path as (string | number)[], `${issue.message}, got ${JSON.stringify(valueAt(raw, issue.path as (string | number)[]))}`);
  }
  const f = parsed.data!;
  if (f.seed !== undefined && f.seeds !== undefined) fail(['seeds'], 'and seed are both set: give one (seed: N, or seeds: [N, …])');

  const presets = Object.entries(f.presets).map(([name, settings]) => {
    for (const key of Object.keys(settings)) {
      if (NOT_IN_PRESETS[key]) fail(['presets', name, key], `is not a preset setting: ${NOT_IN_PRESETS[key]}`);
      if (!(key in SettingsSchema.shape)) fail(['presets', name, key], `is not a setting (allowed: ${PRESET_SETTINGS})`);
    }
    // A cell stores one sequence per prompt, seed and index: a beam preset's best beam. Its other beams
    // would need cells of their own, so asking for them is refused rather than silently dropped.
    if ('num_return_sequences' in settings && settings['num_return_sequences'] !== 1) {
      fail(['presets', name, 'num_return_sequences'], `must be 1 in a sweep (a beam preset stores one sequence per prompt: its best beam), got ${JSON.stringify(settings['num_return_sequences'])}`);
    }
    try {
      return { name, settings: parseSettings(settings, (field) => field) };
    } catch (e) {
      // "top_p must be …" becomes "presets.low.top_p must be …"; other messages are kept whole.
      const field = (e as UserError).field ?? '';
      const message = (e as Error).message;
      const named = message.startsWith(`${field} `);
      return named ? fail(['presets', name, field], message.slice(field.length + 1)) : fail(['presets', name], `has ${message}`);
    }
  });
  const specs = f.models.map((m) => (typeof m === 'string' ? m : m.model));
  const labels = defaultLabels(specs);
  const models = f.models.map((m, i) => {
    const endpoints = typeof m === 'string' ? undefined : m.endpoints;
    if (endpoints && !specs[i]!.startsWith('openai:')) fail(['models', i, 'endpoints'], 'are for openai: models (a server and the others serving the same model)');
    return { spec: specs[i]!, label: (typeof m === 'string' ? undefined : m.label) ?? labels[i]!, ...(endpoints ? { endpoints } : {}) };
  });
  const prompts = f.prompts.map((p, i) => (typeof p === 'string' ? { text: p, label: `prompt ${i + 1}`, chat: f.chat } : {
    text: p.text, label: p.label ?? `prompt ${i + 1}`, chat: p.chat ?? f.chat, ...(p.continuation !== undefined ? { continuation: p.continuation } : {}),
  }));
  // The human row measures the continuations of the same prompts the decoders continue: all or none.
  const withText = prompts.findIndex((p) => p.continuation !== undefined);
  const without = prompts.findIndex((p) => p.continuation === undefined);
  if (withText >= 0 && without >= 0) fail(['prompts', without], `has no continuation, but prompts[${withText}] has one: give every prompt its human continuation, or none`);
  if (f.view === 'degeneration' && prompts.length < 2) fail(['view'], `degeneration pools one generation per prompt over the prompts: it needs at least 2 prompts, got ${prompts.length}`);
  const dupSpec = specs.findIndex((x, i) => specs.indexOf(x) !== i);
  if (dupSpec >= 0) fail(['models', dupSpec], `repeats the model ${JSON.stringify(specs[dupSpec])}: list each model once`);
  const dupCount = f.count?.findIndex((x, i) => f.count!.indexOf(x) !== i) ?? -1;
  if (dupCount >= 0) fail(['count', dupCount], `repeats ${JSON.stringify(f.count![dupCount])}: list each string once`);
  for (const [key, list] of [['models', models.map((m) => m.label)], ['prompts', prompts.map((p) => p.label)]] as const) {
    const dup = list.findIndex((x, i) => list.indexOf(x) !== i);
    if (dup >= 0) fail([key, dup], `repeats ${JSON.stringify(list[dup])}: give each entry a distinct label`);
  }
  return {
    name: f.name, ...(f.description !== undefined ? { description: f.description } : {}), models, prompts, presets,
    samples: f.samples, seeds: f.seeds ?? [f.seed ?? 1], max_tokens: f.max_tokens, stop: f.stop,
    ...(f.max_batch_size !== undefined ? { max_batch_size: f.max_batch_size } : {}),
    ...(f.count !== undefined ? { count: f.count } : {}),
    ...(f.view !== undefined ? { view: f.view } : {}),
  };
}

/**
 * A model's name in reports: a file or folder path by its last part ("stories260K.gguf"), an hf: or
 * ollama: spec as written; the whole spec where two would share a name.
 */
function defaultLabels(specs: string[]): string[] {
  const short = specs.map((s) => (/^(hf|ollama):/.test(s) ? s : basename(s.replace(/[\\/]+$/, '')) || s));
  return short.map((l, i) => (short.indexOf(l) !== short.lastIndexOf(l) ? specs[i]! : l));
}

function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let v = root;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

/** ":LINE" of the node at `path` (or of its nearest existing parent). */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): string {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return `:${lines.linePos(range[0]).line}`;
  }
  return '';
}

export interface SpecOverrides {
  /** Replace the file's models (e.g. to run an example on the models at hand). */
  models?: string[];
  samples?: number;
  max_tokens?: number;
  /** false: send every prompt as plain text, even where the file asks for the chat template. */
  chat?: boolean;
}

/** The experiment with command-line overrides applied (validated as the file's own values are). */
export function applyOverrides(spec: ExperimentSpec, o: SpecOverrides): ExperimentSpec {
  const check = (flag: string, v: number | undefined, hi: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= hi)) throw new UserError(`${flag} must be an integer from 1 to ${hi}, got ${JSON.stringify(v)}`, flag.slice(2));
  };
  check('--samples', o.samples, 100_000);
  check('--max-tokens', o.max_tokens, 1_000_000);
  const labels = defaultLabels(o.models ?? []);
  const models = o.models?.length ? o.models.map((m, i) => ({ spec: m, label: labels[i]! })) : spec.models;
  if (new Set(models.map((m) => m.label)).size !== models.length) throw new UserError('--model: the same model is given twice', 'model');
  const prompts = o.chat === false ? spec.prompts.map((p) => ({ ...p, chat: false })) : spec.prompts;
  return { ...spec, models, prompts, samples: o.samples ?? spec.samples, max_tokens: o.max_tokens ?? spec.max_tokens };
}
