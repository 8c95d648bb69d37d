import { UserError } from '../errors.js';
import type { HookFn, Hooks } from '../model/hooks.js';
import type { Model } from '../model/load.js';
import { ablationHook, chain, meanHeadOutputs } from './intervene.js';
import type { LensToken } from './lens.js';
import { inputIds, klDivergence, logSoftmax, tokenLabel, topIds } from './tokens.js';
import { runVariants, type VariantOptions } from './variants.js';

/**
 * A head scan: ablate each attention head in turn — its slice of blocks.{l}.attn.hook_z
 * ([pos, n_heads, d_head]) at every position, set to 0 or to its mean over the prompt — and measure how
 * far the next-token distribution moves: KL(clean ‖ ablated) at the last position, over the whole
 * vocabulary, in nats (float64). One run per head, batched: every head is one sequence of a
 * forwardMany call (see variants.ts), ablated by ablationHook with `applies` picking its sequence.
 */
export type AblationMode = 'zero' | 'mean';

export interface HeadAblation {
  layer: number;
  /** The query head (with grouped-query attention several query heads share one KV head). */
  head: number;
  /** KL(clean ‖ ablated) = Σ p_clean · (ln p_clean − ln p_ablated) at the last position, nats. */
  kl_nats: number;
  /** Whether the ablated run's top token differs from the clean run's (ties: lower id first). */
  top1_changed: boolean;
  /** The ablated run's most likely next tokens, best first. */
  top: LensToken[];
}

export interface HeadScan {
  mode: AblationMode;
  /** Every head, ranked by kl_nats, largest first (ties: layer, then head). */
  heads: HeadAblation[];
}

export interface HeadScanOptions extends VariantOptions {
  /** zero (default) or mean: the head's mean attn.hook_z over the prompt's positions. */
  mode?: string;
  /** Tokens in each head's `top` list (default 5). */
  top?: number;
}

/** The one message for an unknown --mode. */
export function checkAblationMode(mode: string): AblationMode {
  if (mode !== 'zero' && mode !== 'mean') throw new UserError(`--mode must be zero or mean, got ${JSON.stringify(mode)}`, 'mode');
  return mode;
}

/** The logits behind a head scan: the clean run's and each head's ablated run's, at the last position. */
export interface HeadAblationLogits {
  /** Every (layer, head), layer-major: the order of `ablated`. */
  cells: { layer: number; head: number }[];
  clean: Float32Array;
  ablated: Float32Array[];
}

/** Runs the prompt's token ids once clean and once per head with that head ablated (batched unless opts.batched is false). */
export function headAblationLogits(model: Model, ids: readonly number[], mode: AblationMode, opts: VariantOptions = {}): HeadAblationLogits {
  const c = model.config;
  const layers = Array.from({ length: c.nLayer }, (_, l) => l);
  const means = mode === 'mean' ? meanHeadOutputs(model, ids, layers) : undefined;
  const cells = layers.flatMap((layer) => Array.from({ length: c.nHead }, (_, head) => ({ layer, head })));
  const runs = runVariants(model, ids, cells.map(() => ({ from: 0 })), (group) => {
    const hooks: Hooks = new Map();
    group.forEach((v, s) => {
      const { layer, head } = cells[v]!, name = `blocks.${layer}.attn.hook_z`;
      const fn: HookFn = ablationHook(c, [head], means?.get(layer), (seq) => seq === s);
      const before = hooks.get(name);
      hooks.set(name, before ? chain(before, fn) : fn);
    });
    return hooks;
  }, opts);
  return { cells, clean: runs.base, ablated: runs.variants };
}

/** Ablates every head of every layer in turn on one prompt (text, BOS included, or token ids). */
export function headAblationScan(model: Model, prompt: string | readonly number[], opts: HeadScanOptions = {}): HeadScan {
  const mode = checkAblationMode(opts.mode ?? 'zero');
  const tok = model.tokenizer, n = Math.min(opts.top ?? 5, model.config.vocabSize);
  const ids = inputIds(model, prompt);
  const runs = headAblationLogits(model, ids, mode, opts);
  const cleanTop = topIds(runs.clean, 1)[0];
  const heads = runs.cells.map(({ layer, head }, v): HeadAblation => {
    const logits = runs.ablated[v]!, ablated = logSoftmax(logits).logprobs;
    const top = topIds(logits, n);
    return {
      layer, head, kl_nats: klDivergence(runs.clean, logits), top1_changed: top[0] !== cleanTop,
      top: top.map((id) => ({ token_id: id, token: tokenLabel(tok, id), prob: Math.exp(ablated[id]!) })),
    };
  });
  // Array.prototype.sort is stable: equal KLs keep layer-major order.
  return { mode, heads: heads.sort((a, b) => b.kl_nats - a.kl_nats) };
}
