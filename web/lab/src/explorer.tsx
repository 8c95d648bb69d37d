import * as Plot from '@observablehq/plot';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { parseSettings, resolveSettings, type SettingsInput } from '../../../src/generate/settings.js';
import { PRESETS, SamplingChain, type StageName } from '../../../src/sampling/chain.js';
import { describeDistribution, type DistributionView } from '../../../src/sampling/describe.js';
import { rngFor } from '../../../src/sampling/rng.js';
import { api, decodeLogits, type Vocab } from './api';
import { Chart } from './chart';
import { PromptBar, useModels, usePageState } from './page';
import type { Field, StateOf } from './url-state';

/**
 * The Explorer: the next-token distribution after a prompt on a real model, reshaped by Wander's
 * sampling chain in this page. The server sends the raw logits once per prompt; every control re-runs
 * the chain here, on the same code and kernels as `wander next`, so the numbers are the CLI's: what this
 * page shows for a prompt, settings and seed is what `wander next --json` prints for them.
 */

const FIELDS = {
  model: { kind: 'string', default: '' },
  prompt: { kind: 'string', default: 'And the LORD spake unto Moses, saying' },
  added: { kind: 'ids', default: [] as number[] },
  seed: { kind: 'number', default: 1 },
  top: { kind: 'number', default: 20 },
  temperature: { kind: 'number', default: 1 },
  top_k: { kind: 'number', default: 0 },
  top_p: { kind: 'number', default: 1 },
  min_p: { kind: 'number', default: 0 },
  typical_p: { kind: 'number', default: 1 },
  repetition_penalty: { kind: 'number', default: 1 },
  frequency_penalty: { kind: 'number', default: 0 },
  presence_penalty: { kind: 'number', default: 0 },
  top_h: { kind: 'number', default: 0 },
  dry_multiplier: { kind: 'number', default: 0 },
  dry_base: { kind: 'number', default: 1.75 },
  dry_allowed_length: { kind: 'number', default: 2 },
  xtc_probability: { kind: 'number', default: 0 },
  xtc_threshold: { kind: 'number', default: 0.1 },
  mirostat: { kind: 'number', default: 0 },
  mirostat_tau: { kind: 'number', default: 5 },
  mirostat_eta: { kind: 'number', default: 0.1 },
  dynatemp_range: { kind: 'number', default: 0 },
  dynatemp_exponent: { kind: 'number', default: 1 },
  smoothing_factor: { kind: 'number', default: 0 },
  smoothing_curve: { kind: 'number', default: 1 },
  chain: { kind: 'string', default: 'hf' },
} satisfies Record<string, Field>;

type State = StateOf<typeof FIELDS>;

/** The sliders: setting, label, range, step, and what "off" is. */
const CONTROLS: [keyof State & keyof SettingsInput, string, number, number, number, string][] = [
  ['temperature', 'Temperature', 0, 2, 0.05, '0 = greedy'],
  ['top_k', 'Top-k', 0, 100, 1, '0 = off'],
  ['top_p', 'Top-p', 0.01, 1, 0.01, '1 = off'],
  ['min_p', 'Min-p', 0, 1, 0.01, '0 = off'],
  ['typical_p', 'Typical-p', 0.01, 1, 0.01, '1 = off'],
  ['repetition_penalty', 'Repetition penalty', 0.5, 2, 0.05, '1 = off'],
  ['frequency_penalty', 'Frequency penalty', -2, 2, 0.1, '0 = off'],
  ['presence_penalty', 'Presence penalty', -2, 2, 0.1, '0 = off'],
  ['top_h', 'Top-H', 0, 1, 0.01, '0 = off'],
  ['dry_multiplier', 'DRY multiplier', 0, 5, 0.05, '0 = off'],
  ['dry_base', 'DRY base', 1, 4, 0.05, 'penalty growth per repeated token'],
  ['dry_allowed_length', 'DRY allowed length', 0, 10, 1, 'repeats this long go unpenalized'],
  ['xtc_probability', 'XTC probability', 0, 1, 0.01, '0 = off'],
  ['xtc_threshold', 'XTC threshold', 0, 0.5, 0.01, 'above 0.5 = off'],
  ['mirostat', 'Mirostat version', 0, 2, 1, '0 = off'],
  ['mirostat_tau', 'Mirostat τ', 0, 10, 0.1, 'target surprise, bits'],
  ['mirostat_eta', 'Mirostat η', 0, 1, 0.01, 'learning rate (one step here: μ starts at 2τ)'],
  ['dynatemp_range', 'Dynatemp range', 0, 2, 0.05, '0 = off'],
  ['dynatemp_exponent', 'Dynatemp exponent', 0.1, 4, 0.1, 'of the normalized entropy'],
  ['smoothing_factor', 'Smoothing factor', 0, 5, 0.05, '0 = off'],
  ['smoothing_curve', 'Smoothing curve', 1, 5, 0.1, '1 = quadratic'],
];

