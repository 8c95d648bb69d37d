import { UserError } from '../errors.js';
import { readSafetensors } from '../formats/safetensors.js';
import { DType } from '../formats/tensor-types.js';
import type { ModelConfig } from '../model/config.js';
import type { HookFn, Hooks } from '../model/hooks.js';
import type { Model } from '../model/load.js';
import { Rng } from '../sampling/rng.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { hookRowSize, selectHooks } from './hook-select.js';
import { hasInterventions, parseAblation, parseNoise, parsePatchFrom, type InterventionSettings, type PatchSpec } from './intervention-specs.js';
import { klDivergence, logSoftmax, tokenLabel, topIds } from './tokens.js';

// The intervention settings and their syntax live in intervention-specs.ts (no model, no files: the
// settings schema and the web page use them); this file turns them into hooks on the forward pass.
export { hasInterventions, parseAblation, parseNoise, parsePatchFrom } from './intervention-specs.js';
export type { AblationSpec, InterventionSettings, NoiseSpec, PatchSpec } from './intervention-specs.js';

/**
 * Replaces heads' outputs in one layer's attn.hook_z ([pos, n_heads, d_head]) at every row: by 0, or by
 * `mean` ([n_heads × d_head], the head's mean over a clean prompt). `applies(sequence)` limits it to
 * some of a forward call's sequences (a head scan ablates a different head in each).
 */
export function ablationHook(c: ModelConfig, heads: readonly number[], mean?: Float32Array, applies?: (sequence: number) => boolean): HookFn {
  const hd = c.headDim, row = c.nHead * hd;
  return (z, ctx) => {
    for (let r = 0; r < ctx.positions.length; r++) {
      if (applies && !applies(ctx.sequences[r]!)) continue;
      for (const h of heads) {
        const at = r * row + h * hd;
        if (mean) z.set(mean.subarray(h * hd, (h + 1) * hd), at);
        else z.fill(0, at, at + hd);
      }
    }
  };
}

/** Each head's attn.hook_z averaged over the positions of a clean pass of `ids`: layer → [n_heads × d_head]. */
export function meanHeadOutputs(model: Model, ids: readonly number[], layers: readonly number[]): Map<number, Float32Array> {
  const c = model.config, row = c.nHead * c.headDim;
  const sums = new Map(layers.map((l) => [l, new Float64Array(row)]));
  const hooks: Hooks = new Map(layers.map((l) => [`blocks.${l}.attn.hook_z`, (z: Float32Array, ctx) => {
    const sum = sums.get(l)!;
    for (let r = 0; r < ctx.positions.length; r++) for (let i = 0; i < row; i++) sum[i]! += z[r * row + i]!;
  }]));
  model.withScratch(() => model.forward(ids, model.newCache(ids.length), { hooks }));
  return new Map([...sums].map(([l, s]) => [l, Float32Array.from(s, (x) => x / ids.length)]));
}

/** The noise stream of one (seed, sample, hook, position), apart from every sampling stream. */
function noiseRng(seed: number, sample: number, hook: string, position: number): Rng {
  return Rng.keyed(`noise|${hook}`, [seed >>> 0, Math.floor(seed / 2 ** 32), sample, position]);
}

/** A standard normal draw (Box–Muller on two uniforms; 1 − u keeps the logarithm finite). */
function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.uniform())) * Math.cos(2 * Math.PI * rng.uniform());
}

function inRange(p: number, range?: [number, number]): boolean {
  return !range || (p >= range[0] && p <= range[1]);
}

/** Hooks whose values are [pos, …], one row per position: everything but the attention pattern. */
function rowHooks(names: string[], field: string, spec: string): string[] {
  const pattern = names.find((n) => n.endsWith('attn.hook_pattern'));
  if (pattern) throw new UserError(`--${field} ${spec}: ${pattern} is a probability distribution over keys; intervene on attn.hook_z or hook_attn_out instead`, field.replace('-', '_'));
  return names;
}

