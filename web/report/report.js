// Draws the plots of a Wander experiment report. Runs in the report page itself, with d3 and
// Observable Plot inlined before it and the cells' numbers in <script id="report-data">.
/* global Plot */
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const cells = data.cells;
  const modelOrder = data.models;
  const presetOrder = data.presets;
  const FINISH_ORDER = ['eos', 'stop_sequence', 'max_tokens', 'context_full', 'error'];
  let drawn = 0;
  let failed = 0;

  /** Adds a titled figure to a container; a plot that fails shows its error instead of breaking the page. */
  function figure(containerId, title, build) {
    const container = document.getElementById(containerId);
    if (!container) return;
    const fig = document.createElement('figure');
    const h = document.createElement('h4');
    h.textContent = title;
    fig.appendChild(h);
    try {
      fig.appendChild(build());
      drawn++;
    } catch (e) {
      const p = document.createElement('p');
      p.className = 'plot-error';
      p.textContent = 'This plot could not be drawn: ' + e.message;
      fig.appendChild(p);
      failed++;
    }
    container.appendChild(fig);
  }

  const METRICS = [
    ['distinct_share', 'distinct outputs (share of samples)', [0, 1]],
    ['distinct_2', 'distinct-2', [0, 1]],
    ['mean_entropy_bits', 'model entropy (bits)', undefined],
    ['mean_sampled_entropy_bits', 'entropy drawn from (bits)', undefined],
    ['self_bleu4', 'self-BLEU-4 (higher = more alike)', [0, 1]],
  ];
  const multiPrompt = data.prompts.length > 1;

  /** A value by preset: one bar per model, side by side (one row of panels per prompt). */
  function byPreset(rows, key, label, domain) {
    return Plot.plot({
      width: 520, height: multiPrompt ? 60 + 110 * data.prompts.length : 260, marginBottom: 40,
      fx: { domain: presetOrder, label: 'preset' },
      x: { domain: modelOrder, axis: null, padding: 0.1 },
      fy: multiPrompt ? { domain: data.prompts, label: null } : undefined,
      y: { domain, label, grid: true },
      color: { domain: modelOrder, legend: true },
      marks: [
        Plot.barY(rows.filter((c) => c[key] !== null), { fx: 'preset', x: 'model', y: key, fill: 'model', fy: multiPrompt ? 'prompt' : undefined, tip: true }),
        Plot.ruleY([0]),
      ],
    });
  }
  for (const [key, label, domain] of METRICS) figure('plot-diversity', label + ' by preset', () => byPreset(cells, key, label, domain));

  // Each counted string (the experiment's count): occurrences per sample, and the share of samples
  // containing it, by preset, per model and prompt.
  for (const s of data.count) {
    const quoted = JSON.stringify(s);
    const rows = cells.filter((c) => c.counts && c.counts[s])
      .map((c) => ({ model: c.model, prompt: c.prompt, preset: c.preset, mean: c.counts[s].mean, share: c.counts[s].share }));
    figure('plot-counts', quoted + ' per sample by preset', () => byPreset(rows, 'mean', quoted + ' per sample (mean)', undefined));
    figure('plot-counts', 'share of samples with ' + quoted + ' by preset', () => byPreset(rows, 'share', 'share of samples with ' + quoted, [0, 1]));
  }

  // Metrics against temperature (or top_p), holding the other knob at its most common value, where
  // the presets vary it: one line per model and prompt.
  const KNOBS = ['temperature', 'top_p', 'top_k'];
  function mostCommon(key) {
    const counts = new Map();
    for (const c of cells) counts.set(c[key], (counts.get(c[key]) || 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])[0][0];
  }
  for (const knob of ['temperature', 'top_p']) {
    const held = KNOBS.filter((k) => k !== knob).map((k) => [k, mostCommon(k)]);
    const rows = cells.filter((c) => c[knob] !== null && held.every(([k, v]) => c[k] === v));
    if (new Set(rows.map((c) => c[knob])).size < 2) continue;
    const note = held.filter(([k]) => new Set(cells.map((c) => c[k])).size > 1).map(([k, v]) => k + '=' + v).join(', ');
    for (const [key, label, domain] of METRICS) {
      figure('plot-diversity', label + ' vs ' + knob + (note ? ' (at ' + note + ')' : ''), () => Plot.plot({
        width: 520, height: 260, x: { label: knob, grid: true }, y: { domain, label, grid: true },
        color: { domain: modelOrder, legend: true },
        marks: [
          Plot.line(rows.filter((c) => c[key] !== null), { x: knob, y: key, stroke: 'model', z: (c) => c.model + '\u0000' + c.prompt, sort: knob }),
          Plot.dot(rows.filter((c) => c[key] !== null), { x: knob, y: key, fill: 'model', tip: true, title: (c) => c.model + ' · ' + c.prompt + ' · ' + c.preset }),
        ],
      }));
    }
  }

  // Termination reasons: stacked counts per preset, one panel per model.
  const finishRows = cells.flatMap((c) => Object.entries(c.finish_reasons).filter(([, n]) => n > 0)
    .map(([reason, n]) => ({ model: c.model, prompt: c.prompt, preset: c.preset, reason, n })));
  figure('plot-finish', 'termination reasons per preset' + (modelOrder.length > 1 ? ', per model' : ''), () => Plot.plot({
    width: Math.max(520, 180 * modelOrder.length), height: 280, marginBottom: 40,
    fx: modelOrder.length > 1 ? { domain: modelOrder, label: null } : undefined,
    x: { domain: presetOrder, label: 'preset' }, y: { label: 'samples', grid: true },
    color: { domain: FINISH_ORDER, legend: true, scheme: 'tableau10' },
    marks: [
      Plot.barY(finishRows, { x: 'preset', y: 'n', fill: 'reason', fx: modelOrder.length > 1 ? 'model' : undefined, order: FINISH_ORDER, tip: true }),
      Plot.ruleY([0]),
    ],
  }));

  // Entropy along the generation: one line per preset, one panel per model and prompt.
  for (const model of modelOrder) {
    for (const prompt of data.prompts) {
      const rows = cells.filter((c) => c.model === model && c.prompt === prompt)
        .flatMap((c) => c.entropy_by_position.map((h, i) => ({ preset: c.preset, position: i, entropy: h })));
      if (rows.length === 0) continue;
      figure('plot-positions', model + ' · ' + prompt, () => Plot.plot({
        width: 520, height: 240, x: { label: 'generated token position', grid: true }, y: { label: 'entropy (bits)', grid: true, zero: true },
        color: { domain: presetOrder, legend: true },
        marks: [Plot.line(rows, { x: 'position', y: 'entropy', stroke: 'preset', tip: true })],
      }));
    }
  }

  // Across models, smallest first: the measurable form of "small models wander".
  if (modelOrder.length > 1) {
    for (const [key, label, domain] of METRICS) {
      if (key === 'distinct_2') continue;
      figure('plot-models', label + ' by model size', () => Plot.plot({
        width: 520, height: 260, marginBottom: 50,
        x: { domain: modelOrder, label: 'model (smallest first)', tickRotate: modelOrder.some((m) => m.length > 14) ? -20 : 0 },
        y: { domain, label, grid: true }, color: { domain: presetOrder, legend: true },
        marks: [
          Plot.line(cells.filter((c) => c[key] !== null), { x: 'model', y: key, stroke: 'preset', z: (c) => c.preset + '\u0000' + c.prompt }),
          Plot.dot(cells.filter((c) => c[key] !== null), { x: 'model', y: key, fill: 'preset', tip: true, title: (c) => c.model + ' · ' + c.prompt + ' · ' + c.preset }),
        ],
      }));
    }
  }

  // For tests and scripts: how many plots were drawn, and whether any failed.
  window.wanderReport = { drawn, failed };
  document.body.dataset.plots = String(drawn);
  document.body.dataset.plotErrors = String(failed);
})();
