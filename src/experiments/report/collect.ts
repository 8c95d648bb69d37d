import { UserError } from '../../errors.js';
import type { SettingsInput } from '../../generate/settings.js';
import { cellMetrics, type CellMetrics } from '../metrics/index.js';
import { isDeterministic } from '../plan.js';
import type { ExperimentRow, ResultsStore, StoredCell, StoredSample } from '../store.js';
import { degenerationView, type DegenerationView } from './degeneration.js';

/** One distinct output of a cell, with how many samples produced it. */
export interface GroupedOutput {
  text: string;
  count: number;
  /** The first sample that produced it ("seed/index"). */
  first: string;
  finish_reason: string;
}

export interface CellReport {
  experiment: string;
  model: string;
  model_path: string | null;
  parameters: number | null;
  architecture: string | null;
  /** Who ran the model: Wander's engine, llama.cpp in-process, or an OpenAI-compatible server (whose cells lack what needs the full distribution). */
  backend: 'wander' | 'llama.cpp' | 'openai';
  prompt: string;
  prompt_label: string;
  chat: boolean;
  preset: string;
  /** The settings actually used (the preset resolved against the model's defaults), else as the file gave them. */
  settings: Record<string, unknown>;
  seeds: number[];
  /** Samples the file asks for (seeds × samples); metrics.samples says how many are stored. */
  planned: number;
  /** Greedy, beam or contrastive search: the sweep runs it once per prompt (first seed), whatever the file's samples and seeds. */
  deterministic: boolean;
  metrics: CellMetrics;
  outputs: GroupedOutput[];
}

export interface ExperimentReport {
  name: string;
  description?: string;
  file: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  models: { label: string; parameters: number | null; backend: 'wander' | 'llama.cpp' | 'openai' }[];
  prompts: string[];
  presets: string[];
  /** The strings counted in every sample (the experiment's `count`, as last swept); absent when none. */
  count?: string[];
  cells: CellReport[];
  /** With `view: degeneration` in the file: Holtzman et al. (2020)'s Table 1 on this experiment. */
  degeneration?: DegenerationView;
}

/** Reads an experiment (or all of them) from the database and computes every cell's metrics afresh. */
export function collectReports(store: ResultsStore, experiment?: string): ExperimentReport[] {
  const rows = store.experiments();
  if (rows.length === 0) throw new UserError(`${store.path}: holds no experiments yet (run wander sweep first)`, 'db');
  const chosen = experiment === undefined ? rows : rows.filter((r) => r.name === experiment);
  if (chosen.length === 0) throw new UserError(`--experiment ${experiment}: not in ${store.path} (it has: ${rows.map((r) => r.name).join(', ')})`, 'experiment');
  return chosen.map((r) => collectOne(store, r));
}

function collectOne(store: ResultsStore, row: ExperimentRow): ExperimentReport {
  const spec = JSON.parse(row.spec) as { description?: string; count?: unknown; view?: unknown; prompts?: { text: string; chat: boolean; continuation?: string }[] };
  // The count list is stored with the spec as last swept (editing it and sweeping again generates nothing).
  const count = Array.isArray(spec.count) && spec.count.length > 0 && spec.count.every((s) => typeof s === 'string' && s !== '') ? spec.count as string[] : undefined;
  const stored = store.cells(row.name).map((c) => ({ stored: c, samples: store.samples(c) }));
  const cells = stored.map(({ stored: c, samples }) => cellReport(store, c, samples, count));
  const degeneration = spec.view === 'degeneration' && Array.isArray(spec.prompts) ? degenerationView(
    stored.map(({ stored: c, samples }, i) => ({ ...cells[i]!, model_spec: c.model_spec, samples })),
    spec.prompts, store.continuations(row.name),
  ) : undefined;
  const uniq = <T>(xs: T[]) => [...new Set(xs)];
  const models = uniq(cells.map((c) => c.model)).map((label) => {
    const c = cells.find((x) => x.model === label)!;
    return { label, parameters: c.parameters, backend: c.backend };
  });
  return {
    name: row.name, ...(spec.description ? { description: spec.description } : {}), file: row.file,
    created_at: row.created_at, updated_at: row.updated_at, finished_at: row.finished_at,
    models, prompts: uniq(cells.map((c) => c.prompt_label)), presets: uniq(cells.map((c) => c.preset)), ...(count ? { count } : {}), cells,
    ...(degeneration ? { degeneration } : {}),
  };
}

function cellReport(store: ResultsStore, cell: StoredCell, samples: StoredSample[], count: string[] | undefined): CellReport {
  const model = cell.model_id === null ? undefined : store.model(cell.model_id);
  const groups = new Map<string, GroupedOutput>();
  for (const s of samples) {
    const g = groups.get(s.text);
    if (g) g.count++;
    else groups.set(s.text, { text: s.text, count: 1, first: `${s.seed}/${s.sample_index}`, finish_reason: s.finish_reason });
  }
  return {
    experiment: cell.experiment, model: cell.model_label, model_path: model?.path ?? null,
    // A server does not say its size: unknown, not zero.
    parameters: model?.format === 'openai' ? null : model?.parameters ?? null,
    architecture: model?.architecture ?? null, backend: model?.format === 'openai' ? 'openai' : model?.format.includes('llama.cpp') ? 'llama.cpp' : 'wander', prompt: cell.prompt, prompt_label: cell.prompt_label, chat: cell.chat, preset: cell.preset,
    settings: cell.resolved ?? cell.settings, seeds: cell.seeds, planned: cell.seeds.length * cell.samples,
    deterministic: isDeterministic(cell.settings as SettingsInput),
    metrics: cellMetrics(samples, count), outputs: [...groups.values()].sort((a, b) => b.count - a.count),
  };
}
