import * as Plot from '@observablehq/plot';
import type { NextTokenDistribution } from '../../../src/generate/next.js';
import type { AttentionPatterns } from '../../../src/interp/attention.js';
import type { LensResult } from '../../../src/interp/lens.js';
import type { PatchCell, PatchResult } from '../../../src/interp/patch.js';
import type { TokenScores } from '../../../src/interp/score.js';
import { api } from './api';
import { Chart } from './chart';
import { show } from './explorer';
import { PromptBar, useModels, usePageState } from './page';
import type { Field } from './url-state';
import { useRequest, type Requested } from './use-request';

/**
 * Inside: what the model does on one prompt, from the server's interpretability commands (each the
 * same JSON as the CLI's --json): the logit lens, every head's attention with what it does, a head
 * ablated or noise added and the next-token distribution's change (the KL of `wander next --ablate`),
 * the activation-patching grid for a clean/corrupted pair, and the loss of every token.
 */

const FIELDS = {
  model: { kind: 'string', default: '' },
  prompt: { kind: 'string', default: 'And the LORD spake unto Moses, saying' },
  target: { kind: 'string', default: '' },
  layer: { kind: 'number', default: 0 },
  ablate: { kind: 'string', default: '' },
  noise_hook: { kind: 'string', default: 'blocks.0.hook_resid_post' },
  sigma: { kind: 'number', default: 0 },
  clean: { kind: 'string', default: 'And the king said unto' },
  corrupted: { kind: 'string', default: 'And the king went unto' },
  hook: { kind: 'string', default: 'resid_pre' },
} satisfies Record<string, Field>;


