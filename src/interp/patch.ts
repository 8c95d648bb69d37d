import { UserError } from '../errors.js';
import type { ModelConfig } from '../model/config.js';
import type { Hooks } from '../model/hooks.js';
import type { Model } from '../model/load.js';
import { inputIds, resolveTarget, tokenLabel, topIds, type TokenEntry } from './tokens.js';
import { runVariants, type VariantOptions } from './variants.js';

/**
 * Activation patching: which activations carry the difference between two inputs? The model runs the
 * corrupted input while one slice of one hook point is set to its value in the clean run, and a metric
 * of the output says how far that one slice moves the answer back toward the clean run's.
 *
 * One generic function does it all (`genericPatch`: patch, measure, loop over an index); each kind of
 * patch is a setter plus an index grid:
 *
 *   resid_pre  blocks.{l}.hook_resid_pre [pos, d_model]          index (layer, position)
 *   attn_out   blocks.{l}.hook_attn_out  [pos, d_model]          index (layer, position)
 *   mlp_out    blocks.{l}.hook_mlp_out   [pos, d_model]          index (layer, position)
 *   z          blocks.{l}.attn.hook_z    [pos, n_heads, d_head]  index (layer, head, position): head h only
 *
 * The patched runs are batched (see variants.ts): each index is one sequence of a forwardMany call,
 * and since attention is causal, a patch at position p starts from the corrupted run's KV cache for
 * positions 0…p−1 and runs only p…T−1.
 */
export type PatchHook = 'resid_pre' | 'attn_out' | 'mlp_out' | 'z';
export const PATCH_HOOKS: readonly PatchHook[] = ['resid_pre', 'attn_out', 'mlp_out', 'z'];

/** What one patched run sets: hook point `layer`, at `positions` (ascending), and for per-head hooks one head. */
export interface PatchIndex {
  layer: number;
  positions: readonly number[];
  head?: number;
}

/**
 * Edits one position's row of the corrupted run's activation in place from the clean run's row at the
 * same position: `corrupted` and `clean` are [d_model] (resid_pre, attn_out, mlp_out) or
 * [n_heads × d_head] (attn.hook_z).
 */
export type PatchSetter = (corrupted: Float32Array, clean: Float32Array, index: PatchIndex, c: ModelConfig) => void;

/** A number from the logits at the last position ([d_vocab]): a logit difference, a log-probability, … */
export type PatchMetric = (logits: Float32Array) => number;

export interface GenericPatch {
  /** The hook point inside each block: 'hook_resid_pre', 'attn.hook_z', … (blocks.{layer}. is prepended). */
  activation: string;
  setter: PatchSetter;
  /** One patched run per index. */
  indices: readonly PatchIndex[];
  metric: PatchMetric;
}

export interface GenericPatchResult {
  /** The metric on the clean and on the corrupted run, unpatched. */
  clean: number;
  corrupted: number;
  /** The metric of each patched run, in index order. */
  patched: number[];
}

/**
 * Runs the clean input once keeping `blocks.{l}.{activation}` for every layer the indices name, then
 * the corrupted input once per index with that index's slice set from the clean values (`setter`, at
 * each of the index's positions), and measures `metric` on the last position's logits of each run.
 * Both inputs are token ids of the same length.
 */
