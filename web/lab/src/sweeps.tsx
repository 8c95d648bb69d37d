import { fmtDistribution, type MetricRow } from '../../../src/experiments/report/tables.js';
import { api } from './api';
import { usePageState } from './page';
import type { Field } from './url-state';
import { useRequest } from './use-request';

/**
 * Sweeps: the experiments in the results database `wander serve --db` was given — each one's per-cell
 * metrics, and the report `wander report` writes (its plots, drawn by the report's own code, and its
 * sample tables), shown in the page.
 */

const FIELDS = { experiment: { kind: 'string', default: '' } } satisfies Record<string, Field>;

interface Experiment { name: string; file: string | null; created_at: string; updated_at: string; finished_at: string | null; cells: number }

const COLUMNS: [keyof MetricRow, string][] = [
  ['model', 'model'], ['prompt_label', 'prompt'], ['preset', 'preset'], ['samples', 'samples'], ['distinct', 'distinct'],
  ['distinct_2', 'distinct-2'], ['self_bleu4', 'self-BLEU-4'], ['mean_entropy_bits', 'entropy (bits)'], ['perplexity', 'perplexity'], ['degenerate', 'loops'],
];

export function Sweeps() {
  const [state, setState] = usePageState(FIELDS);
  const list = useRequest(() => api.command<{ experiments: Experiment[] }>('sweeps', undefined), []);
  const chosen = state.experiment || list.data?.experiments[0]?.name;
  const report = useRequest(chosen ? () => api.command<{ cells: MetricRow[] }>(`sweeps/${encodeURIComponent(chosen)}/report`, undefined) : undefined, [chosen]);

  if (list.error) return <p class="error" role="alert">{list.error}</p>;
  if (!list.data) return <p class="status">Reading the results database…</p>;
  if (list.data.experiments.length === 0) return <p class="status">The results database holds no experiments yet: run <code>wander sweep</code> with this <code>--db</code>.</p>;
  return (
    <div class="sweeps">
      <table class="experiments" aria-label="experiments">
        <thead><tr><th>experiment</th><th>cells</th><th>last run</th><th>finished</th></tr></thead>
        <tbody>
          {list.data.experiments.map((e) => (
            <tr class={e.name === chosen ? 'chosen' : ''}>
              <td><button class="link" onClick={() => setState({ experiment: e.name })} aria-pressed={e.name === chosen}>{e.name}</button></td>
              <td class="num">{e.cells}</td><td>{e.updated_at}</td><td>{e.finished_at ? 'yes' : 'in progress'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.error && <p class="error" role="alert">{report.error}</p>}
      {report.data && chosen && (
        <>
          <h3>{chosen}: every cell</h3>
          <table class="cells" aria-label="cells">
            <thead><tr>{COLUMNS.map(([, label]) => <th>{label}</th>)}</tr></thead>
            <tbody>
              {report.data.cells.map((c) => <tr>{COLUMNS.map(([k]) => <td class={typeof c[k] === 'number' ? 'num' : ''}>{k === 'mean_entropy_bits' ? fmtDistribution(c, c[k]) : format(c[k])}</td>)}</tr>)}
            </tbody>
          </table>
          <h3>The report</h3>
          <iframe class="report" title={`the report of ${chosen}`} src={`/api/sweeps/${encodeURIComponent(chosen)}/report.html`} />
        </>
      )}
    </div>
  );
}

const format = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : v === null || v === undefined ? '—' : String(v));
