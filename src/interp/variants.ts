import type { Hooks } from '../model/hooks.js';
import type { KvCache } from '../model/kv-cache.js';
import type { Model } from '../model/load.js';
import { CHUNK } from '../model/transformer.js';

/**
 * Many variants of one input, each changed by hooks: the engine under activation patching and head
 * scans. A variant is the base input run with hooks that touch only its own rows; `from` is the first
 * position it may change. Attention is causal, so positions before `from` are exactly the base run's:
 * a variant's sequence starts from a KV cache holding the base run's first `from` positions and runs
 * only positions from…T−1.
 *
 * Batched (the default), the variants are the sequences of model.forwardMany calls — their rows packed
 * into shared 64-row chunks, told apart by the hooks through ctx.sequences — in groups whose KV caches
 * fit a memory budget, allocated once and reused from group to group. Unbatched, each variant is one
 * plain forward pass over the whole input from position 0 (the reference the batched path must equal:
 * the engine makes every row's result independent of what it is batched with, so the two give
 * bit-identical logits).
 */
export interface Variant {
  /** First position whose activations the variant's hooks may change (0 … T−1). */
  from: number;
}

/**
 * The hooks for one forward call whose sequence s is variant `group[s]` (for the unbatched path, a call
 * with the single variant group[0] as sequence 0). They must change only rows at positions ≥ that
 * variant's `from`.
 */
export type VariantHooks = (group: readonly number[]) => Hooks;

export interface VariantOptions {
  /** Run the variants as sequences of forwardMany calls (default) or one full forward pass each. */
  batched?: boolean;
  /** Bytes of KV cache one group may use (default 256 MiB); bounds the sequences per forwardMany call. */
  memory?: number;
}

export interface VariantRuns {
  /** The base input's logits at its last position, no hooks: [d_vocab]. */
  base: Float32Array;
  /** Each variant's logits at the last position: [d_vocab] each, in variant order. */
  variants: Float32Array[];
}

const DEFAULT_MEMORY = 256 * 2 ** 20;
/** At most this many sequences per forwardMany call (the hooks look up each row's sequence). */
const MAX_GROUP = 512;

/** Runs the base input and every variant of it; returns each one's last-position logits. */
export function runVariants(model: Model, ids: readonly number[], variants: readonly Variant[], hooksFor: VariantHooks, opts: VariantOptions = {}): VariantRuns {
  const T = ids.length, V = model.config.vocabSize;
  for (const v of variants) if (!Number.isInteger(v.from) || v.from < 0 || v.from >= T) throw new RangeError(`a variant starts at position ${v.from}, outside 0…${T - 1}`);
  return model.withScratch(() => {
    const baseCache = model.newCache(T);
    const base = model.forward(ids, baseCache);
    const out: Float32Array[] = [];
    if (opts.batched === false) {
      for (let i = 0; i < variants.length; i++) {
        out.push(model.withScratch(() => model.forward(ids, model.newCache(T), { hooks: hooksFor([i]) })));
      }
      return { base, variants: out };
    }
    const size = groupSize(model, T, variants.length, opts.memory ?? DEFAULT_MEMORY);
    const caches: KvCache[] = Array.from({ length: size }, () => model.newCache(T));
    for (let g = 0; g < variants.length; g += size) {
      const group = Array.from({ length: Math.min(size, variants.length - g) }, (_, s) => g + s);
      const tokens = group.map((i) => ids.slice(variants[i]!.from));
      group.forEach((i, s) => caches[s]!.copyFrom(baseCache, model.heap, variants[i]!.from));
      const logits = model.forwardMany(tokens, caches.slice(0, group.length), { hooks: hooksFor(group) });
      group.forEach((_, s) => out.push(logits.slice(s * V, (s + 1) * V)));
    }
    return { base, variants: out };
  });
}

/** Sequences per forwardMany call: as many KV caches of T positions as fit the memory budget (at least 1). */
function groupSize(model: Model, T: number, n: number, memory: number): number {
  const c = model.config;
  const bytes = (2 * c.nLayer * T * c.nHeadKv * c.headDim + c.nHead * CHUNK * T) * 4;
  return Math.max(1, Math.min(n, MAX_GROUP, Math.floor(memory / bytes)));
}
