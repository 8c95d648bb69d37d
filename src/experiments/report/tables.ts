import type { StringCount } from '../metrics/count.js';
import type { CellReport, ExperimentReport } from './collect.js';
import { DEGENERATION_HEADS, DEGENERATION_INTRO, degenerationCells, type DegenerationView } from './degeneration.js';

/**
 * The per-cell metrics as flat rows — the one shape behind `report --json`, the CSV and the Markdown
 * table. The first fields are the documented JSON contract; later ones are additions.
 */
export interface MetricRow {
  model: string;
  prompt: string;
  preset: string;
  samples: number;
  distinct: number;
  distinct_1: number | null;
  distinct_2: number | null;
  distinct_3: number | null;
  self_bleu4: number | null;
  mean_entropy_bits: number | null;
  mean_logprob: number | null;
  perplexity: number | null;
  repetition_rate: number | null;
  zipf: number | null;
  finish_reasons: Record<string, number>;
  experiment: string;
  prompt_label: string;
  mean_sampled_entropy_bits: number | null;
  parameters: number | null;
  temperature: number | null;
  top_p: number | null;
  top_k: number | null;
  distinct_share: number;
  distinct_normalized: number;
  edit_distance: number | null;
  first_divergence: number | null;
  degenerate: number;
  mean_completion_tokens: number;
  planned: number;
  /** Who ran the model: 'wander', 'llama.cpp', or 'openai' (a server: entropy and what needs the full distribution are null). */
  backend: 'wander' | 'llama.cpp' | 'openai';
  /** Only when the experiment has `count`: per string, mean occurrences per sample and share of samples with it. */
  counts?: Record<string, StringCount>;
  /** Greedy, beam or contrastive search: run once per prompt (first seed), whatever samples and seeds the file asks for. */
  deterministic: boolean;
}

export function metricRow(c: CellReport): MetricRow {
  const m = c.metrics;
  const num = (k: string) => (typeof c.settings[k] === 'number' ? c.settings[k] as number : null);
  return {
    model: c.model, prompt: c.prompt, preset: c.preset, samples: m.samples, distinct: m.distinct,
    distinct_1: m.distinct_1, distinct_2: m.distinct_2, distinct_3: m.distinct_3, self_bleu4: m.self_bleu4,
    mean_entropy_bits: m.mean_entropy_bits, mean_logprob: m.mean_logprob, perplexity: m.perplexity,
    repetition_rate: m.repetition_rate, zipf: m.zipf, finish_reasons: m.finish_reasons,
    experiment: c.experiment, prompt_label: c.prompt_label, mean_sampled_entropy_bits: m.mean_sampled_entropy_bits, parameters: c.parameters,
    temperature: num('temperature'), top_p: num('top_p'), top_k: num('top_k'),
    distinct_share: m.distinct_share, distinct_normalized: m.distinct_normalized, edit_distance: m.edit_distance,
    first_divergence: m.first_divergence, degenerate: m.degenerate, mean_completion_tokens: m.mean_completion_tokens, planned: c.planned,
    backend: c.backend,
    ...(m.counts ? { counts: m.counts } : {}),
    deterministic: c.deterministic,
  };
}

/** `report --json`: every cell's metrics; with `view: degeneration`, also each such experiment's Table 1 view. */
export function jsonReport(reports: ExperimentReport[]): { cells: MetricRow[]; degeneration?: (DegenerationView & { experiment: string })[] } {
  const views = reports.flatMap((r) => (r.degeneration ? [{ experiment: r.name, ...r.degeneration }] : []));
  return { cells: reports.flatMap((r) => r.cells.map(metricRow)), ...(views.length ? { degeneration: views } : {}) };
}

/** The sentence saying which presets ran once per prompt, when the file asks for more; undefined otherwise. */
export function deterministicNote(report: ExperimentReport): string | undefined {
  const once = [...new Set(report.cells.filter((c) => c.deterministic).map((c) => c.preset))];
  const asked = report.cells.find((c) => !c.deterministic)?.planned;
  if (once.length === 0 || (asked !== undefined && asked <= 1)) return undefined;
  return `${once.join(', ')} ${once.length === 1 ? 'is' : 'are'} deterministic (greedy, beam or contrastive search): run once per prompt, first seed only — 1 sample per cell${asked ? `, where the other presets have ${asked}` : ''}.`;
}

