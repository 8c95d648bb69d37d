import { DEFAULTS, SettingsSchema } from '../../generate/settings.js';
import { degenerationMetrics, type DegenerationMetrics, type DegenerationText } from '../metrics/degeneration.js';
import type { StoredContinuation, StoredSample } from '../store.js';

/** One row of the paper's Table 1: a decoding method and its figures on GPT-2 Large. */
export interface PaperRow {
  method: string;
  /**
   * The Wander settings of the same decoder (Wander's defaults left out), to match a preset against;
   * null for the human row and for a decoder Wander does not have.
   */
  settings: Record<string, unknown> | null;
  perplexity: number;
  self_bleu4: number;
  zipf: number;
  repetition_percent: number;
  /** Human Unified with Statistical Evaluation (a human judgement; only for the sampling methods). */
  huse: number | null;
}

/**
 * Table 1 of Holtzman et al. (2020), copied as printed (the arXiv v2 text; checked against a stored copy
 * of the paper). HUSE is a human evaluation and is not measured here.
 */
export const HOLTZMAN_2020 = {
  citation: 'Holtzman, Buys, Du, Forbes and Choi, "The Curious Case of Neural Text Degeneration", ICLR 2020 (arXiv:1904.09751), Table 1',
  setting: 'GPT-2 Large (762M parameters), 5,000 continuations of held-out WebText contexts of 1–40 tokens, up to 200 tokens each',
  rows: [
    { method: 'Human', settings: null, perplexity: 12.38, self_bleu4: 0.31, zipf: 0.93, repetition_percent: 0.28, huse: null },
    { method: 'Greedy', settings: { temperature: 0 }, perplexity: 1.5, self_bleu4: 0.5, zipf: 1, repetition_percent: 73.66, huse: null },
    { method: 'Beam, b=16', settings: { num_beams: 16 }, perplexity: 1.48, self_bleu4: 0.44, zipf: 0.94, repetition_percent: 28.94, huse: null },
    { method: 'Stochastic Beam, b=16', settings: null, perplexity: 19.2, self_bleu4: 0.28, zipf: 0.91, repetition_percent: 0.32, huse: null },
    { method: 'Pure Sampling', settings: {}, perplexity: 22.73, self_bleu4: 0.28, zipf: 0.93, repetition_percent: 0.22, huse: 0.67 },
    { method: 'Sampling, t=0.9', settings: { temperature: 0.9 }, perplexity: 10.25, self_bleu4: 0.35, zipf: 0.96, repetition_percent: 0.66, huse: 0.79 },
    { method: 'Top-k=40', settings: { top_k: 40 }, perplexity: 6.88, self_bleu4: 0.39, zipf: 0.96, repetition_percent: 0.78, huse: 0.19 },
    { method: 'Top-k=640', settings: { top_k: 640 }, perplexity: 13.82, self_bleu4: 0.32, zipf: 0.96, repetition_percent: 0.28, huse: 0.94 },
    { method: 'Top-k=40, t=0.7', settings: { top_k: 40, temperature: 0.7 }, perplexity: 3.48, self_bleu4: 0.44, zipf: 1, repetition_percent: 8.86, huse: 0.08 },
    { method: 'Nucleus p=0.95', settings: { top_p: 0.95 }, perplexity: 13.13, self_bleu4: 0.32, zipf: 0.95, repetition_percent: 0.36, huse: 0.97 },
  ] satisfies PaperRow[],
};

/** One model's figures for one decoder (or for the human continuations), with the paper's matching method. */
export interface DegenerationRow extends DegenerationMetrics {
  /** The preset's name, or "human". */
  decoder: string;
  human: boolean;
  model: string;
  parameters: number | null;
  /** The paper's method with the same settings ("Top-k=40"), or null when the paper has none. */
  paper: string | null;
}

/** The degeneration view of one experiment: Table 1's columns per model and decoder, beside the paper's. */
export interface DegenerationView {
  reference: typeof HOLTZMAN_2020;
  /** Prompts in the experiment: each decoder's row pools at most one generation per prompt. */
  prompts: number;
  /** Row order: the human rows first, then the presets in file order, each over the models smallest first. */
  rows: DegenerationRow[];
  /** The paper's methods no preset matches (so only the paper's figures are shown for them). */
  unmatched: string[];
  notes: string[];
}

