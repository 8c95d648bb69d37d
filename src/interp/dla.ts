import { dequantize } from '../formats/quant/index.js';
import { byteSize } from '../formats/tensor-types.js';
import type { Hooks } from '../model/hooks.js';
import type { Model } from '../model/load.js';
import type { Matrix, Vec } from '../model/weights.js';
import { inputIds, logSoftmax, rankOf, resolveTarget, tokenLabel, topIds } from './tokens.js';

/**
 * Direct logit attribution at the last position: how much each piece written into the residual stream
 * pushes the target's logit directly (not through later layers). The final residual is a sum,
 *
 *   x = embed (+ pos_embed) + Σ_l (attn_out_l + mlp_out_l),   attn_out_l = Σ_h z_{l,h} · W_O[:, h] (+ b_O,l)
 *
 * and each piece c is read through the final norm with the scale of the whole residual x, as
 * TransformerLens's `logit_attrs` does (its `apply_ln_to_stack`):
 *
 *   LayerNorm (GPT-2)  dla(c) = Σ_i (c_i − mean(c)) / sqrt(var(x) + ε) · g_i · W_U[target, i]
 *   RMSNorm (Llama)    dla(c) = Σ_i c_i / sqrt(mean(x²) + ε) · g_i · W_U[target, i]
 *
 * with g the final norm's gain; its bias b enters once, as the piece "ln_final_bias" = Σ_i b_i ·
 * W_U[target, i]. The map is linear, so the pieces add up to the logit: embed (+ pos_embed) + every
 * attn_out and mlp_out (+ ln_final_bias) = the target's logit. Each attn_out is broken down further
 * into its heads (z_{l,h} through head h's columns of W_O, read from the model's weights and
 * dequantized) plus the output bias "attn_bias" (GPT-2), which add up to it. Everything is float64
 * over the engine's f32 activations. (With Q8_0 or Q4_0 weights the engine multiplies activations
 * rounded to Q8_0, as llama.cpp does, so the sums then match attn_out and the logit only to that
 * rounding, ~1e-2.)
 */
export interface DlaComponent {
  /** embed, pos_embed (GPT-2), attn_out, head, attn_bias (GPT-2), mlp_out, ln_final_bias (GPT-2). */
  name: string;
  layer?: number;
  head?: number;
  /** This component's direct contribution to the target's logit. */
  logit: number;
}

export interface DlaResult {
  target: { token_id: number; token: string; prob: number; rank: number };
  convention: string;
  /** In residual-stream order: embeddings, then per layer attn_out, its heads, its bias, mlp_out; then ln_final_bias. */
  components: DlaComponent[];
  /** embed (+ pos_embed) + Σ attn_out + Σ mlp_out (+ ln_final_bias): equals `logit` up to rounding. */
  total: number;
  /** The target's logit at the last position, from the forward pass (Gemma 2: before its final soft-capping). */
  logit: number;
}

export const DLA_CONVENTION = {
  gpt2: 'component · W_U[:, target] through the final LayerNorm with the full residual\'s scale: (component − its mean) / sqrt(var(residual) + eps) × gain; the norm\'s bias once, as ln_final_bias',
  llama: 'component · W_U[:, target] through the final RMSNorm with the full residual\'s scale: component / sqrt(mean(residual²) + eps) × gain',
  gemma: 'component · W_U[:, target] through the final RMSNorm with the full residual\'s scale: component / sqrt(mean(residual²) + eps) × gain; embed is the scaled embedding (× √d_model); attn_out and mlp_out are what joins the residual (Gemma 2/3: after their post norms), so the layers add up exactly; a head\'s share is linearised through its layer\'s post-attention norm with that norm\'s scale frozen at this run (W_O,h·z_h × gain / rms(W_O·z)), so the heads sum to attn_out; Gemma 2\'s logit is taken before its final soft-capping',
} as const;

/** Layer-level names: these (with the embeddings and ln_final_bias) add up to the logit. */
const LAYER_LEVEL = new Set(['embed', 'pos_embed', 'attn_out', 'mlp_out', 'ln_final_bias']);

export function isLayerLevel(c: DlaComponent): boolean {
  return LAYER_LEVEL.has(c.name);
}

/**
 * Direct logit attribution for one prompt (text, BOS included, or token ids) and target (text that is
 * one token, or "#id"; default the most likely next token) at the last position.
 */
