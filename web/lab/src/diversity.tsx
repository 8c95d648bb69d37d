import * as Plot from '@observablehq/plot';
import { useEffect, useState } from 'preact/hooks';
import { cellMetrics, normalizeOutput, type CellMetrics } from '../../../src/experiments/metrics/index.js';
import type { Run, Sample } from '../../../src/generate/report.js';
import { api } from './api';
import { Chart } from './chart';
import { PromptBar, useModels, usePageState } from './page';
import type { Field } from './url-state';

/**
 * Diversity: n samples of one prompt under one setting, measured with the same metric code as
 * `wander report` (src/experiments/metrics): distinct outputs and how they grow with the number of
 * samples, distinct-n, self-BLEU, entropy by position, where the samples part, and counts of strings.
 */

const FIELDS = {
  model: { kind: 'string', default: '' },
  prompt: { kind: 'string', default: 'Write a haiku about a historical figure:' },
  seed: { kind: 'number', default: 1 },
  n: { kind: 'number', default: 16 },
  max_tokens: { kind: 'number', default: 32 },
  temperature: { kind: 'number', default: 1 },
  top_k: { kind: 'number', default: 0 },
  top_p: { kind: 'number', default: 1 },
  min_p: { kind: 'number', default: 0 },
  count: { kind: 'string', default: ',' },
} satisfies Record<string, Field>;


export function Diversity() {
  const [state, set] = usePageState(FIELDS);
  const { models, error: modelsError } = useModels(state.model, (model) => set({ model }));
  const [run, setRun] = useState<Run>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [vocab, setVocab] = useState<string[]>();

  useEffect(() => {
    if (state.model) api.vocab(state.model).then((v) => setVocab(v.tokens), (e: Error) => setError(e.message));
  }, [state.model]);

  useEffect(() => {
    if (!state.model) return;
    let stale = false;
    setBusy(true);
    api.generate(state.model, state.prompt, {
      seed: state.seed, n: state.n, max_tokens: state.max_tokens, temperature: state.temperature, top_k: state.top_k, top_p: state.top_p, min_p: state.min_p, max_batch_size: 16,
    }, { token_stats: true }).then((r) => { if (!stale) { setRun(r); setError(undefined); } }, (e: Error) => { if (!stale) setError(e.message); })
      .finally(() => { if (!stale) setBusy(false); });
    return () => { stale = true; };
  }, [state.model, state.prompt, state.seed, state.n, state.max_tokens, state.temperature, state.top_k, state.top_p, state.min_p]);

  const strings = state.count.split('|').filter((s) => s !== '');
  const metrics = run ? cellMetrics(run.samples.map(metricSample), strings) : undefined;

  return (
    <div class="diversity">
      <PromptBar models={models} model={state.model} prompt={state.prompt} onModel={(model) => set({ model })} onPrompt={(prompt) => set({ prompt })} />
      <section class="controls" aria-label="settings">
        {([['n', 'Samples', 1, 64, 1], ['max_tokens', 'Max tokens', 1, 256, 1], ['seed', 'Seed', 0, undefined, 1], ['temperature', 'Temperature', 0, undefined, 0.05],
          ['top_k', 'Top-k', 0, undefined, 1], ['top_p', 'Top-p', 0.01, 1, 0.01], ['min_p', 'Min-p', 0, 1, 0.01]] as const).map(([field, label, min, max, step]) => (
          <label class="control">
            <span>{label}</span>
            <input type="number" aria-label={label} min={min} max={max} step={step} value={state[field]}
              onChange={(e) => { const v = (e.target as HTMLInputElement).value; if (v !== '' && Number.isFinite(Number(v))) set({ [field]: Number(v) }); }} />
          </label>
        ))}
        <label class="control">
          <span>Count strings (separate with |)</span>
          <input type="text" aria-label="Count strings" value={state.count} onChange={(e) => set({ count: (e.target as HTMLInputElement).value })} />
        </label>
        {busy && <span class="status" role="status">Generating {state.n} samples…</span>}
      </section>
      {(error ?? modelsError) && <p class="error" role="alert">{error ?? modelsError}</p>}
      {run && metrics && !error && (
        <>
          <MetricsTable m={metrics} />
          <div class="charts">
            <Chart label="distinct outputs against samples drawn" plot={() => Plot.plot({
              height: 220, x: { label: 'samples drawn' }, y: { label: 'distinct outputs', grid: true },
              marks: [Plot.line(growth(run.samples), { x: 'k', y: 'distinct', stroke: 'var(--accent)' }), Plot.ruleY([0]), Plot.line([{ k: 1, d: 1 }, { k: run.samples.length, d: run.samples.length }], { x: 'k', y: 'd', strokeDasharray: '3 3', stroke: 'gray' })],
            })} />
            <Chart label="entropy by position" plot={() => Plot.plot({
              height: 220, x: { label: 'position in the output' }, y: { label: 'mean entropy (bits)', grid: true },
              marks: [Plot.line(metrics.entropy_by_position.map((e, i) => ({ i: i + 1, e })), { x: 'i', y: 'e', stroke: 'var(--accent)' })],
            })} />
          </div>
          <Outputs samples={run.samples} />
          {vocab && <Branches samples={run.samples} vocab={vocab} />}
        </>
      )}
    </div>
  );
}