/** What the view needs of one cell: who ran it, which preset, and its stored samples. */
export interface DegenerationCell {
  model: string;
  model_spec: string;
  parameters: number | null;
  prompt: string;
  chat: boolean;
  preset: string;
  settings: Record<string, unknown>;
  deterministic: boolean;
  seeds: number[];
  planned: number;
  samples: StoredSample[];
}

/**
 * Table 1 of Holtzman et al. (2020) on this experiment's models: for each model and preset, the first
 * generation (first seed, sample 0) of every prompt, pooled — the paper draws one generation per
 * context, and its Self-BLEU compares generations of different contexts — and the prompts' human
 * continuations as each model reads them. Models are ordered by size, smallest first.
 */
export function degenerationView(cells: readonly DegenerationCell[], prompts: readonly { text: string; chat: boolean; continuation?: string }[], continuations: readonly StoredContinuation[]): DegenerationView {
  const size = (p: number | null) => p ?? Number.MAX_SAFE_INTEGER;
  const models = [...new Map(cells.map((c) => [c.model, c])).values()].sort((a, b) => size(a.parameters) - size(b.parameters));
  const presets = [...new Set(cells.map((c) => c.preset))];
  const rows: DegenerationRow[] = [];
  const notes: string[] = [];
  const matched = new Set<string>();

  const withText = prompts.filter((p) => p.continuation !== undefined);
  if (withText.length > 0) {
    const missing: string[] = [];
    for (const m of models) {
      const texts: DegenerationText[] = [];
      for (const p of withText) {
        const c = continuations.find((x) => x.model_spec === m.model_spec && x.prompt === p.text && x.chat === p.chat && x.text === p.continuation);
        if (c) texts.push({ token_ids: c.token_ids, logprobs: c.logprobs, ends_with_eos: false });
      }
      if (texts.length === 0) { missing.push(m.model); continue; }
      rows.push({ decoder: 'human', human: true, model: m.model, parameters: m.parameters, paper: 'Human', ...degenerationMetrics(texts) });
    }
    matched.add('Human');
    if (missing.length) {
      notes.push(`No human row for ${missing.join(', ')}: its continuations are scored by the sweep under Wander's own engine (a server or llama.cpp gives no teacher-forced log-probabilities); run the sweep again if the model is Wander's.`);
    }
  } else {
    notes.push('The prompts carry no human continuations (continuation: in the file), so the only human row is the paper\'s.');
  }

  for (const preset of presets) {
    for (const m of models) {
      const cell = (p: { text: string; chat: boolean }) => cells.find((c) => c.model === m.model && c.preset === preset && c.prompt === p.text && c.chat === p.chat);
      const mine = prompts.map(cell).filter((c): c is DegenerationCell => c !== undefined);
      if (mine.length === 0) continue;
      const texts: DegenerationText[] = [];
      for (const c of mine) {
        const first = c.samples.find((s) => s.seed === c.seeds[0] && s.sample_index === 0 && s.finish_reason !== 'error');
        // A server reports no logprobs for some tokens when it lists none: the perplexity is then unknown.
        if (first) texts.push({ token_ids: first.token_ids, logprobs: first.logprobs.length === first.token_ids.length ? first.logprobs : null, ends_with_eos: first.finish_reason === 'eos' });
      }
      const paper = paperMethod(mine[0]!.settings);
      if (paper) matched.add(paper);
      rows.push({ decoder: preset, human: false, model: m.model, parameters: m.parameters, paper, ...degenerationMetrics(texts) });
    }
  }

  notes.push(`Compare each row with the human row, as the paper does, rather than with the paper's figures: perplexity depends on the model and its vocabulary, and Self-BLEU on how many texts are pooled (the paper compares each generation with 4,999 others, this view with the other ${Math.max(0, prompts.length - 1)}).`);
  const once = presets.filter((p) => cells.some((c) => c.preset === p && c.deterministic));
  if (once.length) notes.push(`${once.join(', ')} ${once.length === 1 ? 'is' : 'are'} deterministic: the sweep ran ${once.length === 1 ? 'it' : 'them'} once per prompt (the first seed only), whatever samples and seeds the file asks for.`);
  const many = cells.find((c) => !c.deterministic && c.planned > 1);
  if (many) notes.push(`The file asks for ${many.planned} samples per cell (samples × seeds); this view takes the first of each (seed ${many.seeds[0]}, sample 0), one generation per prompt as the paper draws.`);
  const short = rows.filter((r) => !r.human && r.texts < prompts.length);
  if (short.length) notes.push(`Some rows pool fewer generations than there are prompts (${prompts.length}): ${short.map((r) => `${r.decoder} on ${r.model} (${r.texts})`).join(', ')} — the sweep has not finished, or samples ended in errors.`);
  return { reference: HOLTZMAN_2020, prompts: prompts.length, rows, unmatched: HOLTZMAN_2020.rows.map((r) => r.method).filter((m) => !matched.has(m)), notes };
}