export function genericPatch(model: Model, cleanIds: readonly number[], corruptedIds: readonly number[], p: GenericPatch, opts: VariantOptions = {}): GenericPatchResult {
  const c = model.config, T = corruptedIds.length;
  if (cleanIds.length !== T) throw new RangeError(`genericPatch: the clean input has ${cleanIds.length} tokens, the corrupted ${T}`);
  for (const i of p.indices) {
    if (!Number.isInteger(i.layer) || i.layer < 0 || i.layer >= c.nLayer) throw new RangeError(`patch layer ${i.layer} outside 0…${c.nLayer - 1}`);
    if (i.positions.length === 0 || i.positions.some((q, k) => !Number.isInteger(q) || q < 0 || q >= T || (k > 0 && q <= i.positions[k - 1]!))) {
      throw new RangeError(`patch positions [${i.positions.join(', ')}] must ascend within 0…${T - 1}`);
    }
    if (i.head !== undefined && (!Number.isInteger(i.head) || i.head < 0 || i.head >= c.nHead)) throw new RangeError(`patch head ${i.head} outside 0…${c.nHead - 1}`);
  }
  const layers = [...new Set(p.indices.map((i) => i.layer))].sort((a, b) => a - b);
  const name = (l: number) => `blocks.${l}.${p.activation}`;

  // The clean run: blocks.{l}.{activation} at every position, [T × row] per layer.
  const clean = new Map<number, Float32Array>();
  const capture: Hooks = new Map(layers.map((l) => [name(l), (x, ctx) => {
    const row = x.length / ctx.positions.length;
    const data = clean.get(l) ?? new Float32Array(T * row);
    clean.set(l, data);
    data.set(x, ctx.positions[0]! * row);
  }]));
  const cleanLogits = model.withScratch(() => model.forward(cleanIds, model.newCache(T), { hooks: capture }));

  // Each index is a variant of the corrupted run that starts at its first patched position.
  const runs = runVariants(model, corruptedIds, p.indices.map((i) => ({ from: i.positions[0]! })), (group) => {
    const hooks: Hooks = new Map();
    for (const l of layers) {
      if (!group.some((v) => p.indices[v]!.layer === l)) continue;
      const source = clean.get(l)!;
      hooks.set(name(l), (x, ctx) => {
        const row = x.length / ctx.positions.length;
        for (let r = 0; r < ctx.positions.length; r++) {
          const index = p.indices[group[ctx.sequences[r]!]!]!, pos = ctx.positions[r]!;
          if (index.layer !== l || !index.positions.includes(pos)) continue;
          p.setter(x.subarray(r * row, (r + 1) * row), source.subarray(pos * row, (pos + 1) * row), index, c);
        }
      });
    }
    return hooks;
  }, opts);
  return { clean: p.metric(cleanLogits), corrupted: p.metric(runs.base), patched: runs.variants.map(p.metric) };
}

/** Sets the whole row: a [d_model] hook point at one position. */
export const setPosition: PatchSetter = (x, clean) => x.set(clean);

/** Sets head `index.head`'s d_head values of an [n_heads × d_head] row. */
export const setHead: PatchSetter = (x, clean, index, c) => {
  const at = index.head! * c.headDim;
  x.set(clean.subarray(at, at + c.headDim), at);
};

/** Every (layer, position), layer-major: one patched position each. */
export function layerPositionIndices(c: ModelConfig, T: number): PatchIndex[] {
  return Array.from({ length: c.nLayer * T }, (_, i) => ({ layer: Math.floor(i / T), positions: [i % T] }));
}

/** Every (layer, head, position), layer- then head-major. */
export function layerHeadPositionIndices(c: ModelConfig, T: number): PatchIndex[] {
  return Array.from({ length: c.nLayer * c.nHead * T }, (_, i) => ({ layer: Math.floor(i / (c.nHead * T)), head: Math.floor(i / T) % c.nHead, positions: [i % T] }));
}

/** Each kind of patch: the hook point, the setter, the index grid. */
export const PATCH_KINDS: Record<PatchHook, { activation: string; setter: PatchSetter; indices: (c: ModelConfig, T: number) => PatchIndex[] }> = {
  resid_pre: { activation: 'hook_resid_pre', setter: setPosition, indices: layerPositionIndices },
  attn_out: { activation: 'hook_attn_out', setter: setPosition, indices: layerPositionIndices },
  mlp_out: { activation: 'hook_mlp_out', setter: setPosition, indices: layerPositionIndices },
  z: { activation: 'attn.hook_z', setter: setHead, indices: layerHeadPositionIndices },
};

type Patcher = (model: Model, cleanIds: readonly number[], corruptedIds: readonly number[], metric: PatchMetric, opts?: VariantOptions) => GenericPatchResult;

/** The thin specialisations: one patched run per index of the kind's grid (layer-major, then head, then position). */
export function patchKind(kind: PatchHook): Patcher {
  const k = PATCH_KINDS[kind];
  return (model, cleanIds, corruptedIds, metric, opts) => genericPatch(model, cleanIds, corruptedIds, { ...k, indices: k.indices(model.config, cleanIds.length), metric }, opts);
}
export const patchResidPre = patchKind('resid_pre');
export const patchAttnOut = patchKind('attn_out');
export const patchMlpOut = patchKind('mlp_out');
export const patchHeadZ = patchKind('z');

/** The logit difference logit[target] − logit[foil]. */
export function logitDiff(target: number, foil: number): PatchMetric {
  return (logits) => logits[target]! - logits[foil]!;
}

export interface PatchCell {
  layer: number;
  /** Only for hook z. */
  head?: number;
  position: number;
  /** logit[target] − logit[foil] at the last position with this slice patched. */
  logit_diff: number;
  /** (patched − corrupted) / (clean − corrupted): 0 = no effect, 1 = all of the clean run's difference; null when clean = corrupted. */
  normalized: number | null;
}

