import { UserError } from '../errors.js';
import { GgufMeta, readGguf } from '../formats/gguf.js';
import { dequantize } from '../formats/quant/index.js';
import { tokenizerFromGguf } from '../tokenizer/from-gguf.js';
import { familyOf, validateConfig, type ModelConfig } from './config.js';
import type { ModelSource } from './source.js';

/** llama.cpp rotates adjacent pairs for these, NeoX-style half pairs for the rest of the llama family. */
const NEOX_ARCHITECTURES = new Set(['qwen2', 'qwen3']);

export function openGguf(path: string): ModelSource {
  const file = readGguf(path);
  try {
    const meta = new GgufMeta(file);
    const label = meta.label();
    const arch = meta.str('general.architecture');
    if (!arch) throw new UserError(`${label}: general.architecture is missing`, 'model');
    const family = familyOf(arch, 'gguf', label);
    const k = (s: string) => `${arch}.${s}`;
    const embd = file.tensors.get('token_embd.weight');
    if (!embd || embd.ne.length !== 2) throw new UserError(`${label}: tensor token_embd.weight is missing or not 2-D`, 'model');
    const nEmbd = meta.requireNum(k('embedding_length'));
    const nHead = meta.requireNum(k('attention.head_count'));
    const headDim = meta.num(k('attention.key_length'), Math.floor(nEmbd / nHead));
    const config: ModelConfig = {
      family,
      architecture: arch,
      nLayer: meta.requireNum(k('block_count')),
      nEmbd,
      nHead,
      nHeadKv: meta.num(k('attention.head_count_kv'), nHead),
      headDim,
      nFf: meta.requireNum(k('feed_forward_length')),
      contextLength: meta.requireNum(k('context_length')),
      vocabSize: embd.ne[1]!,
      normEps: family === 'gpt2' ? meta.num(k('attention.layer_norm_epsilon'), 1e-5) : meta.num(k('attention.layer_norm_rms_epsilon'), 1e-5),
      ropeBase: meta.num(k('rope.freq_base'), 10000),
      ropeDim: meta.num(k('rope.dimension_count'), headDim),
      ropeNeox: NEOX_ARCHITECTURES.has(arch),
    };
    const factors = file.tensors.get('rope_freqs.weight');
    if (factors) {
      if (factors.count !== config.ropeDim / 2) throw new UserError(`${label}: rope_freqs.weight has ${factors.count} entries, expected ${config.ropeDim / 2}`, 'model');
      const bytes = new Uint8Array(factors.byteLength);
      factors.read(bytes);
      config.ropeFreqFactors = dequantize(factors.dtype, bytes, factors.count);
      file.tensors.delete('rope_freqs.weight');
    }
    validateConfig(config, label);
    const tokenizer = tokenizerFromGguf(meta);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new UserError(`${label}: the tokenizer has ${tokenizer.vocabSize} tokens but token_embd.weight only ${config.vocabSize} rows`, 'model');
    }
    const chatTemplate = meta.str('tokenizer.chat_template');
    return {
      path, format: 'gguf', config, tensors: file.tensors, tokenizer, generationDefaults: {},
      ...(chatTemplate ? { chatTemplate } : {}), close: () => file.close(),
    };
  } catch (e) {
    file.close();
    throw e;
  }
}
