// A float64 reference forward pass for tests: both families, written loop by loop so each step can be
// checked by eye, reading the weights straight from the model file (dequantized to float64) — it never
// touches the engine's Transformer or kernels. It returns every activation under its TransformerLens
// hook name, shaped as in src/model/hooks.ts, for all positions at once, and takes interventions (a
// function per hook name that may change the float64 activation in place) so ablation and patching
// can be checked against it too.
import { dequantize } from '../../src/formats/quant/index.js';
import type { ModelConfig } from '../../src/model/config.js';
import { openModelSource } from '../../src/model/load.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';

/** A story longer than one 64-position forward chunk (76 tokens with BOS). */
export const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big red ball in the grass. She ran to get it, but a dog took it first. Lily was sad.';
/** 90 fixture token ids: more than one chunk, inside the fixtures' 128-token context. */
export const LONG_IDS = Array.from({ length: 90 }, (_, i) => ((i * 37) % 200) + 3);

/** One activation, row-major, float64. */
export interface RefTensor { shape: number[]; data: Float64Array }

/** Called with the activation (all positions) before the rest of the pass reads it; may change it in place. */
export type Intervention = (activation: Float64Array, shape: number[]) => void;

export interface RefRun {
  /** Every hook point that fired, by hook name, after any intervention. */
  acts: Map<string, RefTensor>;
  /** [pos, d_vocab]: the logits at every position. */
  logits: Float64Array;
}

/** A matrix of `rows × cols`, row-major (y = W x takes x of length cols). */
interface Mat { rows: number; cols: number; w: Float64Array }

export class ReferenceModel {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  private readonly t = new Map<string, Float64Array | Mat>();

  constructor(path: string) {
    const src = openModelSource(path);
    try {
      this.config = src.config;
      this.tokenizer = src.tokenizer;
      for (const [name, info] of src.tensors) {
        const bytes = new Uint8Array(info.byteLength);
        info.read(bytes);
        const flat = Float64Array.from(dequantize(info.dtype, bytes, info.count));
        if (info.ne.length === 1 || info.ne.slice(1).every((n) => n === 1)) { this.t.set(name, flat); continue; }
        const cols = info.ne[0]!, rows = info.ne[1]!;
        // A transposed tensor (GPT-2's Conv1D in Hugging Face files) is stored [cols][rows].
        const w = info.transposed ? transpose(flat, cols, rows) : flat;
        this.t.set(name, { rows, cols, w });
      }
    } finally {
      src.close();
    }
  }

  private vec(name: string): Float64Array | undefined {
    return this.t.get(name) as Float64Array | undefined;
  }

  private mat(name: string): Mat | undefined {
    return this.t.get(name) as Mat | undefined;
  }

  /** The final norm and unembedding of residual rows [n, d_model] → logits [n, d_vocab]. */
  unembed(resid: Float64Array): Float64Array {
    const normed = this.norm(resid, 'output_norm');
    return linear(this.mat('output.weight') ?? this.mat('token_embd.weight')!, normed);
  }