function metricSample(s: Sample) {
  return {
    text: s.text, token_ids: s.token_ids, logprobs: s.token_logprobs ?? [], entropies: s.token_entropy_bits ?? [],
    sampled_entropies: s.token_sampled_entropy_bits ?? [], finish_reason: s.finish_reason,
  };
}

/** How many distinct outputs the first k samples hold, for every k. */
function growth(samples: Sample[]): { k: number; distinct: number }[] {
  const seen = new Set<string>();
  return samples.map((s, i) => { seen.add(s.text); return { k: i + 1, distinct: seen.size }; });
}

const fmt = (x: number | null, digits = 3) => (x === null ? '—' : x.toFixed(digits));

function MetricsTable({ m }: { m: CellMetrics }) {
  const rows: [string, string, string][] = [
    ['distinct outputs', `${m.distinct} of ${m.samples}`, 'different texts (exactly)'],
    ['distinct (normalised)', `${m.distinct_normalized}`, 'ignoring case and whitespace'],
    ['distinct-1 / 2 / 3', `${fmt(m.distinct_1)} / ${fmt(m.distinct_2)} / ${fmt(m.distinct_3)}`, 'unique word n-grams ÷ all'],
    ['self-BLEU-4', fmt(m.self_bleu4), 'how much each sample repeats the others (1 = identical)'],
    ['edit distance', fmt(m.edit_distance, 1), 'mean words changed between two samples'],
    ['first divergence', fmt(m.first_divergence, 1), 'mean token where two samples part'],
    ['entropy', `${fmt(m.mean_entropy_bits, 2)} bits`, "of the model's distribution per token"],
    ['perplexity', fmt(m.perplexity, 2), 'of the generated tokens'],
    ['repetition', fmt(m.repetition_rate), 'share of repeated 4-grams within a sample'],
    ['loops', `${m.degenerate}`, 'samples ending in a loop'],
    ...Object.entries(m.counts ?? {}).map(([s, c]): [string, string, string] => [`count ${JSON.stringify(s)}`, `${fmt(c.mean, 2)} per sample`, `in ${fmt(c.share === null ? null : c.share * 100, 0)}% of samples`]),
  ];
  return (
    <table class="metrics" aria-label="metrics">
      <tbody>{rows.map(([k, v, what]) => <tr data-metric={k}><th>{k}</th><td class="num">{v}</td><td class="hint">{what}</td></tr>)}</tbody>
    </table>
  );
}

/** The distinct outputs, most frequent first, with their counts. */
function Outputs({ samples }: { samples: Sample[] }) {
  const groups = new Map<string, { text: string; count: number }>();
  for (const s of samples) {
    const key = normalizeOutput(s.text);
    const g = groups.get(key) ?? { text: s.text, count: 0 };
    g.count++;
    groups.set(key, g);
  }
  return (
    <section aria-label="outputs">
      <h3>Outputs</h3>
      <ol class="outputs">
        {[...groups.values()].sort((a, b) => b.count - a.count).map((g) => <li><span class="count">×{g.count}</span> <span class="output">{g.text}</span></li>)}
      </ol>
    </section>
  );
}

/**
 * Where the samples part: sorted by their tokens, each sample shows the tokens it shares with the one
 * above greyed, so the branching points line up.
 */
function Branches({ samples, vocab }: { samples: Sample[]; vocab: string[] }) {
  const sorted = [...samples].sort((a, b) => compareIds(a.token_ids, b.token_ids));
  const text = (ids: readonly number[]) => ids.map((id) => vocab[id] ?? '').join('');
  return (
    <section aria-label="branches">
      <h3>Where they part</h3>
      <ul class="branches">
        {sorted.map((s, i) => {
          const prev = sorted[i - 1]?.token_ids ?? [];
          let k = 0;
          while (k < prev.length && k < s.token_ids.length && prev[k] === s.token_ids[k]) k++;
          return (
            <li data-shared={k}>
              <span class="shared">{text(s.token_ids.slice(0, k))}</span><span>{text(s.token_ids.slice(k))}</span>
              <span class="hint"> (sample {s.index}{i > 0 ? `, parts from the one above at token ${k + 1}` : ''})</span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function compareIds(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
