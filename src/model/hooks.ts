/**
 * Named hook points inside the forward pass, TransformerLens-style. A hook receives the activation as a
 * Float32Array view (valid only during the call; `.slice()` it to keep it) and may change it in place
 * or return a same-length array to replace it.
 *
 *   hook_embed                       [pos, d_model]  token (+ position) embedding (Gemma: times √d_model)
 *   blocks.{i}.hook_resid_pre        [pos, d_model]
 *   blocks.{i}.attn.hook_q           [pos, n_heads, d_head]     before rotary embedding
 *   blocks.{i}.attn.hook_k / hook_v  [pos, n_kv_heads, d_head]
 *   blocks.{i}.attn.hook_rot_q / hook_rot_k                     after rotary embedding (Llama and Gemma)
 *   blocks.{i}.attn.hook_pattern     [n_heads, pos, key_pos]    softmax probabilities
 *   blocks.{i}.attn.hook_z           [pos, n_heads, d_head]     pattern-weighted values
 *   blocks.{i}.ln1_post.hook_in      [pos, d_model]             Gemma 2/3: W_O·z, before the post-attention norm
 *   blocks.{i}.hook_attn_out         [pos, d_model]             what joins the residual (Gemma 2/3: after that norm)
 *   blocks.{i}.hook_resid_mid        [pos, d_model]
 *   blocks.{i}.mlp.hook_post         [pos, d_mlp]               after the activation
 *   blocks.{i}.ln2_post.hook_in      [pos, d_model]             Gemma 2/3: W_down·act, before the post-feed-forward norm
 *   blocks.{i}.hook_mlp_out          [pos, d_model]             what joins the residual (Gemma 2/3: after that norm)
 *   blocks.{i}.hook_resid_post       [pos, d_model]
 *   ln_final.hook_normalized         [pos, d_model]             (every position, whether or not its logits are computed)
 *   hook_logits                      [pos, d_vocab]             (only the positions whose logits are computed)
 */
export interface HookContext {
  name: string;
  /** Block index, or -1 outside the blocks. */
  layer: number;
  shape: number[];
  /** Absolute position of each `pos` row. */
  positions: number[];
  /**
   * The sequence each `pos` row belongs to: its index among the sequences of this forward call (all 0
   * for forward(); b for row b of forwardBatch(); s for forwardMany()'s sequence s).
   */
  sequences: number[];
  /**
   * attn.hook_pattern fires once per sequence of the call (its keys are that sequence's): this is the
   * sequence's index (0 for forward()). Other hooks see all rows at once (see `sequences`).
   */
  sequence?: number;
}

export type HookFn = (activation: Float32Array, ctx: HookContext) => Float32Array | void;

export type Hooks = Map<string, HookFn>;

export const BLOCK_HOOKS = [
  'hook_resid_pre', 'attn.hook_q', 'attn.hook_k', 'attn.hook_v', 'attn.hook_rot_q', 'attn.hook_rot_k',
  'attn.hook_pattern', 'attn.hook_z', 'ln1_post.hook_in', 'hook_attn_out', 'hook_resid_mid', 'mlp.hook_post', 'ln2_post.hook_in', 'hook_mlp_out', 'hook_resid_post',
] as const;

/** The hooks only some models fire: rotary ones (not GPT-2) and the post-norm inputs (Gemma 2/3 only). */
export interface HookShape { rotary?: boolean; postNorms?: boolean }

/** Every hook name a model with nLayer blocks offers, in forward order (by default every hook of a rotary model without post norms). */
export function hookNames(nLayer: number, shape: HookShape = {}): string[] {
  const { rotary = true, postNorms = false } = shape;
  const names = ['hook_embed'];
  for (let i = 0; i < nLayer; i++) {
    for (const h of BLOCK_HOOKS) {
      if (!rotary && (h === 'attn.hook_rot_q' || h === 'attn.hook_rot_k')) continue;
      if (!postNorms && h.endsWith('_post.hook_in')) continue;
      names.push(`blocks.${i}.${h}`);
    }
  }
  names.push('ln_final.hook_normalized', 'hook_logits');
  return names;
}
