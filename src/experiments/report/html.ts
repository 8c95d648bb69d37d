import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CellReport, ExperimentReport } from './collect.js';
import { DEGENERATION_HEADS, DEGENERATION_INTRO, degenerationCells, type DegenerationView } from './degeneration.js';
import { deterministicNote, fmt, fmtDistribution, metricRow, modelsBySize, plural, topNNote } from './tables.js';

const require = createRequire(import.meta.url);
const CLIENT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web', 'report', 'report.js');

/** The folder of an installed package (its exports may hide the files we inline). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!existsSync(join(dir, 'package.json')) || (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name !== name) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${name} package folder`);
    dir = up;
  }
  return dir;
}

/** Text for an HTML text node or a quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

/** JSON inside <script>: "</script>" and "<!--" must not appear in it. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replaceAll('<', '\\u003c').replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');
}

/** What the page's plots read: one record per cell. */
function plotData(r: ExperimentReport) {
  const order = modelsBySize(r).map((m) => m.label);
  return {
    name: r.name, models: order, presets: r.presets, prompts: r.prompts, count: r.count ?? [],
    cells: r.cells.map((c) => {
      const row = metricRow(c);
      return {
        model: c.model, parameters: c.parameters, prompt: c.prompt_label, preset: c.preset, temperature: row.temperature, top_p: row.top_p, top_k: row.top_k,
        samples: row.samples, distinct_share: row.distinct_share, distinct_2: row.distinct_2, self_bleu4: row.self_bleu4,
        mean_entropy_bits: row.mean_entropy_bits, mean_sampled_entropy_bits: row.mean_sampled_entropy_bits, finish_reasons: row.finish_reasons, entropy_by_position: c.metrics.entropy_by_position,
        ...(row.counts ? { counts: row.counts } : {}),
      };
    }),
  };
}

/**
 * One self-contained HTML page per experiment: the metric tables and sample tables are written here;
 * the plots are drawn in the page by Observable Plot (inlined with d3, so it opens with no network).
 */
export function htmlReport(r: ExperimentReport): string {
  const d3 = readFileSync(join(packageDir('d3'), 'dist', 'd3.min.js'), 'utf8');
  const plot = readFileSync(join(packageDir('@observablehq/plot'), 'dist', 'plot.umd.min.js'), 'utf8');
  const client = readFileSync(CLIENT, 'utf8');
  const stored = r.cells.reduce((n, c) => n + c.metrics.samples, 0);
  const planned = r.cells.reduce((n, c) => n + c.planned, 0);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(r.name)} — Wander report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(r.name)}</h1>
