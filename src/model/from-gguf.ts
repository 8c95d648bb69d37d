import { UserError } from '../errors.js';
import { GgufMeta, readGguf } from '../formats/gguf.js';
import { dequantize } from '../formats/quant/index.js';
import { tokenizerFromGguf } from '../tokenizer/from-gguf.js';
import { familyOf, slidingPattern, validateConfig, type GemmaConfig, type ModelConfig } from './config.js';
import type { ModelSource } from './source.js';

/** llama.cpp rotates NeoX-style half pairs for these, adjacent pairs for the rest of the llama family. */
const NEOX_ARCHITECTURES = new Set(['qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3']);

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
    if (family === 'gemma') Object.assign(config, gemmaConfig(meta, arch, config, label));
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

/**
 * Gemma's extra hyperparameters as llama.cpp reads them from a GGUF file (src/models/gemma*.cpp): Gemma 2
 * slides on every other layer (window 4096 unless the file says) with soft-capping 50 / 30 by default;
 * Gemma 3 slides on five layers of six when the file names a window, the sliding layers with RoPE base
 * `rope.freq_base_swa` (10 000) unscaled, the global ones with `rope.freq_base` and linear
 * `rope.scaling.factor`. The attention scale is 1/√head_dim, except for the 27B models (recognised, as
 * llama.cpp does, by their layer count), which use 1/√(d_model/n_heads).
 */
function gemmaConfig(meta: GgufMeta, arch: string, c: ModelConfig, label: string): Partial<ModelConfig> {
  const k = (s: string) => `${arch}.${s}`;
  const version = arch === 'gemma3' ? 3 : arch === 'gemma2' ? 2 : 1;
  const big = (version === 2 && c.nLayer === 46) || (version === 3 && c.nLayer === 62);
  const window = version === 1 ? 0 : meta.num(k('attention.sliding_window'), version === 2 ? 4096 : 0);
  const rawPattern = meta.raw(k('attention.sliding_window_pattern'));
  let sliding: boolean[];
  if (window === 0) sliding = new Array<boolean>(c.nLayer).fill(false);
  else if (Array.isArray(rawPattern)) {
    if (rawPattern.length !== c.nLayer || rawPattern.some((x) => typeof x !== 'boolean')) throw new UserError(`${label}: ${k('attention.sliding_window_pattern')} should be ${c.nLayer} booleans`, 'model');
    sliding = rawPattern as boolean[];
  } else sliding = slidingPattern(c.nLayer, meta.num(k('attention.sliding_window_pattern'), version === 2 ? 2 : 6));
  const gemma: GemmaConfig = {
    version,
    attnScale: 1 / Math.sqrt(big ? Math.floor(c.nEmbd / c.nHead) : c.headDim),
    attnSoftcap: version === 2 ? meta.num(k('attn_logit_softcapping'), 50) : 0,
    finalSoftcap: version === 2 ? meta.num(k('final_logit_softcapping'), 30) : version === 3 ? meta.num(k('final_logit_softcapping'), 0) : 0,
    slidingWindow: window,
    sliding,
    // Gemma 2's sliding layers share the global base unless the file says otherwise.
    ropeBaseLocal: meta.num(k('rope.freq_base_swa'), version === 2 ? c.ropeBase : 10000),
  };
  const scale = meta.num(k('rope.scaling.factor'), 0) || meta.num(k('rope.scale_linear'), 0);
  return { gemma, ...(scale && scale !== 1 ? { ropeFreqFactors: new Float32Array(c.ropeDim / 2).fill(scale) } : {}) };
}
