import { basename } from 'node:path';
import { UserError } from '../errors.js';
import { dequantize } from '../formats/quant/index.js';
import type { TensorInfo } from '../formats/tensor-source.js';
import { DType, dtypeName } from '../formats/tensor-types.js';
import type { Heap } from '../kernels/heap.js';
import type { ModelSource } from './source.js';

/** A weight matrix in the heap, in its stored type: rows × cols, row-major. */
export interface Matrix { ptr: number; type: DType; rows: number; cols: number }
/** A vector in the heap, always f32 (norm weights and biases are converted at load). 0 = absent. */
export type Vec = number;

export interface LayerWeights {
  attnNorm: Vec; attnNormBias: Vec;
  /** GPT-2's fused Q/K/V projection (rows = 3·nEmbd). */
  qkv?: Matrix; qkvBias: Vec;
  q?: Matrix; k?: Matrix; v?: Matrix; qBias: Vec; kBias: Vec; vBias: Vec;
  qNorm: Vec; kNorm: Vec;
  out: Matrix; outBias: Vec;
  ffnNorm: Vec; ffnNormBias: Vec;
  /** Gemma 2/3: RMSNorms on the attention's and the feed-forward's outputs, before they join the residual. */
  attnPostNorm: Vec; ffnPostNorm: Vec;
  up: Matrix; upBias: Vec;
  gate?: Matrix;
  down: Matrix; downBias: Vec;
}

export interface Weights {
  tokenEmbd: Matrix;
  posEmbd?: Matrix;
  layers: LayerWeights[];
  outNorm: Vec; outNormBias: Vec;
  /** The unembedding; the token embedding itself when the model ties them. */
  output: Matrix;
  tied: boolean;
  /** Total parameter count (a tied matrix counted once). */
  parameters: number;
  bytes: number;
}

