import { useEffect, useState } from 'preact/hooks';
import type { Run, Sample } from '../../../src/generate/report.js';
import type { StepTrace } from '../../../src/sampling/trace.js';
import { api } from './api';
import { show } from './explorer';
import { PromptBar, useModels, usePageState } from './page';
import type { Field } from './url-state';

/**
 * Compare: up to three settings side by side on one prompt — by default the notes' test 1 (greedy;
 * top-p 0.9, top-k 50, T 0.2; top-p 0.95, top-k 100, T 0.9). Each output token is coloured by the
 * probability the model gave it (or by its rank, GLTR-style), and focusing it shows what the chain did
 * at that step. The runs are the server's `wander generate`, so what a column shows is what the CLI
 * prints for the same settings and seed.
 */

const FIELDS = {
  model: { kind: 'string', default: '' },
  prompt: { kind: 'string', default: 'Why do eclipses happen?' },
  seed: { kind: 'number', default: 1 },
  n: { kind: 'number', default: 1 },
  max_tokens: { kind: 'number', default: 40 },
  mode: { kind: 'string', default: 'prob' },
  // temperature/top_k/top_p per column, columns separated by ";"
  columns: { kind: 'string', default: '0/1/1;0.2/50/0.9;0.9/100/0.95' },
} satisfies Record<string, Field>;

interface Column { temperature: number; top_k: number; top_p: number }

const parseColumns = (s: string): Column[] => s.split(';').slice(0, 3).map((c) => {
  const [temperature = 1, top_k = 0, top_p = 1] = c.split('/').map(Number);
  return { temperature, top_k, top_p };
});
const writeColumns = (cs: Column[]) => cs.map((c) => `${c.temperature}/${c.top_k}/${c.top_p}`).join(';');

/** Wander's trace per generated token: the step that chose it. */
const TRACE_TOP = 5;

type Result = { run?: Run; error?: string; again?: 'same' | 'different' };

export function Compare() {
  const [state, set] = usePageState(FIELDS);
  const { models, error } = useModels(state.model, (model) => set({ model }));
  const [results, setResults] = useState<Result[]>([]);
  const [busy, setBusy] = useState(false);
  const columns = parseColumns(state.columns);

  const request = (c: Column) => api.generate(state.model, state.prompt, {
    ...c, seed: state.seed, n: state.n, max_tokens: state.max_tokens, trace: TRACE_TOP,
  });

  const runAll = async (again = false) => {
    setBusy(true);
    const out = await Promise.all(columns.map(async (c, i): Promise<Result> => {
      try {
        const run = await request(c);
        if (!again) return { run };
        const before = results[i]?.run;
        return { run, again: before && JSON.stringify(before.samples.map((s) => s.token_ids)) === JSON.stringify(run.samples.map((s) => s.token_ids)) ? 'same' : 'different' };
      } catch (e) {
        return { error: (e as Error).message };
      }
    }));
    setResults(out);
    setBusy(false);
  };

  useEffect(() => { if (state.model) void runAll(); }, [state.model, state.prompt, state.seed, state.n, state.max_tokens, state.columns]);

  const setColumn = (i: number, patch: Partial<Column>) => set({ columns: writeColumns(columns.map((c, j) => (j === i ? { ...c, ...patch } : c))) });

  return (
    <div class="compare">
      <PromptBar models={models} model={state.model} prompt={state.prompt} onModel={(model) => set({ model })} onPrompt={(prompt) => set({ prompt })} />
      <section class="controls" aria-label="run settings">
        <NumberBox label="Seed" value={state.seed} min={0} onSet={(seed) => set({ seed })} />
        <NumberBox label="Samples per column" value={state.n} min={1} max={16} onSet={(n) => set({ n })} />
        <NumberBox label="Max tokens" value={state.max_tokens} min={1} max={512} onSet={(max_tokens) => set({ max_tokens })} />
        <label class="control">
          <span>Colour tokens by</span>
          <select aria-label="Colour tokens by" value={state.mode} onChange={(e) => set({ mode: (e.target as HTMLSelectElement).value })}>
            <option value="prob">probability</option>
            <option value="rank">rank (GLTR: top 10 / 100 / 1000 / beyond)</option>
          </select>
        </label>
        <div class="actions">
          <button onClick={() => void runAll(true)} disabled={busy || results.length === 0}>Same seed again</button>
          {busy && <span class="status" role="status">Generating…</span>}
        </div>
      </section>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="columns">
        {columns.map((c, i) => (
          <section class="column" aria-label={`column ${i + 1}`}>
            <div class="column-settings">
              <NumberBox label={`Temperature ${i + 1}`} value={c.temperature} min={0} step={0.05} onSet={(temperature) => setColumn(i, { temperature })} />
              <NumberBox label={`Top-k ${i + 1}`} value={c.top_k} min={0} onSet={(top_k) => setColumn(i, { top_k })} />
              <NumberBox label={`Top-p ${i + 1}`} value={c.top_p} min={0.01} max={1} step={0.01} onSet={(top_p) => setColumn(i, { top_p })} />
            </div>
            <ColumnResult result={results[i]} prompt={state.prompt} mode={state.mode} />
          </section>
        ))}
      </div>
      <Legend mode={state.mode} />
    </div>
  );
}