  /** Runs `tokens` (positions 0…T−1) through the model. */
  run(tokens: readonly number[], interventions: Map<string, Intervention> = new Map()): RefRun {
    const c = this.config, T = tokens.length, d = c.nEmbd, hd = c.headDim, H = c.nHead, HK = c.nHeadKv;
    const acts = new Map<string, RefTensor>();
    const hook = (name: string, data: Float64Array, shape: number[]) => {
      interventions.get(name)?.(data, shape);
      acts.set(name, { shape, data: data.slice() });
    };

    // Embedding: token row (+ learned position row for GPT-2).
    const emb = this.mat('token_embd.weight')!, pos = this.mat('position_embd.weight');
    let x: Float64Array = new Float64Array(T * d);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < d; i++) x[t * d + i] = emb.w[tokens[t]! * d + i]! + (pos ? pos.w[t * d + i]! : 0);
    }
    hook('hook_embed', x, [T, d]);

    for (let l = 0; l < c.nLayer; l++) {
      const p = `blk.${l}.`, b = `blocks.${l}.`;
      hook(b + 'hook_resid_pre', x, [T, d]);
      const h = this.norm(x, p + 'attn_norm');
      let q: Float64Array, k: Float64Array, v: Float64Array;
      if (c.family === 'gpt2') {
        const qkv = linear(this.mat(p + 'attn_qkv.weight')!, h, this.vec(p + 'attn_qkv.bias'));
        q = new Float64Array(T * d); k = new Float64Array(T * d); v = new Float64Array(T * d);
        for (let t = 0; t < T; t++) {
          q.set(qkv.subarray(t * 3 * d, t * 3 * d + d), t * d);
          k.set(qkv.subarray(t * 3 * d + d, t * 3 * d + 2 * d), t * d);
          v.set(qkv.subarray(t * 3 * d + 2 * d, t * 3 * d + 3 * d), t * d);
        }
      } else {
        q = linear(this.mat(p + 'attn_q.weight')!, h, this.vec(p + 'attn_q.bias'));
        k = linear(this.mat(p + 'attn_k.weight')!, h, this.vec(p + 'attn_k.bias'));
        v = linear(this.mat(p + 'attn_v.weight')!, h, this.vec(p + 'attn_v.bias'));
        const qn = this.vec(p + 'attn_q_norm.weight'), kn = this.vec(p + 'attn_k_norm.weight');
        if (qn) q = rmsNorm(q, qn, hd, c.normEps);
        if (kn) k = rmsNorm(k, kn, hd, c.normEps);
      }
      hook(b + 'attn.hook_q', q, [T, H, hd]);
      hook(b + 'attn.hook_k', k, [T, HK, hd]);
      hook(b + 'attn.hook_v', v, [T, HK, hd]);
      if (c.family === 'llama') {
        rope(q, T, H, c);
        rope(k, T, HK, c);
        hook(b + 'attn.hook_rot_q', q, [T, H, hd]);
        hook(b + 'attn.hook_rot_k', k, [T, HK, hd]);
      }

      // Causal attention; query head h reads key/value head floor(h / (H / HK)).
      const pattern = new Float64Array(H * T * T);
      for (let hh = 0; hh < H; hh++) {
        const kh = Math.floor(hh / (H / HK));
        for (let t = 0; t < T; t++) {
          const row = pattern.subarray((hh * T + t) * T, (hh * T + t + 1) * T);
          for (let s = 0; s <= t; s++) {
            let dot = 0;
            for (let i = 0; i < hd; i++) dot += q[(t * H + hh) * hd + i]! * k[(s * HK + kh) * hd + i]!;
            row[s] = dot / Math.sqrt(hd);
          }
          softmaxInPlace(row.subarray(0, t + 1));
        }
      }
      hook(b + 'attn.hook_pattern', pattern, [H, T, T]);
      const z = new Float64Array(T * H * hd);
      for (let hh = 0; hh < H; hh++) {
        const kh = Math.floor(hh / (H / HK));
        for (let t = 0; t < T; t++) {
          for (let s = 0; s <= t; s++) {
            const a = pattern[(hh * T + t) * T + s]!;
            for (let i = 0; i < hd; i++) z[(t * H + hh) * hd + i]! += a * v[(s * HK + kh) * hd + i]!;
          }
        }
      }
      hook(b + 'attn.hook_z', z, [T, H, hd]);
      const attnOut = linear(this.mat(p + 'attn_output.weight')!, z, this.vec(p + 'attn_output.bias'));
      hook(b + 'hook_attn_out', attnOut, [T, d]);
      x = add(x, attnOut);
      hook(b + 'hook_resid_mid', x, [T, d]);

      // MLP: GELU-tanh (GPT-2) or SwiGLU (Llama).
      const h2 = this.norm(x, p + 'ffn_norm');
      const up = linear(this.mat(p + 'ffn_up.weight')!, h2, this.vec(p + 'ffn_up.bias'));
      const gateW = this.mat(p + 'ffn_gate.weight');
      const gate = gateW ? linear(gateW, h2) : undefined;
      const post = new Float64Array(up.length);
      for (let i = 0; i < up.length; i++) {
        if (gate) post[i] = (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
        else post[i] = 0.5 * up[i]! * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (up[i]! + 0.044715 * up[i]! ** 3)));
      }
      hook(b + 'mlp.hook_post', post, [T, c.nFf]);
      const mlpOut = linear(this.mat(p + 'ffn_down.weight')!, post, this.vec(p + 'ffn_down.bias'));
      hook(b + 'hook_mlp_out', mlpOut, [T, d]);
      x = add(x, mlpOut);
      hook(b + 'hook_resid_post', x, [T, d]);
    }

    const normed = this.norm(x, 'output_norm');
    hook('ln_final.hook_normalized', normed, [T, d]);
    const logits = linear(this.mat('output.weight') ?? this.mat('token_embd.weight')!, normed);
    hook('hook_logits', logits, [T, c.vocabSize]);
    return { acts, logits };
  }

  /** LayerNorm (GPT-2: weight and bias) or RMSNorm (Llama: weight), row by row over d_model. */
  private norm(x: Float64Array, name: string): Float64Array {
    const c = this.config, w = this.vec(name + '.weight')!;
    if (c.family === 'llama') return rmsNorm(x, w, c.nEmbd, c.normEps);
    const bias = this.vec(name + '.bias')!, d = c.nEmbd, out = new Float64Array(x.length);
    for (let r = 0; r < x.length / d; r++) {
      const row = x.subarray(r * d, (r + 1) * d);
      const mean = row.reduce((s, v) => s + v, 0) / d;
      const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / d;
      for (let i = 0; i < d; i++) out[r * d + i] = ((row[i]! - mean) / Math.sqrt(variance + c.normEps)) * w[i]! + bias[i]!;
    }
    return out;
  }
}