/** The degeneration view as Markdown: the explanation, the table (ours beside the paper's), and the notes. */
export function degenerationMarkdown(view: DegenerationView): string[] {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  const out = ['## Table 1: decoders against human text (Holtzman et al. 2020)', '', DEGENERATION_INTRO, '', `Reference: ${view.reference.citation}; ${view.reference.setting}. HUSE is a human evaluation, not measured here.`, ''];
  const heads = ['decoder', 'model', ...DEGENERATION_HEADS.ours, ...DEGENERATION_HEADS.paper.map((h) => `paper: ${h}`)];
  out.push(`| ${heads.join(' | ')} |`, `| --- | --- | ${[...DEGENERATION_HEADS.ours, ...DEGENERATION_HEADS.paper].map((h) => (h === 'method' ? '---' : '---:')).join(' | ')} |`);
  for (const r of degenerationCells(view)) out.push(`| ${[r.decoder, r.model, ...r.ours, ...r.paper].map(cell).join(' | ')} |`);
  if (view.notes.length) out.push('', ...view.notes.map((n) => `- ${n}`));
  return out;
}

const CSV_COLUMNS: (keyof MetricRow)[] = [
  'experiment', 'model', 'parameters', 'prompt_label', 'prompt', 'preset', 'temperature', 'top_p', 'top_k', 'samples', 'planned',
  'distinct', 'distinct_share', 'distinct_normalized', 'distinct_1', 'distinct_2', 'distinct_3', 'self_bleu4', 'edit_distance',
  'first_divergence', 'mean_entropy_bits', 'mean_sampled_entropy_bits', 'mean_logprob', 'perplexity', 'repetition_rate', 'degenerate', 'zipf', 'mean_completion_tokens',
];

/**
 * RFC 4180 CSV: one row per cell, finish reasons as one column each, then two columns per counted
 * string, named with the string JSON-quoted so spaces show: `count_mean ","`, `count_share ","`.
 */
