import { UserError } from '../errors.js';
import { writeSafetensors, type SafetensorOut } from '../formats/safetensors-writer.js';
import type { Hooks } from '../model/hooks.js';
import type { Model } from '../model/load.js';
import { fullShape, modelHookNames, selectHooks } from './hook-select.js';
import { composeHooks, prepareInterventions, type InterventionSettings } from './intervene.js';
import { inputIds, tokenEntries, type TokenEntry } from './tokens.js';

/** One hook point's values over the whole input: row-major `data`, shaped as in src/model/hooks.ts without a batch axis. */
export interface Activation {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface ActivationCache {
  tokens: TokenEntry[];
  /** In forward order. */
  activations: Activation[];
}

export interface CaptureOptions {
  /** Glob patterns over hook names (see hook-select.ts); default every hook except hook_logits. */
  hooks?: readonly string[];
  /** Interventions on the pass (see intervene.ts): the capture records the intervened values. */
  interventions?: Partial<InterventionSettings>;
  /** Seed of the noise streams (default 0). */
  seed?: number;
}

/**
 * Runs the input once and keeps the chosen hook points for every position. The forward pass works in
 * 64-position chunks and fires each hook once per chunk; every chunk's rows are copied to their
 * absolute positions, so each activation covers the whole input:
 *
 *   per-position hooks          [pos, …]                  (row p = position p)
 *   blocks.{i}.attn.hook_pattern [n_heads, pos, key_pos]  (zero above the diagonal)
 *   ln_final.hook_normalized, hook_logits                  every position (the pass computes all logits)
 *
 * `input` is text (encoded as the model's tokenizer does, BOS included) or token ids used as they are.
 */
export function captureActivations(model: Model, input: string | readonly number[], opts: CaptureOptions = {}): ActivationCache {
  const c = model.config;
  const ids = inputIds(model, input);
  const T = ids.length;
  const names = opts.hooks ? selectHooks(c, opts.hooks) : modelHookNames(c).filter((n) => n !== 'hook_logits');
  const activations = names.map((name): Activation => {
    const shape = fullShape(c, name, T);
    return { name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
  });

  const hooks: Hooks = new Map();
  for (const a of activations) {
    if (a.name.endsWith('attn.hook_pattern')) {
      // A chunk's pattern is [n_heads, rows, keys so far]; row r is query position positions[r], and
      // only keys 0…position are visible (the rest of the row is left zero).
      hooks.set(a.name, (x, ctx) => {
        const [H, rows, keys] = ctx.shape as [number, number, number];
        for (let h = 0; h < H; h++) {
          for (let r = 0; r < rows; r++) {
            const p = ctx.positions[r]!;
            a.data.set(x.subarray((h * rows + r) * keys, (h * rows + r) * keys + p + 1), (h * T + p) * T);
          }
        }
      });
    } else {
      // [rows, …] at consecutive positions from positions[0].
      const rowSize = a.data.length / T;
      hooks.set(a.name, (x, ctx) => a.data.set(x, ctx.positions[0]! * rowSize));
    }
  }
  // The logits are computed only where they are wanted: ask for every position's when they are
  // captured (the final norm's hook sees every position anyway).
  const allLogits = names.includes('hook_logits');
  const intervention = prepareInterventions(model, ids, opts.interventions ?? {}, opts.seed ?? 0);
  model.withScratch(() => model.forward(ids, model.newCache(T), { hooks: composeHooks(intervention?.hooks([0]), hooks), allLogits }));
  return { tokens: tokenEntries(model.tokenizer, ids), activations };
}

/** ‖x‖₂ in float64. */
export function l2Norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/**
 * Writes the cache as F32 safetensors: one tensor per hook, named exactly by the hook, shaped as in
 * the cache. The metadata carries the token ids and texts (JSON strings) so the file stands alone.
 */
export function saveActivations(path: string, cache: ActivationCache, model?: string): void {
  const metadata: Record<string, string> = {
    format: 'pt',
    token_ids: JSON.stringify(cache.tokens.map((t) => t.token_id)),
    tokens: JSON.stringify(cache.tokens.map((t) => t.token)),
  };
  if (model) metadata['model'] = model;
  const tensors = cache.activations.map((a): SafetensorOut => ({ name: a.name, dtype: 'F32', shape: a.shape, data: new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength) }));
  try {
    writeSafetensors(path, tensors, metadata);
  } catch (e) {
    throw new UserError(`--save ${path}: cannot write the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'save');
  }
}

/** The cache as plain JSON: each activation's values as nested arrays following its shape. */
export function cacheToJson(cache: ActivationCache): { tokens: TokenEntry[]; activations: { name: string; shape: number[]; values: unknown[] }[] } {
  return {
    tokens: cache.tokens,
    activations: cache.activations.map((a) => ({ name: a.name, shape: a.shape, values: nest(a.data, a.shape, 0) })),
  };
}

function nest(data: Float32Array, shape: number[], offset: number): unknown[] {
  if (shape.length === 1) return Array.from(data.subarray(offset, offset + shape[0]!));
  const inner = shape.slice(1), size = inner.reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0]! }, (_, i) => nest(data, inner, offset + i * size));
}