${r.description ? `<p class="description">${escapeHtml(r.description)}</p>` : ''}
<p class="meta">${r.cells.length} cells · ${plural(r.models.length, 'model')} × ${plural(r.prompts.length, 'prompt')} × ${plural(r.presets.length, 'preset')} · ${stored} of ${planned} samples stored · ${r.finished_at ? `finished ${escapeHtml(r.finished_at)}` : 'not finished'}${r.file ? ` · from ${escapeHtml(r.file)}` : ''}</p>
${deterministicNote(r) ? `<p class="meta">${escapeHtml(deterministicNote(r)!)}</p>` : ''}
</header>
<main>
${r.degeneration ? `<section id="degeneration"><h2>Table 1: decoders against human text (Holtzman et al. 2020)</h2>${degenerationTable(r.degeneration)}</section>` : ''}
<section id="metrics"><h2>Metrics per cell</h2>${metricsTable(r)}</section>
<section id="plots"><h2>Diversity and entropy</h2><div id="plot-diversity" class="plots"></div></section>
${r.count ? `<section id="counts"><h2>Counted strings</h2><p class="note">Each counted string per cell: <em>mean</em> occurrences per sample (exact, case-sensitive, non-overlapping) and the <em>share</em> of samples containing it at least once.</p>${countsTable(r, r.count)}<div id="plot-counts" class="plots"></div></section>` : ''}
<section id="finish"><h2>Why samples stopped</h2><div id="plot-finish" class="plots"></div></section>
<section id="positions"><h2>Entropy by position</h2><p class="note">Mean entropy (bits) of the model's distribution at each generated token, over the samples that reach it.</p><div id="plot-positions" class="plots"></div></section>
${r.models.length > 1 ? `<section id="model-size"><h2>Across models</h2><p class="note">The same prompt and preset on each model, smallest first: does the smaller model wander more?</p>${modelTable(r)}<div id="plot-models" class="plots"></div></section>` : ''}
<section id="samples"><h2>Samples</h2><p class="note">One column per preset; identical outputs are grouped and counted.</p>${sampleTables(r)}</section>
</main>
<script>${d3}</script>
<script>${plot}</script>
<script type="application/json" id="report-data">${scriptJson(plotData(r))}</script>
<script>${client}</script>
</body>
</html>
`;
}

function metricsTable(r: ExperimentReport): string {
  const head = ['model', 'prompt', 'preset', 'samples', 'distinct', 'distinct-1', 'distinct-2', 'distinct-3', 'self-BLEU-4', 'edit dist.', 'diverge at', 'entropy (bits)', 'drawn entropy', 'mean logprob', 'perplexity', 'repetition', 'loops', 'Zipf', 'finish'];
  const rows = r.cells.map((c) => {
    const m = c.metrics;
    const finish = Object.entries(m.finish_reasons).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
    const cells = [c.model, c.prompt_label, c.preset].map((s) => `<td>${escapeHtml(s)}</td>`);
    const nums = [m.samples, m.distinct, m.distinct_1, m.distinct_2, m.distinct_3, m.self_bleu4, m.edit_distance, m.first_divergence, m.mean_entropy_bits, m.mean_sampled_entropy_bits, m.mean_logprob, m.perplexity, m.repetition_rate, m.degenerate, m.zipf]
      .map((v, i) => `<td class="num">${i === 8 || i === 9 ? fmtDistribution(c, v) : fmt(v)}</td>`);
    return `<tr>${cells.join('')}${nums.join('')}<td>${escapeHtml(finish)}</td></tr>`;
  });
  const note = topNNote(r);
  return `<div class="scroll"><table class="metrics"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>${note ? `<p class="note">${escapeHtml(note)}</p>` : ''}`;
}

/** Table 1's columns per model and decoder, the paper's GPT-2 Large figures beside, and the view's notes. */
function degenerationTable(view: DegenerationView): string {
  const intro = escapeHtml(DEGENERATION_INTRO).replace(/\*([^*]+)\*/g, '<em>$1</em>');
  const head = `<tr><th rowspan="2">decoder</th><th rowspan="2">model</th><th colspan="${DEGENERATION_HEADS.ours.length}">this experiment</th><th colspan="${DEGENERATION_HEADS.paper.length}">paper: GPT-2 Large</th></tr>