export function csvReport(report: ExperimentReport): string {
  const reasons = finishColumns(report);
  const counted = report.count ?? [];
  const quote = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const head = [...CSV_COLUMNS, ...reasons.map((r) => `finish_${r}`), ...counted.flatMap((s) => [`count_mean ${JSON.stringify(s)}`, `count_share ${JSON.stringify(s)}`])];
  const lines = [head.map(quote).join(',')];
  for (const c of report.cells) {
    const row = metricRow(c);
    const counts = counted.flatMap((s) => [quote(row.counts?.[s]?.mean), quote(row.counts?.[s]?.share)]);
    lines.push([...CSV_COLUMNS.map((k) => quote(row[k])), ...reasons.map((r) => String(row.finish_reasons[r] ?? 0)), ...counts].join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

function finishColumns(report: ExperimentReport): string[] {
  return [...new Set(report.cells.flatMap((c) => Object.keys(c.metrics.finish_reasons)))];
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export const fmt = (v: number | null, digits = 3): string => (v === null ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(digits));

/**
 * A metric of the model's whole next-token distribution (entropy, drawn entropy): a server lists only
 * its top N alternatives, so for its cells the value is not known — "n/a", never a number beside exact ones.
 */
export const fmtDistribution = (c: { backend: string }, v: number | null, digits = 3): string => (c.backend === 'openai' ? 'n/a' : fmt(v, digits));

/** The note under a table that has "n/a" entropies, or nothing. */
export function topNNote(report: { cells: { backend: string }[] }): string | undefined {
  if (!report.cells.some((c) => c.backend === 'openai')) return undefined;
  return 'n/a: an OpenAI-compatible server lists only its top N alternatives per token, so the entropy of the whole distribution is unknown for its cells (its logprobs, perplexity and text metrics are exact).';
}

/** The Markdown summary: what ran, the per-cell metrics, and the model-size comparison. */
export function markdownReport(report: ExperimentReport): string {
  const out: string[] = [`# ${report.name}`, ''];
  if (report.description) out.push(report.description.trim(), '');
  const stored = report.cells.reduce((n, c) => n + c.metrics.samples, 0);
  const planned = report.cells.reduce((n, c) => n + c.planned, 0);
  out.push(`${report.cells.length} cells (${plural(report.models.length, 'model')} × ${plural(report.prompts.length, 'prompt')} × ${plural(report.presets.length, 'preset')}), ${stored} of ${planned} samples stored${report.finished_at ? `, finished ${report.finished_at}` : ' (not finished: run the sweep again to complete it)'}.`, '');
  const once = deterministicNote(report);
  if (once) out.push(once, '');
  if (report.degeneration) out.push(...degenerationMarkdown(report.degeneration), '');
  const cell = (s: string) => s.replaceAll('|', '\\|').replace(/\s+/g, ' ');
  out.push('## Cells', '');
  out.push('| model | prompt | preset | samples | distinct | distinct-1 | distinct-2 | self-BLEU-4 | entropy (bits) | drawn entropy | perplexity | repetition | loops | finish |');
  out.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const c of report.cells) {
    const m = c.metrics;
    const finish = Object.entries(m.finish_reasons).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ');
    out.push(`| ${cell(c.model)} | ${cell(c.prompt_label)} | ${cell(c.preset)} | ${m.samples} | ${m.distinct} | ${fmt(m.distinct_1)} | ${fmt(m.distinct_2)} | ${fmt(m.self_bleu4)} | ${fmtDistribution(c, m.mean_entropy_bits)} | ${fmtDistribution(c, m.mean_sampled_entropy_bits)} | ${fmt(m.perplexity, 2)} | ${fmt(m.repetition_rate)} | ${m.degenerate} | ${finish} |`);
  }
  const note = topNNote(report);
  if (note) out.push('', note);
  if (report.count) {
    out.push('', '## Counted strings', '', 'Per counted string: *mean* occurrences per sample (exact, case-sensitive, non-overlapping) and the *share* of samples containing it at least once.', '');
    const heads = report.count.flatMap((s) => [`${cell(JSON.stringify(s))} mean`, `${cell(JSON.stringify(s))} share`]);
    out.push(`| model | prompt | preset | samples | ${heads.join(' | ')} |`, `| --- | --- | --- | ---: | ${heads.map(() => '---:').join(' | ')} |`);
    for (const c of report.cells) {
      const vals = report.count.flatMap((s) => [fmt(c.metrics.counts?.[s]?.mean ?? null, 2), fmt(c.metrics.counts?.[s]?.share ?? null, 2)]);
      out.push(`| ${cell(c.model)} | ${cell(c.prompt_label)} | ${cell(c.preset)} | ${c.metrics.samples} | ${vals.join(' | ')} |`);
    }
  }
  if (report.models.length > 1) {
    out.push('', '## Across models', '', 'Same prompt and preset, one column group per model (smallest first): distinct outputs / mean entropy (bits) / self-BLEU-4.', '');
    const models = modelsBySize(report);
    out.push(`| prompt | preset | ${models.map((m) => cell(m.label)).join(' | ')} |`, `| --- | --- | ${models.map(() => '---').join(' | ')} |`);
    for (const p of report.prompts) {
      for (const preset of report.presets) {
        const row = models.map((m) => {
          const c = report.cells.find((x) => x.model === m.label && x.prompt_label === p && x.preset === preset);
          return c ? `${c.metrics.distinct}/${c.metrics.samples} · ${fmtDistribution(c, c.metrics.mean_entropy_bits, 2)} · ${fmt(c.metrics.self_bleu4, 2)}` : '';
        });
        out.push(`| ${cell(p)} | ${cell(preset)} | ${row.join(' | ')} |`);
      }
    }
  }
  out.push('', '## Prompts', '');
  for (const p of report.prompts) out.push(`- **${cell(p)}**: ${cell(report.cells.find((c) => c.prompt_label === p)!.prompt)}`);
  out.push('');
  return out.join('\n');
}

/** Models ordered by parameter count (unknown sizes last, in file order). */
export function modelsBySize(report: ExperimentReport): ExperimentReport['models'] {
  const size = (p: number | null) => p ?? Number.MAX_SAFE_INTEGER;
  return [...report.models].sort((a, b) => size(a.parameters) - size(b.parameters));
}