function NumberBox({ label, value, onSet, min, max, step = 1 }: { label: string; value: number; onSet: (v: number) => void; min?: number; max?: number; step?: number }) {
  return (
    <label class="control">
      <span>{label}</span>
      <input type="number" aria-label={label} value={value} min={min} max={max} step={step}
        onChange={(e) => { const v = (e.target as HTMLInputElement).value; if (v !== '' && Number.isFinite(Number(v))) onSet(Number(v)); }} />
    </label>
  );
}

function ColumnResult({ result, prompt, mode }: { result?: Result; prompt: string; mode: string }) {
  if (!result) return <p class="status">Generating…</p>;
  if (result.error) return <p class="error" role="alert">{result.error}</p>;
  const run = result.run!;
  return (
    <>
      {run.samples.map((s) => <SampleView sample={s} prompt={prompt} mode={mode} />)}
      <p class="meta">
        {run.usage.completion_tokens} tokens · {finishes(run)} · prompt {run.timings.prompt_ms} ms · {run.timings.tokens_per_second} tokens/s · seed {run.settings.seed}
        {run.settings.stages.length ? ` · ${run.settings.stages.join(' → ')}` : ''}
        {result.again && <b class={`again ${result.again}`} role="status">{result.again === 'same' ? ' · same seed, same text ✓' : ' · different text ✗'}</b>}
      </p>
    </>
  );
}

const finishes = (run: Run) => Object.entries(run.summary.finish_reasons).filter(([, n]) => n > 0).map(([r, n]) => (run.samples.length > 1 ? `${r} ×${n}` : r)).join(', ');

function SampleView({ sample, prompt, mode }: { sample: Sample; prompt: string; mode: string }) {
  const [focus, setFocus] = useState<number>();
  const steps = sample.trace ?? [];
  return (
    <div class="sample" data-index={sample.index}>
      <p class="output" data-text={sample.text}>
        <span class="prompt-text">{prompt}</span>
        {steps.map((t, i) => (
          <span class="tok" tabIndex={0} style={{ background: colour(t, mode) }} data-rank={t.chosen.rank} data-prob={t.chosen.prob}
            onMouseEnter={() => setFocus(i)} onFocus={() => setFocus(i)} onMouseLeave={() => setFocus(undefined)} onBlur={() => setFocus(undefined)}>
            {t.chosen.token}
          </span>
        ))}
      </p>
      {focus !== undefined && steps[focus] && <StepCard step={steps[focus]} index={focus} />}
    </div>
  );
}

/** What the chain did at one step: the chosen token's rank and probability, the entropy, the top alternatives. */
function StepCard({ step, index }: { step: StepTrace; index: number }) {
  return (
    <div class="card" role="tooltip">
      <p>step {index + 1}: <b>{show(step.chosen.token)}</b> rank {step.chosen.rank}, p {step.chosen.prob.toFixed(4)} (after the chain {step.chosen.final_prob.toFixed(4)}); entropy {step.entropy_bits.toFixed(2)} → {step.final_entropy_bits.toFixed(2)} bits</p>
      <table>
        <thead><tr><th>token</th><th>p</th><th>after chain</th><th>removed by</th></tr></thead>
        <tbody>
          {step.candidates.map((c) => (
            <tr class={c.removed_by ? 'removed' : ''}><td>{show(c.token)}</td><td class="num">{c.prob.toFixed(4)}</td><td class="num">{c.final_prob.toFixed(4)}</td><td>{c.removed_by ?? ''}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** GLTR's buckets: rank 1–10, 11–100, 101–1000, beyond. */
const RANK_COLOURS = ['#8fd19e', '#f3e38a', '#f4a3a3', '#c9a3f4'];

function colour(t: StepTrace, mode: string): string {
  if (mode === 'rank') return RANK_COLOURS[t.chosen.rank <= 10 ? 0 : t.chosen.rank <= 100 ? 1 : t.chosen.rank <= 1000 ? 2 : 3]!;
  // Probability: from red (unlikely) through yellow to green (likely), half transparent.
  const hue = Math.round(120 * Math.sqrt(t.chosen.prob));
  return `hsl(${hue} 70% 55% / 0.45)`;
}

function Legend({ mode }: { mode: string }) {
  return mode === 'rank'
    ? <p class="legend">{['top 10', 'top 100', 'top 1000', 'beyond'].map((l, i) => <span style={{ background: RANK_COLOURS[i] }}>{l}</span>)} — the rank of each token in the model's distribution</p>
    : <p class="legend">{[0.01, 0.1, 0.3, 0.6, 0.9].map((p) => <span style={{ background: `hsl(${Math.round(120 * Math.sqrt(p))} 70% 55% / 0.45)` }}>p {p}</span>)} — the probability the model gave each token (focus one for the step)</p>;
}