<tr>${[...DEGENERATION_HEADS.ours, ...DEGENERATION_HEADS.paper].map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const rows = degenerationCells(view).map((c) => `<tr${c.decoder && c.model ? ' class="group"' : ''}><td>${escapeHtml(c.decoder)}</td><td>${escapeHtml(c.model)}</td>${c.ours.map((v) => `<td class="num">${escapeHtml(v)}</td>`).join('')}${c.paper.map((v, i) => `<td${i === 0 ? '' : ' class="num"'}>${escapeHtml(v)}</td>`).join('')}</tr>`);
  return `<p class="note">${intro}</p><p class="note">Reference: ${escapeHtml(view.reference.citation)}; ${escapeHtml(view.reference.setting)}. HUSE is a human evaluation, not measured here.</p>
<div class="scroll"><table class="degeneration"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>${view.notes.length ? `<ul class="note">${view.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}`;
}

function countsTable(r: ExperimentReport, count: string[]): string {
  const head = `<tr><th rowspan="2">model</th><th rowspan="2">prompt</th><th rowspan="2">preset</th><th rowspan="2">samples</th>${count.map((s) => `<th colspan="2"><code>${escapeHtml(JSON.stringify(s))}</code></th>`).join('')}</tr>
<tr>${count.map(() => '<th>mean</th><th>share</th>').join('')}</tr>`;
  const rows = r.cells.map((c) => {
    const tds = count.map((s) => `<td class="num">${fmt(c.metrics.counts?.[s]?.mean ?? null, 2)}</td><td class="num">${fmt(c.metrics.counts?.[s]?.share ?? null, 2)}</td>`);
    return `<tr>${[c.model, c.prompt_label, c.preset].map((x) => `<td>${escapeHtml(x)}</td>`).join('')}<td class="num">${c.metrics.samples}</td>${tds.join('')}</tr>`;
  });
  return `<div class="scroll"><table class="counts"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function modelTable(r: ExperimentReport): string {
  const models = modelsBySize(r);
  const head = `<tr><th rowspan="2">prompt</th><th rowspan="2">preset</th>${models.map((m) => `<th colspan="3">${escapeHtml(m.label)}${m.parameters ? ` <span class="params">${(m.parameters / 1e6).toFixed(2)}M</span>` : ''}${m.backend === 'openai' ? ' <span class="params">served</span>' : m.backend === 'llama.cpp' ? ' <span class="params">llama.cpp</span>' : ''}</th>`).join('')}</tr>
<tr>${models.map(() => '<th>distinct</th><th>entropy</th><th>self-BLEU</th>').join('')}</tr>`;
  const rows: string[] = [];
  for (const p of r.prompts) {
    for (const preset of r.presets) {
      const tds = models.map((m) => {
        const c = r.cells.find((x) => x.model === m.label && x.prompt_label === p && x.preset === preset);
        if (!c) return '<td></td><td></td><td></td>';
        return `<td class="num">${c.metrics.distinct}/${c.metrics.samples}</td><td class="num">${fmtDistribution(c, c.metrics.mean_entropy_bits, 2)}</td><td class="num">${fmt(c.metrics.self_bleu4, 2)}</td>`;
      });
      rows.push(`<tr><td>${escapeHtml(p)}</td><td>${escapeHtml(preset)}</td>${tds.join('')}</tr>`);
    }
  }
  return `<div class="scroll"><table class="models"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** Per model and prompt: one column per preset, each listing its distinct outputs with their counts. */
function sampleTables(r: ExperimentReport): string {
  const out: string[] = [];
  for (const m of r.models) {
    for (const p of r.prompts) {
      const cells = r.presets.map((preset) => r.cells.find((c) => c.model === m.label && c.prompt_label === p && c.preset === preset));
      const present = cells.filter((c): c is CellReport => c !== undefined);
      if (present.length === 0) continue;
      const depth = Math.max(...present.map((c) => c.outputs.length));
      const rows: string[] = [];
      for (let i = 0; i < depth; i++) {
        rows.push(`<tr>${cells.map((c) => {
          const o = c?.outputs[i];
          if (!o) return '<td></td>';
          return `<td><span class="count">×${o.count}</span> <span class="output">${escapeHtml(o.text)}</span>${o.finish_reason !== 'max_tokens' ? ` <span class="finish">[${escapeHtml(o.finish_reason)}]</span>` : ''}</td>`;
        }).join('')}</tr>`);
      }
      const heads = r.presets.map((preset, i) => {
        const c = cells[i];
        const s = c ? settingsSummary(c.settings) : '';
        return `<th>${escapeHtml(preset)}<div class="settings">${escapeHtml(s)}</div>${c ? `<div class="settings">${c.metrics.distinct} distinct of ${c.metrics.samples}</div>` : ''}</th>`;
      });
      out.push(`<h3>${escapeHtml(m.label)} · ${escapeHtml(p)}</h3><p class="prompt">${escapeHtml(present[0]!.prompt)}</p><div class="scroll"><table class="samples"><thead><tr>${heads.join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`);
    }
  }
  return out.join('\n');
}

/** The settings people compare at a glance, as the notes write them: "T=0.9 top_p=0.95 top_k=100". */
function settingsSummary(s: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof s['temperature'] === 'number') parts.push(`T=${s['temperature']}`);
  if (typeof s['top_p'] === 'number' && s['top_p'] !== 1) parts.push(`top_p=${s['top_p']}`);
  if (typeof s['top_k'] === 'number' && s['top_k'] !== 0) parts.push(`top_k=${s['top_k']}`);
  if (typeof s['min_p'] === 'number' && s['min_p'] !== 0) parts.push(`min_p=${s['min_p']}`);
  if (typeof s['repetition_penalty'] === 'number' && s['repetition_penalty'] !== 1) parts.push(`rep=${s['repetition_penalty']}`);
  return parts.join(' ');
}

const STYLE = `
:root { color-scheme: light; --fg: #1d2430; --muted: #5c6673; --line: #d9dee5; --bg: #fff; --accent: #2f6fdd; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 6px; font-size: 24px; }
h2 { margin: 28px 0 10px; font-size: 18px; }
h3 { margin: 18px 0 6px; font-size: 15px; }
.meta, .note, .description { color: var(--muted); margin: 4px 0 12px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
table.metrics td, table.models td, table.counts td, table.degeneration td { white-space: nowrap; }
table.degeneration tr.group td { border-top: 2px solid var(--line); }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f7fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.samples { table-layout: fixed; width: 100%; }
table.samples td { white-space: pre-wrap; word-break: break-word; }
.count { font-weight: 700; color: var(--accent); }
.prompt { color: var(--muted); white-space: pre-wrap; margin: 0 0 6px; }
.finish { color: var(--muted); font-size: 12px; }
.settings { font-weight: 400; color: var(--muted); font-size: 12px; }
.params { font-weight: 400; color: var(--muted); }
.plots { display: flex; flex-wrap: wrap; gap: 24px; }
.plots figure { margin: 0; }
.plots h4 { margin: 0 0 4px; font-size: 13px; }
.plot-error { color: #b00020; }
`;