/** The settings that pick a decoder: Wander's defaults, the length limits and what varies per run left out. */
const NOT_DECODING = new Set(['max_tokens', 'stop', 'seed', 'n', 'max_batch_size', 'trace', 'top_logprobs']);

export function decoderSettings(settings: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(settings)) {
    if (!(k in SettingsSchema.shape) || NOT_DECODING.has(k)) continue;
    if (canonical(v) === canonical((DEFAULTS as Record<string, unknown>)[k])) continue;
    out[k] = v;
  }
  return out;
}

/** The paper's method whose decoder these settings are exactly (Top-k=40 is top_k 40 and nothing else), or null. */
export function paperMethod(settings: Record<string, unknown>): string | null {
  const mine = canonical(decoderSettings(settings));
  return HOLTZMAN_2020.rows.find((r) => r.settings !== null && canonical(r.settings) === mine)?.method ?? null;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** The view's explanation, the same in every format. */
export const DEGENERATION_INTRO = 'Per model and decoder, one generation per prompt pooled over the prompts (model tokens): *perplexity* of the generations under the model that wrote them (exp of the mean negative log-probability of their tokens at temperature 1, nothing truncated); *Self-BLEU-4* of each generation against the other prompts\' generations; the *Zipf* coefficient of their tokens; *repetition %*, the share that end in a loop (a phrase of at least 2 tokens repeated at least 3 times back to back at the end; the count in brackets). The *human* row is the same on the prompts\' own continuations, scored by each model after its prompt. Beside them, the paper\'s figures for GPT-2 Large.';

const num = (v: number | null, digits: number) => (v === null ? '—' : v.toFixed(digits));

/** The view's figures as table cells: ours, then the paper's (blank after a decoder's first model). */
export function degenerationCells(view: DegenerationView): { decoder: string; model: string; ours: string[]; paper: string[] }[] {
  const out: { decoder: string; model: string; ours: string[]; paper: string[] }[] = [];
  const paperCells = (method: string | null) => {
    const p = HOLTZMAN_2020.rows.find((r) => r.method === method);
    return p ? [p.method, num(p.perplexity, 2), num(p.self_bleu4, 2), num(p.zipf, 2), num(p.repetition_percent, 2), num(p.huse, 2)] : ['—', '', '', '', '', ''];
  };
  view.rows.forEach((r, i) => {
    const first = i === 0 || view.rows[i - 1]!.decoder !== r.decoder;
    out.push({
      decoder: first ? r.decoder : '', model: r.model,
      ours: [String(r.texts), num(r.perplexity, 2), num(r.self_bleu4, 3), num(r.zipf, 3), r.repetition_percent === null ? '—' : `${r.repetition_percent.toFixed(1)} (${r.repeating})`],
      paper: first ? paperCells(r.paper) : ['', '', '', '', '', ''],
    });
  });
  for (const method of view.unmatched) {
    const why = method === 'Human' ? '(no continuations)' : HOLTZMAN_2020.rows.find((r) => r.method === method)!.settings === null ? '(not in Wander)' : '(not run here)';
    out.push({ decoder: why, model: '', ours: ['', '', '', '', ''], paper: paperCells(method) });
  }
  return out;
}

export const DEGENERATION_HEADS = { ours: ['n', 'perplexity', 'Self-BLEU-4', 'Zipf', 'repetition %'], paper: ['method', 'perplexity', 'Self-BLEU-4', 'Zipf', 'repetition %', 'HUSE'] };