/** A token as text that shows its spaces and line breaks. */
export const show = (t: string) => JSON.stringify(t).slice(1, -1).replace(/ /g, '␣');

type Loaded = { ids: number[]; promptLength: number; logits: Float32Array; key: string };

export function Explorer() {
  const [state, set] = usePageState(FIELDS);
  const { models, error: modelsError } = useModels(state.model, (model) => set({ model }));
  const [vocab, setVocab] = useState<Vocab>();
  const [loaded, setLoaded] = useState<Loaded>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [draws, setDraws] = useState(false);
  const history = useRef<{ id: number; how: string }[]>([]);

  useEffect(() => {
    if (!state.model) return;
    setVocab(undefined);
    api.vocab(state.model).then(setVocab, (e: Error) => setError(e.message));
  }, [state.model]);

  // The raw logits after the prompt and the tokens added to it: one request per change of text.
  const key = JSON.stringify([state.model, state.prompt, state.added]);
  useEffect(() => {
    if (!state.model) return;
    let stale = false;
    setBusy(true);
    (async () => {
      const first = await api.logits(state.model, state.prompt);
      const promptIds = first.prompt.token_ids;
      const answer = state.added.length ? await api.logits(state.model, [...promptIds, ...state.added]) : first;
      if (stale) return;
      setLoaded({ ids: [...promptIds, ...state.added], promptLength: promptIds.length, logits: decodeLogits(answer.logits.data), key });
      setError(undefined);
    })().catch((e: Error) => { if (!stale) setError(e.message); }).finally(() => { if (!stale) setBusy(false); });
    return () => { stale = true; };
  }, [key]);

  // The chain, rebuilt on every control change; a setting out of range is the schema's own message.
  const input: SettingsInput = {
    temperature: state.temperature, top_k: state.top_k, top_p: state.top_p, min_p: state.min_p, typical_p: state.typical_p,
    repetition_penalty: state.repetition_penalty, frequency_penalty: state.frequency_penalty, presence_penalty: state.presence_penalty,
    top_h: state.top_h, dry_multiplier: state.dry_multiplier, dry_base: state.dry_base, dry_allowed_length: state.dry_allowed_length,
    xtc_probability: state.xtc_probability, xtc_threshold: state.xtc_threshold,
    // A value other than 0, 1 or 2 is passed on for the schema to refuse with its own message.
    mirostat: state.mirostat as SettingsInput['mirostat'], mirostat_tau: state.mirostat_tau, mirostat_eta: state.mirostat_eta,
    dynatemp_range: state.dynatemp_range, dynatemp_exponent: state.dynatemp_exponent,
    smoothing_factor: state.smoothing_factor, smoothing_curve: state.smoothing_curve,
    seed: state.seed, chain: state.chain.includes(',') ? state.chain.split(',') : state.chain,
  };
  const built = useMemo(() => {
    if (!vocab) return undefined;
    try {
      const { settings } = resolveSettings(parseSettings(input), vocab.generation_defaults as never);
      const inputs = { eosIds: vocab.eos_ids, vocabTexts: () => vocab.tokens };
      return { settings, chain: new SamplingChain(settings, inputs), greedy: new SamplingChain({ ...settings, temperature: 0 }, inputs) };
    } catch (e) {
      return { problem: (e as Error).message };
    }
  }, [vocab, JSON.stringify(input)]);

  const view = useMemo((): DistributionView | undefined => {
    if (!built || 'problem' in built || !loaded || !vocab) return undefined;
    const ctx = { tokens: loaded.ids, promptLength: loaded.ids.length, text: '' };
    return describeDistribution(built.chain, loaded.logits, ctx, rngFor(state.seed, 0), { top: state.top, draws: draws ? 100 : 0, text: (id) => vocab.tokens[id] ?? '' });
  }, [built, loaded, state.seed, state.top, draws]);

  const append = (id: number, how: string) => {
    history.current.push({ id, how });
    set({ added: [...state.added, id] });
  };
  const greedyToken = () => {
    if (!built || 'problem' in built || !loaded) return;
    append(built.greedy.sample(loaded.logits, rngFor(state.seed, 0), { tokens: loaded.ids, promptLength: loaded.ids.length, text: '' }), 'greedy');
  };
  const undo = () => {
    history.current.pop();
    set({ added: state.added.slice(0, -1) });
  };
  const runPrompt = (prompt: string) => {
    history.current = [];
    set({ prompt, added: [] });
  };

  const problem = built && 'problem' in built ? built.problem : undefined;
  const text = (ids: number[]) => ids.map((id) => vocab?.tokens[id] ?? '').join('');
  const stale = loaded?.key !== key;

  return (
    <div class="explorer">
      <PromptBar models={models} model={state.model} prompt={state.prompt} onPrompt={runPrompt}
        onModel={(model) => { history.current = []; set({ model, added: [] }); }}>
        <p class="text" aria-label="text so far">
          <span class="prompt-text">{state.prompt}</span>
          {state.added.map((id, i) => <span class={`added ${history.current[i]?.how ?? ''}`} title={`${history.current[i]?.how ?? 'added'} token ${id}`}>{vocab?.tokens[id] ?? ''}</span>)}
        </p>
      </PromptBar>

      <section class="controls" aria-label="sampling settings">
        {CONTROLS.map(([field, label, min, max, step, off]) => (
          <label class="control">
            <span>{label} <output>{state[field]}</output></span>
            <input type="range" min={min} max={max} step={step} value={state[field]} aria-label={label}
              onInput={(e) => set({ [field]: Number((e.target as HTMLInputElement).value) })} />
            <input type="number" step={step} value={state[field]} aria-label={`${label} value`} title={off}
              onInput={(e) => { const v = (e.target as HTMLInputElement).value; if (v !== '' && Number.isFinite(Number(v))) set({ [field]: Number(v) }); }} />
          </label>
        ))}
        <label class="control">
          <span>Chain order</span>
          <select aria-label="Chain order" value={state.chain in PRESETS ? state.chain : 'custom'} onChange={(e) => {
            const v = (e.target as HTMLSelectElement).value;
            set({ chain: v === 'custom' ? (PRESETS['hf'] as string[]).join(',') : v });
          }}>
            <option value="hf">hf (temperature first)</option>
            <option value="llama.cpp">llama.cpp (temperature last)</option>
            <option value="custom">custom order</option>
          </select>
        </label>
        {!(state.chain in PRESETS) && <StageOrder order={state.chain.split(',') as StageName[]} onChange={(o) => set({ chain: o.join(',') })} />}
        <label class="control">
          <span>Seed</span>
          <input type="number" min={0} step={1} value={state.seed} aria-label="Seed" onChange={(e) => set({ seed: Number((e.target as HTMLInputElement).value) })} />
        </label>
        <label class="control">
          <span>Show top</span>
          <input type="number" min={1} max={200} value={state.top} aria-label="Show top" onChange={(e) => set({ top: Math.max(1, Math.min(200, Number((e.target as HTMLInputElement).value))) })} />
        </label>
      </section>

      <section class="actions" aria-label="actions">
        <button onClick={() => view && append(view.chosen.token_id, 'sampled')} disabled={!view || stale}>Sample the next token</button>
        <button onClick={greedyToken} disabled={!view || stale}>Greedy step</button>
        <button onClick={undo} disabled={state.added.length === 0}>Undo</button>
        <button onClick={() => setDraws(!draws)} aria-pressed={draws} disabled={!view}>Draw 100</button>
        {busy && <span class="status" role="status">Running the model…</span>}
      </section>

      {(error ?? modelsError) && <p class="error" role="alert">{error ?? modelsError}</p>}
      {problem && <p class="error" role="alert">{problem}</p>}
      {!error && !problem && !view && <p class="status">Loading…</p>}
      {view && built && !('problem' in built) && (
        <>
          <section class="readout" aria-label="summary">
            <span>entropy <b data-testid="entropy">{view.entropy_bits.toFixed(3)}</b> bits → <b data-testid="final-entropy">{view.final_entropy_bits.toFixed(3)}</b> bits after the chain</span>
            <span>kept <b data-testid="kept-count">{view.kept_count}</b> tokens holding <b>{(view.kept_mass * 100).toFixed(1)}%</b></span>
            <span>stages: {view.stages.length ? view.stages.join(' → ') : 'none (the raw distribution)'}</span>
            <span>seed {state.seed} draws <b data-testid="chosen">{show(view.chosen.token)}</b> (rank {view.chosen.rank})</span>
          </section>
          <div class="charts">
            <Chart plot={() => barChart(view)} label="top tokens, raw and after the chain" />
            <Chart plot={() => cumulativeChart(view, state.top_p)} label="cumulative probability down the ranking" />
          </div>
          <Candidates view={view} onPick={(id) => append(id, 'forced')} />
          <p class="hint">Click a token to continue with it instead. The text so far: <q>{text(state.added)}</q></p>
        </>
      )}
    </div>
  );
}