/**
 * The interventions of one run, ready to hook into forward passes. `hooks(samples)` gives the hooks for
 * a forward call whose sequence s is sample samples[s] (noise is drawn per sample); `perSample` says
 * whether the prompt itself differs between samples (noise on prompt positions), so that a generation
 * cannot share one prompt pass among its samples.
 */
export interface Intervention {
  hooks(samples: readonly number[]): Hooks;
  perSample: boolean;
}

/** Checks the interventions against the model and prepares them (a clean pass for mean ablation, files read once). */
export function prepareInterventions(model: Model, promptIds: readonly number[], s: Partial<InterventionSettings>, seed: number): Intervention | undefined {
  if (!hasInterventions(s)) return undefined;
  const c = model.config, rowSize = (name: string) => hookRowSize(c, name);
  const parts: [string, (samples: readonly number[]) => HookFn][] = [];

  // Ablation: heads grouped by layer and mode.
  const byLayer = new Map<string, Set<number>>();
  for (const spec of s.ablate ?? []) {
    const a = parseAblation(spec);
    if (a.layer >= c.nLayer) throw new UserError(`--ablate ${spec}: layer must be from 0 to ${c.nLayer - 1} (this model has ${c.nLayer} layers)`, 'ablate');
    if (a.head !== '*' && a.head >= c.nHead) throw new UserError(`--ablate ${spec}: head must be from 0 to ${c.nHead - 1} (this model has ${c.nHead} query heads per layer)`, 'ablate');
    const key = `${a.layer}:${a.mode}`;
    const set = byLayer.get(key) ?? new Set<number>();
    for (const h of a.head === '*' ? Array.from({ length: c.nHead }, (_, i) => i) : [a.head]) set.add(h);
    byLayer.set(key, set);
  }
  const meanLayers = [...byLayer.keys()].filter((k) => k.endsWith(':mean')).map((k) => Number(k.split(':')[0]));
  const means = meanLayers.length ? meanHeadOutputs(model, promptIds, meanLayers) : new Map<number, Float32Array>();
  for (const [key, heads] of byLayer) {
    const layer = Number(key.split(':')[0]);
    const fn = ablationHook(c, [...heads].sort((a, b) => a - b), key.endsWith(':mean') ? means.get(layer) : undefined);
    parts.push([`blocks.${layer}.attn.hook_z`, () => fn]);
  }

  // Noise: per (sample, hook, position) row.
  let perSample = false;
  for (const spec of s.noise ?? []) {
    const n = parseNoise(spec);
    for (const name of rowHooks(selectHooks(c, [n.hook], 'noise'), 'noise', spec)) {
      const size = rowSize(name);
      if (!n.positions || n.positions[0] < promptIds.length) perSample = true;
      parts.push([name, (samples) => (x, ctx) => {
        for (let r = 0; r < ctx.positions.length; r++) {
          const p = ctx.positions[r]!;
          if (!inRange(p, n.positions)) continue;
          const sample = samples[ctx.sequences[r]!];
          if (sample === undefined) throw new Error(`noise on ${name}: no sample given for sequence ${ctx.sequences[r]}`);
          const rng = noiseRng(seed, sample, name, p);
          for (let i = r * size; i < (r + 1) * size; i++) x[i]! += n.sigma * gaussian(rng);
        }
      }]);
    }
  }

  // Patching from a saved cache.
  for (const spec of s.patch_from ?? []) {
    const p = parsePatchFrom(spec);
    for (const [name, saved] of readPatch(c, p, spec)) {
      const size = rowSize(name), savedPositions = saved.length / size;
      if (p.positions && p.positions[1] >= savedPositions) {
        throw new UserError(`--patch-from ${spec}: ${p.file} holds ${savedPositions} positions of ${name} (0-${savedPositions - 1}), not ${p.positions[0]}-${p.positions[1]}`, 'patch_from');
      }
      parts.push([name, () => (x, ctx) => {
        for (let r = 0; r < ctx.positions.length; r++) {
          const pos = ctx.positions[r]!;
          if (pos < savedPositions && inRange(pos, p.positions)) x.set(saved.subarray(pos * size, (pos + 1) * size), r * size);
        }
      }]);
    }
  }

  return {
    perSample,
    hooks: (samples) => {
      const hooks: Hooks = new Map();
      for (const [name, make] of parts) {
        const fn = make(samples), before = hooks.get(name);
        hooks.set(name, before ? chain(before, fn) : fn);
      }
      return hooks;
    },
  };
}

