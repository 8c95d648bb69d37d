import { UserError } from '../errors.js';
import type { Model } from '../model/load.js';
import type { Hooks } from '../model/hooks.js';
import { inputIds, tokenEntries } from './tokens.js';
import { HeadScoreAccumulator, summaryOf, type HeadSummary } from './head-summary.js';

export interface AttentionOptions {
  /** Only this layer (0 … n_layers − 1); default every layer. */
  layer?: number;
  /** Only this query head (0 … n_heads − 1), in every layer shown; default every head. */
  head?: number;
  /**
   * Return every head's full pattern (default true). With false only the summaries are kept, computed
   * row by row as the pass runs: memory stays small however long the prompt.
   */
  patterns?: boolean;
}

export interface HeadPattern {
  /** The query head (with grouped-query attention, several query heads share one KV head). */
  head: number;
  /**
   * [pos, key_pos]: row i is query position i's attention over keys 0 … T − 1; zero above the diagonal.
   * Absent when asked for summaries only (`patterns: false`).
   */
  pattern?: number[][];
  summary: HeadSummary;
}

export interface AttentionPatterns {
  tokens: { token_id: number; token: string }[];
  layers: { layer: number; heads: HeadPattern[] }[];
}

/**
 * Every head's attention pattern on one prompt, with a one-line summary per head (see head-summary.ts).
 * The prompt runs once, in the forward pass's 64-position chunks; `blocks.{l}.attn.hook_pattern`
 * fires per chunk with [n_heads, chunk_pos, key_pos] (keys so far), and the chunks' rows are placed at
 * their absolute positions into full [pos, pos] matrices. `prompt` is text (tokenized as the model
 * asks, BOS included) or token ids used as they are.
 */
export function attentionPatterns(model: Model, prompt: string | readonly number[], opts: AttentionOptions = {}): AttentionPatterns {
  const c = model.config, tok = model.tokenizer;
  const layers = pick(model, 'layer', opts.layer);
  const heads = pick(model, 'head', opts.head);
  const ids = inputIds(model, prompt);
  const T = ids.length;

  const keep = opts.patterns ?? true;
  // Per layer layers[li] and head heads[hi]: the summary's running scores, and (when kept) the full
  // [pos, key_pos] matrix, row-major T × T.
  const scores = layers.map(() => heads.map(() => new HeadScoreAccumulator(ids)));
  const full = keep ? layers.map(() => heads.map(() => new Float32Array(T * T))) : undefined;
  const hooks: Hooks = new Map();
  layers.forEach((l, li) => {
    hooks.set(`blocks.${l}.attn.hook_pattern`, (a, ctx) => {
      const [, rows, keys] = ctx.shape as [number, number, number];
      heads.forEach((h, hi) => {
        for (let r = 0; r < rows; r++) {
          const row = a.subarray((h * rows + r) * keys, (h * rows + r + 1) * keys), p = ctx.positions[r]!;
          scores[li]![hi]!.addRow(p, row);
          full?.[li]![hi]!.set(row, p * T);
        }
      });
    });
  });
  model.withScratch(() => model.forward(ids, model.newCache(T), { hooks }));

  return {
    tokens: tokenEntries(tok, ids),
    layers: layers.map((l, li) => ({
      layer: l,
      heads: heads.map((h, hi): HeadPattern => {
        const summary = summaryOf(scores[li]![hi]!.scores());
        const m = full?.[li]![hi];
        return m ? { head: h, pattern: Array.from({ length: T }, (_, i) => Array.from(m.subarray(i * T, (i + 1) * T))), summary } : { head: h, summary };
      }),
    })),
  };
}

/** [value] when given and in range, every index when not given. */
function pick(model: Model, field: 'layer' | 'head', value: number | undefined): number[] {
  const n = field === 'layer' ? model.config.nLayer : model.config.nHead;
  if (value === undefined) return Array.from({ length: n }, (_, i) => i);
  if (!Number.isInteger(value) || value < 0 || value >= n) throw indexError(model, field, String(value));
  return [value];
}

/** The one message for a layer or head outside the model, naming the allowed range. */
export function indexError(model: Model, field: 'layer' | 'head', got: string): UserError {
  const c = model.config;
  const what = field === 'layer' ? `${c.nLayer} layers` : `${c.nHead} query heads per layer`;
  const n = field === 'layer' ? c.nLayer : c.nHead;
  return new UserError(`--${field} must be an integer from 0 to ${n - 1} (this model has ${what}), got ${got}`, field);
}