/** The candidates as a table: raw and final probability, the stage that removed each, the draws. */
function Candidates({ view, onPick }: { view: DistributionView; onPick: (id: number) => void }) {
  const counts = new Map(view.draws?.map((d) => [d.token_id, d.count]));
  return (
    <div class="table-wrap">
    <table class="candidates" aria-label="candidates">
      <thead>
        <tr><th>rank</th><th>token</th><th>raw p</th><th>cumulative</th><th>after chain</th><th>removed by</th>{view.draws && <th>drawn / 100</th>}</tr>
      </thead>
      <tbody>
        {view.candidates.map((c, i) => (
          <tr class={c.removed_by ? 'removed' : 'kept'} data-token-id={c.token_id} data-removed-by={c.removed_by ?? ''}>
            <td>{i + 1}</td>
            <td><button class="token" onClick={() => onPick(c.token_id)} title={`continue with token ${c.token_id}`}>{show(c.token)}</button></td>
            <td class="num" data-prob={c.prob}>{c.prob.toFixed(4)}</td>
            <td class="num">{c.cumulative_prob.toFixed(4)}</td>
            <td class="num" data-final-prob={c.final_prob}>{c.final_prob.toFixed(4)}</td>
            <td>{c.removed_by ?? ''}</td>
            {view.draws && <td class="num" data-count>{counts.get(c.token_id) ?? 0}</td>}
          </tr>
        ))}
      </tbody>
      {view.draws && <tfoot><tr><td colSpan={6}>drawn outside the top {view.candidates.length}</td><td class="num" data-count>{100 - view.candidates.reduce((n, c) => n + (counts.get(c.token_id) ?? 0), 0)}</td></tr></tfoot>}
    </table>
    </div>
  );
}