export function directLogitAttribution(model: Model, prompt: string | readonly number[], opts: { target?: string | number } = {}): DlaResult {
  const c = model.config, tok = model.tokenizer, d = c.nEmbd, hd = c.headDim, W = model.transformer.weights;
  const ids = inputIds(model, prompt), T = ids.length, last = T - 1;
  const gpt2 = c.family === 'gpt2';

  // One forward pass keeping the last position's row of every piece.
  const rows = new Map<string, Float64Array>();
  const keep = (name: string) => (x: Float32Array, ctx: { positions: number[] }) => {
    const r = ctx.positions.indexOf(last);
    if (r < 0) return;
    const n = x.length / ctx.positions.length;
    rows.set(name, Float64Array.from(x.subarray(r * n, (r + 1) * n)));
  };
  const names = [`blocks.${c.nLayer - 1}.hook_resid_post`];
  for (let l = 0; l < c.nLayer; l++) names.push(`blocks.${l}.hook_attn_out`, `blocks.${l}.attn.hook_z`, `blocks.${l}.hook_mlp_out`);
  // Gemma 2/3: the attention's output before its post norm, whose scale the heads' shares are frozen at.
  const postNorms = W.layers.some((L) => L.attnPostNorm);
  if (postNorms) for (let l = 0; l < c.nLayer; l++) names.push(`blocks.${l}.ln1_post.hook_in`);
  // Gemma 2 soft-caps its logits; the components add up to the logit before that, read off the final norm's output.
  const cap = c.gemma?.finalSoftcap ?? 0;
  if (cap) names.push('ln_final.hook_normalized');
  const hooks: Hooks = new Map(names.map((n) => [n, keep(n)]));
  const logits = model.withScratch(() => model.forward(ids, model.newCache(T), { hooks }));
  const target = opts.target === undefined ? topIds(logits, 1)[0]! : resolveTarget(model, opts.target);

  // The target's unembedding direction times the norm's gain, and the full residual's scale.
  const wu = matrixRow(model, W.output, target);
  const gain = vec(model, W.outNorm, d);
  const u = Float64Array.from(wu, (w, i) => w * gain[i]!);
  const uSum = u.reduce((s, v) => s + v, 0);
  const x = rows.get(`blocks.${c.nLayer - 1}.hook_resid_post`)!;
  const mean = gpt2 ? x.reduce((s, v) => s + v, 0) / d : 0;
  const scale = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / d + c.normEps);
  const dla = (comp: ArrayLike<number>): number => {
    let dot = 0, sum = 0;
    for (let i = 0; i < d; i++) {
      dot += comp[i]! * u[i]!;
      sum += comp[i]!;
    }
    return (gpt2 ? dot - (sum / d) * uSum : dot) / scale;
  };

  const components: DlaComponent[] = [];
  const embed = matrixRow(model, W.tokenEmbd, ids[last]!);
  if (c.gemma) embed.forEach((v, i) => { embed[i] = Math.fround(v * Math.fround(Math.sqrt(d))); });
  components.push({ name: 'embed', logit: dla(embed) });
  if (W.posEmbd) components.push({ name: 'pos_embed', logit: dla(matrixRow(model, W.posEmbd, last)) });
  for (let l = 0; l < c.nLayer; l++) {
    const L = W.layers[l]!, z = rows.get(`blocks.${l}.attn.hook_z`)!;
    components.push({ name: 'attn_out', layer: l, logit: dla(rows.get(`blocks.${l}.hook_attn_out`)!) });
    // Head h writes W_O[:, h·d_head … (h+1)·d_head) · z_h; W_O is [d_model, n_heads·d_head], read row by row.
    const perHead = Array.from({ length: c.nHead }, () => new Float64Array(d));
    for (let i = 0; i < d; i++) {
      const w = matrixRow(model, L.out, i);
      for (let h = 0; h < c.nHead; h++) {
        let s = 0;
        for (let j = h * hd; j < (h + 1) * hd; j++) s += w[j]! * z[j]!;
        perHead[h]![i] = s;
      }
    }
    if (L.attnPostNorm) {
      const raw = rows.get(`blocks.${l}.ln1_post.hook_in`)!, gain = vec(model, L.attnPostNorm, d);
      const rms = Math.sqrt(raw.reduce((s, v) => s + v * v, 0) / d + c.normEps);
      for (const v of perHead) for (let i = 0; i < d; i++) v[i] = (v[i]! * gain[i]!) / rms;
    }
    perHead.forEach((v, h) => components.push({ name: 'head', layer: l, head: h, logit: dla(v) }));
    if (L.outBias) components.push({ name: 'attn_bias', layer: l, logit: dla(vec(model, L.outBias, d)) });
    components.push({ name: 'mlp_out', layer: l, logit: dla(rows.get(`blocks.${l}.hook_mlp_out`)!) });
  }
  if (W.outNormBias) {
    const b = vec(model, W.outNormBias, d);
    components.push({ name: 'ln_final_bias', logit: b.reduce((s, v, i) => s + v * wu[i]!, 0) });
  }

  const total = components.filter(isLayerLevel).reduce((s, x) => s + x.logit, 0);
  return {
    target: { token_id: target, token: tokenLabel(tok, target), prob: Math.exp(logSoftmax(logits).logprobs[target]!), rank: rankOf(logits, target) },
    convention: DLA_CONVENTION[c.family],
    components,
    total,
    logit: cap ? rows.get('ln_final.hook_normalized')!.reduce((s, v, i) => s + v * wu[i]!, 0) : logits[target]!,
  };
}

/** Row `row` of a weight matrix in the heap, dequantized to float64. */
function matrixRow(model: Model, m: Matrix, row: number): Float64Array {
  const bytes = byteSize(m.type, m.cols);
  return Float64Array.from(dequantize(m.type, model.heap.u8(m.ptr + row * bytes, bytes), m.cols));
}

function vec(model: Model, v: Vec, n: number): Float64Array {
  return Float64Array.from(model.heap.f32(v, n));
}