/** The tensors of a saved cache to patch in: name → F32 values [pos × row], each checked against the model. */
function readPatch(c: ModelConfig, p: PatchSpec, spec: string): [string, Float32Array][] {
  let file;
  try {
    file = readSafetensors(p.file);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`--patch-from ${e.message}`, 'patch_from');
    throw e;
  }
  try {
    // A whole file (wander cache --save keeps everything) patches every per-position hook in it: the
    // attention patterns and logits it may also hold are results, not inputs to set.
    const names = p.hook ? [p.hook] : [...file.tensors.keys()].filter((n) => !/(attn\.hook_pattern|hook_logits)$/.test(n));
    if (p.hook && !file.tensors.has(p.hook)) throw new UserError(`--patch-from ${spec}: ${p.file} has no tensor ${p.hook} (it has ${[...file.tensors.keys()].slice(0, 6).join(', ')}${file.tensors.size > 6 ? ', …' : ''})`, 'patch_from');
    if (names.length === 0) throw new UserError(`--patch-from ${spec}: ${p.file} holds no tensors`, 'patch_from');
    return rowHooks(names.map((n) => selectHooks(c, [n], 'patch-from')[0]!), 'patch-from', spec).map((name) => {
      const t = file.tensors.get(name)!;
      const size = hookRowSize(c, name);
      const rowShape = [...t.ne].reverse().slice(1);
      if (t.dtype !== DType.F32 || rowShape.reduce((a, b) => a * b, 1) !== size) {
        throw new UserError(`--patch-from ${spec}: ${name} in ${p.file} has shape [${[...t.ne].reverse().join(', ')}], but this model's ${name} has ${size} F32 values per position`, 'patch_from');
      }
      const data = new Float32Array(t.count);
      t.read(new Uint8Array(data.buffer));
      return [name, data] as [string, Float32Array];
    });
  } finally {
    file.close();
  }
}

/** What an intervention did to one next-token distribution. */
export interface InterventionEffect {
  /** KL(clean ‖ intervened) over the full vocabulary, in nats. */
  kl_nats: number;
  /** Whether the most likely token changed. */
  top1_changed: boolean;
  /** The clean model's most likely tokens. */
  clean_top: { token_id: number; token: string; prob: number }[];
}

export function interventionEffect(tok: Tokenizer, clean: ArrayLike<number>, intervened: ArrayLike<number>, top: number): InterventionEffect {
  const lp = logSoftmax(clean).logprobs;
  const cleanTop = topIds(clean, top);
  return {
    kl_nats: klDivergence(clean, intervened),
    top1_changed: cleanTop[0] !== topIds(intervened, 1)[0],
    clean_top: cleanTop.map((id) => ({ token_id: id, token: tokenLabel(tok, id), prob: Math.exp(lp[id]!) })),
  };
}

/** Several hook maps as one: hooks on the same point run in the order the maps are given. */
export function composeHooks(...maps: (Hooks | undefined)[]): Hooks | undefined {
  const present = maps.filter((m): m is Hooks => !!m && m.size > 0);
  if (present.length <= 1) return present[0];
  const out: Hooks = new Map();
  for (const m of present) for (const [name, fn] of m) out.set(name, out.has(name) ? chain(out.get(name)!, fn) : fn);
  return out;
}

/** Two hooks on one point, in order: the second sees (and may replace) what the first left. */
export function chain(first: HookFn, second: HookFn): HookFn {
  return (x, ctx) => {
    const a = first(x, ctx);
    if (a) x.set(a);
    return second(x, ctx);
  };
}