/** Reorders the chain's stages (a custom --chain) with keyboard-usable buttons. */
function StageOrder({ order, onChange }: { order: StageName[]; onChange: (o: StageName[]) => void }) {
  const move = (i: number, d: number) => {
    const o = [...order];
    [o[i], o[i + d]] = [o[i + d]!, o[i]!];
    onChange(o);
  };
  return (
    <ol class="stages" aria-label="stage order">
      {order.map((s, i) => (
        <li>
          {s}
          <button aria-label={`move ${s} up`} disabled={i === 0} onClick={() => move(i, -1)}>↑</button>
          <button aria-label={`move ${s} down`} disabled={i === order.length - 1} onClick={() => move(i, 1)}>↓</button>
        </li>
      ))}
    </ol>
  );
}

function barChart(view: DistributionView) {
  const labels = view.candidates.map((c, i) => `${i + 1}. ${show(c.token)}`);
  const rows = view.candidates.flatMap((c, i) => [
    { token: labels[i]!, kind: 'raw', p: c.prob, removed: c.removed_by },
    { token: labels[i]!, kind: 'after chain', p: c.final_prob, removed: c.removed_by },
  ]);
  return Plot.plot({
    marginLeft: 110, height: 24 + view.candidates.length * 26, x: { label: 'probability', grid: true, domain: [0, Math.max(1e-9, ...rows.map((r) => r.p))] },
    fy: { domain: labels, label: null }, y: { axis: null, domain: ['raw', 'after chain'] },
    color: { domain: ['raw', 'after chain', 'removed'], range: ['#9db4d6', '#2f6fbd', '#c8c8c8'], legend: true },
    marks: [
      Plot.barX(rows, { x: 'p', y: 'kind', fy: 'token', fill: (d: (typeof rows)[0]) => (d.removed && d.kind === 'raw' ? 'removed' : d.kind) }),
      Plot.tip(rows, Plot.pointerY({ x: 'p', y: 'kind', fy: 'token', title: (d: (typeof rows)[0]) => `${d.token}\n${d.kind}: ${d.p.toFixed(4)}${d.removed ? `\nremoved by ${d.removed}` : ''}` })),
    ],
  });
}

function cumulativeChart(view: DistributionView, topP: number) {
  const pts = view.candidates.map((c, i) => ({ rank: i + 1, cumulative: c.cumulative_prob }));
  const cut = pts.find((p) => p.cumulative >= topP);
  return Plot.plot({
    height: 220, x: { label: 'rank', domain: [1, Math.max(2, pts.length)] }, y: { label: 'cumulative probability', domain: [0, 1], grid: true },
    marks: [
      Plot.line(pts, { x: 'rank', y: 'cumulative', stroke: '#2f6fbd' }),
      Plot.dot(pts, { x: 'rank', y: 'cumulative', r: 2, fill: '#2f6fbd' }),
      ...(topP < 1 ? [Plot.ruleY([topP], { stroke: '#c0392b', strokeDasharray: '4 3' }), Plot.text([`top-p ${topP}`], { frameAnchor: 'top-left', dy: 4, fill: '#c0392b' })] : []),
      ...(cut && topP < 1 ? [Plot.dot([cut], { x: 'rank', y: 'cumulative', r: 5, stroke: '#c0392b' })] : []),
    ],
  });
}