export interface PatchResult {
  hook: PatchHook;
  clean: { prompt: string; token_ids: number[] };
  corrupted: { prompt: string; token_ids: number[] };
  target: TokenEntry;
  foil: TokenEntry;
  clean_logit_diff: number;
  corrupted_logit_diff: number;
  /** grid[layer][position]; for hook z grid[layer][head][position]. */
  grid: PatchCell[][] | PatchCell[][][];
}

export interface PatchOptions extends VariantOptions {
  /** Which hook point to patch (default resid_pre). */
  hook?: string;
  /** The token the metric favours: text that is one token, or "#id" (default: the clean run's top token). */
  target?: string | number;
  /** The token it weighs against (default: the corrupted run's top token). */
  foil?: string | number;
}

/** The one message for an unknown --hook. */
export function checkPatchHook(hook: string): PatchHook {
  if (!(PATCH_HOOKS as readonly string[]).includes(hook)) throw new UserError(`--hook must be resid_pre, attn_out, mlp_out or z, got ${JSON.stringify(hook)}`, 'hook');
  return hook as PatchHook;
}

/**
 * Activation patching from a clean into a corrupted prompt of the same length, over one kind of hook
 * point, with the metric logit[target] − logit[foil] at the last position. By default the target is the
 * clean run's top token and the foil the corrupted run's, so the clean difference is ≥ 0 and the
 * corrupted one ≤ 0. Prompts are text (BOS included when the model adds one) or token ids.
 */
export function activationPatching(model: Model, clean: string | readonly number[], corrupted: string | readonly number[], opts: PatchOptions = {}): PatchResult {
  const hook = checkPatchHook(opts.hook ?? 'resid_pre');
  const tok = model.tokenizer, c = model.config;
  const cleanIds = inputIds(model, clean, 'clean'), corruptedIds = inputIds(model, corrupted, 'corrupted');
  if (cleanIds.length !== corruptedIds.length) {
    const list = (ids: number[]) => ids.map((id) => JSON.stringify(tokenLabel(tok, id))).join(' ');
    throw new UserError(`--clean and --corrupted must tokenize to the same length: --clean is ${cleanIds.length} tokens (${list(cleanIds)}), --corrupted is ${corruptedIds.length} tokens (${list(corruptedIds)})`, 'corrupted');
  }
  let target = opts.target === undefined ? undefined : resolveTarget(model, opts.target, 'target');
  let foil = opts.foil === undefined ? undefined : resolveTarget(model, opts.foil, 'foil');
  if (target === undefined || foil === undefined) {
    const top = (ids: number[]) => topIds(model.withScratch(() => model.forward(ids, model.newCache(ids.length))), 1)[0]!;
    target ??= top(cleanIds);
    foil ??= top(corruptedIds);
    if (target === foil && opts.target === undefined && opts.foil === undefined) {
      throw new UserError(`the clean and the corrupted prompt both make ${JSON.stringify(tokenLabel(tok, target))} (#${target}) the top next token, so there is no difference to patch; choose the two tokens to compare with --target and --foil`, 'target');
    }
  }
  if (target === foil) throw new UserError(`--target and --foil are the same token (${JSON.stringify(tokenLabel(tok, target))}, #${target}); give two different tokens`, 'foil');

  const T = cleanIds.length;
  const r = patchKind(hook)(model, cleanIds, corruptedIds, logitDiff(target, foil), opts);
  const span = r.clean - r.corrupted;
  const cell = (i: PatchIndex, v: number): PatchCell => ({
    layer: i.layer, ...(i.head === undefined ? {} : { head: i.head }), position: i.positions[0]!,
    logit_diff: v, normalized: span === 0 ? null : (v - r.corrupted) / span + 0, // + 0: no -0
  });
  const indices = PATCH_KINDS[hook].indices(c, T);
  const cells = indices.map((i, k) => cell(i, r.patched[k]!));
  const rows = (from: number) => Array.from({ length: T }, (_, p) => cells[from + p]!);
  const grid = hook === 'z'
    ? Array.from({ length: c.nLayer }, (_, l) => Array.from({ length: c.nHead }, (_, h) => rows((l * c.nHead + h) * T)))
    : Array.from({ length: c.nLayer }, (_, l) => rows(l * T));
  const prompt = (input: string | readonly number[], ids: number[]) => (typeof input === 'string' ? input : tok.decode(ids));
  return {
    hook,
    clean: { prompt: prompt(clean, cleanIds), token_ids: cleanIds },
    corrupted: { prompt: prompt(corrupted, corruptedIds), token_ids: corruptedIds },
    target: { token_id: target, token: tokenLabel(tok, target) },
    foil: { token_id: foil, token: tokenLabel(tok, foil) },
    clean_logit_diff: r.clean,
    corrupted_logit_diff: r.corrupted,
    grid,
  };
}