/** y[r] = W x[r] (+ bias) for every row of x ([n, cols] → [n, rows]). */
function linear(m: Mat, x: Float64Array, bias?: Float64Array): Float64Array {
  const n = x.length / m.cols, y = new Float64Array(n * m.rows);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < m.rows; o++) {
      let s = bias ? bias[o]! : 0;
      for (let i = 0; i < m.cols; i++) s += m.w[o * m.cols + i]! * x[r * m.cols + i]!;
      y[r * m.rows + o] = s;
    }
  }
  return y;
}

function rmsNorm(x: Float64Array, w: Float64Array, n: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) out[r * n + i] = x[r * n + i]! * inv * w[i]!;
  }
  return out;
}

/**
 * Rotary embedding in place on [T, heads, head_dim]: pairs (2i, 2i+1) in the normal layout, (i, i + ropeDim/2)
 * in NeoX's; angle position · base^(−2i/ropeDim) / scaling factor. Dimensions past ropeDim are left alone.
 */
function rope(x: Float64Array, T: number, heads: number, c: ModelConfig): void {
  const half = c.ropeDim / 2, hd = c.headDim;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const theta = (t * Math.pow(c.ropeBase, (-2 * i) / c.ropeDim)) / (c.ropeFreqFactors?.[i] ?? 1);
      const cos = Math.cos(theta), sin = Math.sin(theta);
      for (let h = 0; h < heads; h++) {
        const base = (t * heads + h) * hd;
        const a = base + (c.ropeNeox ? i : 2 * i), b = base + (c.ropeNeox ? i + half : 2 * i + 1);
        const x0 = x[a]!, x1 = x[b]!;
        x[a] = x0 * cos - x1 * sin;
        x[b] = x0 * sin + x1 * cos;
      }
    }
  }
}

function softmaxInPlace(x: Float64Array): void {
  const max = Math.max(...x);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i] = Math.exp(x[i]! - max));
  for (let i = 0; i < x.length; i++) x[i]! /= sum;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}

function transpose(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/** log softmax of one row of logits, in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - lse);
}