export function Inside() {
  const [state, set] = usePageState(FIELDS);
  const { models, error } = useModels(state.model, (model) => set({ model }));
  const m = state.model || undefined;
  const lens = useRequest(m === undefined ? undefined : (() => api.command<LensResult>('lens', { model: m, prompt: state.prompt, top: 5, ...(state.target ? { target: state.target } : {}) })), [m, state.prompt, state.target]);
  const attention = useRequest(m === undefined ? undefined : (() => api.command<AttentionPatterns>('attention', { model: m, prompt: state.prompt, layer: state.layer })), [m, state.prompt, state.layer]);
  const score = useRequest(m === undefined ? undefined : (() => api.command<TokenScores>('score', { model: m, text: state.prompt })), [m, state.prompt]);
  const interventions = { ...(state.ablate ? { ablate: [state.ablate] } : {}), ...(state.sigma > 0 ? { noise: [`hook=${state.noise_hook},sigma=${state.sigma}`] } : {}) };
  const next = useRequest(m === undefined ? undefined : (() => api.command<NextTokenDistribution>('next', { model: m, prompt: state.prompt, top: 8, seed: 1, ...interventions })), [m, state.prompt, JSON.stringify(interventions)]);
  const patch = useRequest(m === undefined ? undefined : (() => api.command<PatchResult>('patch', { model: m, clean: state.clean, corrupted: state.corrupted, hook: state.hook })), [m, state.clean, state.corrupted, state.hook]);

  return (
    <div class="inside">
      <PromptBar models={models} model={state.model} prompt={state.prompt} onModel={(model) => set({ model, ablate: '' })} onPrompt={(prompt) => set({ prompt, ablate: '' })} />
      {error && <p class="error" role="alert">{error}</p>}

      <section aria-label="per-token loss">
        <h3>Per-token loss</h3>
        <Result r={score}>{(s) => <Loss scores={s} />}</Result>
      </section>

      <section aria-label="logit lens">
        <h3>Logit lens</h3>
        <label class="control inline">
          <span>Follow a token (text that is one token, or #id)</span>
          <input type="text" aria-label="Lens target" value={state.target} onChange={(e) => set({ target: (e.target as HTMLInputElement).value })} />
        </label>
        <Result r={lens}>{(l) => <Chart label="logit lens: each layer's top token at each position" plot={() => lensChart(l)} />}</Result>
      </section>

      <section aria-label="attention and ablation">
        <h3>Attention, and what a head does for the next token</h3>
        <label class="control inline">
          <span>Layer</span>
          <input type="number" min={0} aria-label="Layer" value={state.layer} onChange={(e) => set({ layer: Number((e.target as HTMLInputElement).value) })} />
        </label>
        <Result r={attention}>{(a) => <Heads a={a} ablated={state.ablate} onAblate={(spec) => set({ ablate: spec === state.ablate ? '' : spec })} />}</Result>
        <div class="noise">
          <label class="control inline">
            <span>Noise on hook</span>
            <input type="text" aria-label="Noise hook" value={state.noise_hook} onChange={(e) => set({ noise_hook: (e.target as HTMLInputElement).value })} />
          </label>
          <label class="control inline">
            <span>σ <output>{state.sigma}</output></span>
            <input type="range" min={0} max={2} step={0.05} aria-label="Noise sigma" value={state.sigma} onChange={(e) => set({ sigma: Number((e.target as HTMLInputElement).value) })} />
          </label>
        </div>
        <Result r={next}>{(n) => <Effect next={n} what={[state.ablate && `head ${state.ablate} ablated`, state.sigma > 0 && `noise σ ${state.sigma} on ${state.noise_hook}`].filter(Boolean).join(', ')} />}</Result>
      </section>

      <section aria-label="activation patching">
        <h3>Activation patching</h3>
        <div class="patch-inputs">
          {(['clean', 'corrupted'] as const).map((k) => (
            <label class="control grow">
              <span>{k === 'clean' ? 'Clean prompt' : 'Corrupted prompt'}</span>
              <input type="text" aria-label={k === 'clean' ? 'Clean prompt' : 'Corrupted prompt'} value={state[k]} onChange={(e) => set({ [k]: (e.target as HTMLInputElement).value })} />
            </label>
          ))}
          <label class="control">
            <span>Hook</span>
            <select aria-label="Patch hook" value={state.hook} onChange={(e) => set({ hook: (e.target as HTMLSelectElement).value })}>
              {['resid_pre', 'attn_out', 'mlp_out'].map((h) => <option value={h}>{h}</option>)}
            </select>
          </label>
        </div>
        <Result r={patch}>{(p) => (
          <>
            <p class="hint">Each cell: the clean run's {p.hook} at that layer and position put into the corrupted run; how much of logit({show(p.target.token)}) − logit({show(p.foil.token)}) it restores (clean {p.clean_logit_diff.toFixed(2)}, corrupted {p.corrupted_logit_diff.toFixed(2)}).</p>
            <Chart label="patching grid" plot={() => patchChart(p)} />
          </>
        )}</Result>
      </section>
    </div>
  );
}

/** A request's answer, or its loading state, or its error: never a blank. */
function Result<T>({ r, children }: { r: Requested<T>; children: (data: T) => preact.ComponentChildren }) {
  if (r.error) return <p class="error" role="alert">{r.error}</p>;
  if (!r.data) return <p class="status">Running the model…</p>;
  return <>{children(r.data)}</>;
}

/** The text with every token coloured by its loss (−ln p); focus one for its rank and entropy. */
function Loss({ scores }: { scores: TokenScores }) {
  return (
    <>
      <p class="output loss">
        {scores.tokens.map((t) => (
          <span class="tok" tabIndex={0} data-logprob={t.logprob ?? ''} title={t.logprob === null ? 'nothing predicts the first token' : `−ln p = ${(-t.logprob).toFixed(2)} · rank ${t.rank} · entropy ${t.entropy_bits!.toFixed(2)} bits`}
            style={{ background: t.logprob === null ? 'transparent' : `hsl(${Math.round(120 * Math.exp(t.logprob))} 70% 55% / 0.45)` }}>{t.token}</span>
        ))}
      </p>
      <p class="meta">mean loss {scores.mean_nll?.toFixed(3) ?? '—'} nats · perplexity {scores.perplexity?.toFixed(2) ?? '—'}</p>
    </>
  );
}

/** Every head of the layer: its pattern, what it does, and a button to ablate it. */
function Heads({ a, ablated, onAblate }: { a: AttentionPatterns; ablated: string; onAblate: (spec: string) => void }) {
  const layer = a.layers[0];
  if (!layer) return null;
  return (
    <div class="heads">
      {layer.heads.map((h) => {
        const spec = `${layer.layer}.${h.head}`;
        return (
          <figure class={`head ${ablated.startsWith(`${spec}`) && (ablated === spec || ablated.startsWith(`${spec}:`)) ? 'ablated' : ''}`} data-head={spec}>
            <figcaption>head {spec}: {h.summary.kind} ({h.summary.score.toFixed(2)})</figcaption>
            <Chart label={`attention of head ${spec}`} plot={() => patternChart(h.pattern ?? [], a.tokens.map((t) => t.token))} />
            <button onClick={() => onAblate(spec)} aria-pressed={ablated === spec}>{ablated === spec ? 'restore' : 'ablate (zero)'}</button>
            <button onClick={() => onAblate(`${spec}:mean`)} aria-pressed={ablated === `${spec}:mean`}>{ablated === `${spec}:mean` ? 'restore' : 'ablate (mean)'}</button>
          </figure>
        );
      })}
    </div>
  );
}

/** The next-token distribution, and with an intervention its KL from the clean one. */
function Effect({ next, what }: { next: NextTokenDistribution; what: string }) {
  const fx = next.intervention;
  return (
    <div class="effect" aria-label="next-token effect">
      {fx ? (
        <p>With {what}: KL(clean ‖ intervened) = <b data-testid="kl">{fx.kl_nats.toFixed(4)}</b> nats; the top token {fx.top1_changed ? <b>changed</b> : 'stayed'} (clean top: {fx.clean_top.slice(0, 3).map((t) => `${show(t.token)} ${t.prob.toFixed(3)}`).join(', ')}).</p>
      ) : <p>The clean model's next token (ablate a head or add noise to see it change):</p>}
      <ol class="next-top">
        {next.candidates.map((c) => <li data-token-id={c.token_id}><code>{show(c.token)}</code> {c.prob.toFixed(3)}</li>)}
      </ol>
    </div>
  );
}

function lensChart(l: LensResult) {
  const labels = l.tokens.map((t, i) => `${i} ${show(t.token)}`);
  const cells = l.layers.flatMap((layer) => layer.positions.map((p) => ({
    layer: layer.layer, position: labels[p.position]!, top: p.top[0]!, value: p.target ? p.target.prob : p.top[0]!.prob,
    tip: `layer ${layer.layer}, position ${p.position}\n${p.top.map((t) => `${show(t.token)} ${t.prob.toFixed(3)}`).join('\n')}${p.target ? `\ntarget: p ${p.target.prob.toFixed(3)}, rank ${p.target.rank}` : ''}`,
  })));
  return Plot.plot({
    marginLeft: 50, marginBottom: 80, width: Math.max(480, 70 * labels.length), height: 40 + 34 * l.layers.length,
    x: { domain: labels, label: null, tickRotate: -35 }, y: { domain: l.layers.map((x) => x.layer).reverse(), label: 'layer' },
    color: { scheme: 'blues', domain: [0, 1], legend: true, label: cells.some((c) => c.value !== c.top.prob) ? 'target probability' : 'top-1 probability' },
    marks: [
      Plot.cell(cells, { x: 'position', y: 'layer', fill: 'value', inset: 1 }),
      Plot.text(cells, { x: 'position', y: 'layer', text: (d: (typeof cells)[0]) => show(d.top.token).slice(0, 8), fill: (d: (typeof cells)[0]) => (d.value > 0.5 ? 'white' : 'black'), fontSize: 10 }),
      Plot.tip(cells, Plot.pointer({ x: 'position', y: 'layer', title: 'tip' })),
    ],
  });
}

function patternChart(pattern: number[][], tokens: string[]) {
  const labels = tokens.map((t, i) => `${i} ${show(t)}`);
  const cells = pattern.flatMap((row, q) => row.map((w, k) => ({ q: labels[q]!, k: labels[k]!, w })).filter((c, k) => k <= q && c.w >= 0));
  return Plot.plot({
    width: 220, height: 220, marginLeft: 0, marginBottom: 0, marginTop: 0, marginRight: 0,
    x: { domain: labels, axis: null }, y: { domain: labels, axis: null }, color: { scheme: 'purples', domain: [0, 1] },
    marks: [Plot.cell(cells, { x: 'k', y: 'q', fill: 'w' }), Plot.tip(cells, Plot.pointer({ x: 'k', y: 'q', title: (d: (typeof cells)[0]) => `query ${d.q}\nkey ${d.k}\n${d.w.toFixed(3)}` }))],
  });
}

function patchChart(p: PatchResult) {
  const labels = p.corrupted.token_ids.map((_, i) => `${i}`);
  const cells = (p.grid as PatchCell[][]).flat().map((c) => ({ ...c, pos: labels[c.position]! }));
  return Plot.plot({
    marginLeft: 50, width: Math.max(360, 50 * labels.length), height: 40 + 30 * (p.grid as PatchCell[][]).length,
    x: { domain: labels, label: 'position' }, y: { domain: [...new Set(cells.map((c) => c.layer))].reverse(), label: 'layer' },
    color: { type: 'diverging', scheme: 'RdBu', domain: [-1, 1], legend: true, label: 'share of the logit difference restored' },
    marks: [Plot.cell(cells, { x: 'pos', y: 'layer', fill: (d: (typeof cells)[0]) => d.normalized ?? 0, inset: 1 }), Plot.tip(cells, Plot.pointer({ x: 'pos', y: 'layer', title: (d: (typeof cells)[0]) => `layer ${d.layer}, position ${d.position}\nrestored ${d.normalized?.toFixed(3) ?? '—'}\nlogit diff ${d.logit_diff.toFixed(3)}` }))],
  });
}
