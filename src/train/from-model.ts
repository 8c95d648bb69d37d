import { UserError } from '../errors.js';
import { dequantize } from '../formats/quant/index.js';
import { byteSize } from '../formats/tensor-types.js';
import type { Model } from '../model/load.js';
import type { Matrix } from '../model/weights.js';
import { ParameterSet, type Gpt2Shape } from './gpt2.js';

/**
 * A loaded GPT-2-family model's weights as a dense, differentiable parameter set (quantized matrices
 * are dequantized).
 */
export function gpt2Parameters(model: Model, precision: 'f32' | 'f64' = 'f32'): ParameterSet {
  const c = model.config;
  if (c.family !== 'gpt2') {
    throw new UserError(`${model.path}: not a GPT-2-family model (${c.architecture}); training covers the GPT-2 family`, 'model');
  }
  const w = model.transformer.weights, heap = model.heap;
  const shape: Gpt2Shape = { vocab: c.vocabSize, context: c.contextLength, embd: c.nEmbd, layers: c.nLayer, heads: c.nHead, ff: c.nFf, eps: c.normEps, tied: w.tied };
  const ps = new ParameterSet(shape, undefined, precision);
  const mat = (name: string, m: Matrix | undefined) => {
    if (!m) throw new Error(`${name} is missing from the loaded weights`);
    const n = m.rows * m.cols;
    ps.get(name).set(dequantize(m.type, heap.u8(m.ptr, byteSize(m.type, n)), n));
  };
  const vec = (name: string, ptr: number) => {
    const dst = ps.get(name);
    if (ptr === 0) throw new Error(`${name} is missing from the loaded weights`);
    dst.set(heap.f32(ptr, dst.length));
  };
  mat('token_embd.weight', w.tokenEmbd);
  mat('position_embd.weight', w.posEmbd);
  w.layers.forEach((L, l) => {
    const p = `blk.${l}.`;
    vec(p + 'attn_norm.weight', L.attnNorm); vec(p + 'attn_norm.bias', L.attnNormBias);
    mat(p + 'attn_qkv.weight', L.qkv); vec(p + 'attn_qkv.bias', L.qkvBias);
    mat(p + 'attn_output.weight', L.out); vec(p + 'attn_output.bias', L.outBias);
    vec(p + 'ffn_norm.weight', L.ffnNorm); vec(p + 'ffn_norm.bias', L.ffnNormBias);
    mat(p + 'ffn_up.weight', L.up); vec(p + 'ffn_up.bias', L.upBias);
    mat(p + 'ffn_down.weight', L.down); vec(p + 'ffn_down.bias', L.downBias);
  });
  vec('output_norm.weight', w.outNorm); vec('output_norm.bias', w.outNormBias);
  if (!w.tied) mat('output.weight', w.output);
  return ps;
}