/** Copies every tensor the model uses into the heap, checking each one's shape against the config. */
export function loadWeights(src: ModelSource, heap: Heap): Weights {
  const c = src.config;
  const file = basename(src.path);
  const used = new Set<string>();
  let parameters = 0;

  const get = (name: string, required: boolean): TensorInfo | undefined => {
    const t = src.tensors.get(name);
    if (!t && required) throw new UserError(`${file}: tensor ${name} is missing (needed by a ${c.architecture} model)`, 'model');
    if (t) used.add(name);
    return t;
  };
  const checkShape = (t: TensorInfo, ne: number[]) => {
    if (t.ne.length !== ne.length || t.ne.some((d, i) => d !== ne[i])) {
      throw new UserError(`${file}: tensor ${t.name} has shape [${t.ne.join(', ')}], expected [${ne.join(', ')}]`, 'model');
    }
  };
  const readBytes = (t: TensorInfo): Uint8Array => {
    const b = new Uint8Array(t.byteLength);
    t.read(b);
    return b;
  };

  const matrix = (name: string, rows: number, cols: number, required = true): Matrix | undefined => {
    const t = get(name, required);
    if (!t) return undefined;
    checkShape(t, [cols, rows]);
    parameters += t.count;
    const ptr = heap.alloc(t.byteLength, name);
    if (t.transposed) {
      // Stored as [cols][rows]; the kernels want [rows][cols]. Only unquantized types occur here.
      if (t.dtype !== DType.F32 && t.dtype !== DType.F16 && t.dtype !== DType.BF16) throw new UserError(`${file}: cannot transpose ${dtypeName(t.dtype)} tensor ${name}`, 'model');
      const es = t.dtype === DType.F32 ? 4 : 2;
      const srcBytes = readBytes(t);
      const dst = heap.u8(ptr, t.byteLength);
      for (let r = 0; r < rows; r++) for (let col = 0; col < cols; col++) {
        const from = (col * rows + r) * es, to = (r * cols + col) * es;
        for (let b = 0; b < es; b++) dst[to + b] = srcBytes[from + b]!;
      }
    } else {
      t.read(heap.u8(ptr, t.byteLength));
    }
    return { ptr, type: t.dtype, rows, cols };
  };
  const vector = (name: string, n: number, required = true): Vec => {
    const t = get(name, required);
    if (!t) return 0;
    if (t.count !== n || (t.ne.length !== 1 && !t.ne.slice(1).every((d) => d === 1))) {
      throw new UserError(`${file}: tensor ${name} has shape [${t.ne.join(', ')}], expected [${n}]`, 'model');
    }
    parameters += n;
    const ptr = heap.alloc(n * 4, name);
    const values = dequantize(t.dtype, readBytes(t), n);
    if (src.normShift && name.endsWith('norm.weight')) for (let i = 0; i < n; i++) values[i]! += src.normShift;
    heap.f32(ptr, n).set(values);
    return ptr;
  };

  const gpt2 = c.family === 'gpt2';
  const postNorms = (c.gemma?.version ?? 1) >= 2;
  const d = c.nEmbd, qDim = c.nHead * c.headDim, kvDim = c.nHeadKv * c.headDim;
  const tokenEmbd = matrix('token_embd.weight', c.vocabSize, d)!;
  const posEmbd = gpt2 ? matrix('position_embd.weight', c.contextLength, d) : undefined;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `blk.${i}.`;
    const L: LayerWeights = {
      attnNorm: vector(p + 'attn_norm.weight', d),
      attnNormBias: vector(p + 'attn_norm.bias', d, gpt2),
      qkv: gpt2 ? matrix(p + 'attn_qkv.weight', 3 * d, d) : undefined,
      qkvBias: gpt2 ? vector(p + 'attn_qkv.bias', 3 * d) : 0,
      q: gpt2 ? undefined : matrix(p + 'attn_q.weight', qDim, d),
      k: gpt2 ? undefined : matrix(p + 'attn_k.weight', kvDim, d),
      v: gpt2 ? undefined : matrix(p + 'attn_v.weight', kvDim, d),
      qBias: gpt2 ? 0 : vector(p + 'attn_q.bias', qDim, false),
      kBias: gpt2 ? 0 : vector(p + 'attn_k.bias', kvDim, false),
      vBias: gpt2 ? 0 : vector(p + 'attn_v.bias', kvDim, false),
      qNorm: gpt2 ? 0 : vector(p + 'attn_q_norm.weight', c.headDim, c.gemma?.version === 3),
      kNorm: gpt2 ? 0 : vector(p + 'attn_k_norm.weight', c.headDim, c.gemma?.version === 3),
      out: matrix(p + 'attn_output.weight', d, qDim)!,
      outBias: vector(p + 'attn_output.bias', d, gpt2),
      ffnNorm: vector(p + 'ffn_norm.weight', d),
      ffnNormBias: vector(p + 'ffn_norm.bias', d, gpt2),
      attnPostNorm: postNorms ? vector(p + 'post_attention_norm.weight', d) : 0,
      ffnPostNorm: postNorms ? vector(p + 'post_ffw_norm.weight', d) : 0,
      up: matrix(p + 'ffn_up.weight', c.nFf, d)!,
      upBias: vector(p + 'ffn_up.bias', c.nFf, gpt2),
      gate: gpt2 ? undefined : matrix(p + 'ffn_gate.weight', c.nFf, d),
      down: matrix(p + 'ffn_down.weight', d, c.nFf)!,
      downBias: vector(p + 'ffn_down.bias', d, gpt2),
    };
    layers.push(L);
  }
  const outNorm = vector('output_norm.weight', d);
  const outNormBias = vector('output_norm.bias', d, gpt2);
  const output = matrix('output.weight', c.vocabSize, d, false);
  const unused = [...src.tensors.keys()].filter((n) => !used.has(n));
  if (unused.length > 0) {
    throw new UserError(`${file}: tensor ${unused[0]} is not part of a ${c.architecture} model as Wander reads it${unused.length > 1 ? ` (and ${unused.length - 1} more)` : ''}`, 'model');
  }
  return { tokenEmbd, posEmbd, layers, outNorm, outNormBias, output: output ?? tokenEmbd, tied: !output, parameters, bytes: heap.used };
}
