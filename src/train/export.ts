import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeGguf, type GgufKv, type GgufTensorOut } from '../formats/gguf-writer.js';
import { quantize } from '../formats/quant/index.js';
import { writeSafetensors, type SafetensorOut } from '../formats/safetensors-writer.js';
import { DType } from '../formats/tensor-types.js';
import type { TrainedBpe } from './bpe.js';
import { parameterLayout, type ParameterSet } from './gpt2.js';

/** GGUF names → Hugging Face GPT-2 names (the Conv1D ones are stored transposed, [in, out]). */
const HF_NAMES: [RegExp, string][] = [
  [/^token_embd\.weight$/, 'transformer.wte.weight'], [/^position_embd\.weight$/, 'transformer.wpe.weight'],
  [/^output_norm\.(\w+)$/, 'transformer.ln_f.$1'], [/^output\.weight$/, 'lm_head.weight'],
  [/^blk\.(\d+)\.attn_norm\.(\w+)$/, 'transformer.h.$1.ln_1.$2'], [/^blk\.(\d+)\.attn_qkv\.(\w+)$/, 'transformer.h.$1.attn.c_attn.$2'],
  [/^blk\.(\d+)\.attn_output\.(\w+)$/, 'transformer.h.$1.attn.c_proj.$2'], [/^blk\.(\d+)\.ffn_norm\.(\w+)$/, 'transformer.h.$1.ln_2.$2'],
  [/^blk\.(\d+)\.ffn_up\.(\w+)$/, 'transformer.h.$1.mlp.c_fc.$2'], [/^blk\.(\d+)\.ffn_down\.(\w+)$/, 'transformer.h.$1.mlp.c_proj.$2'],
];

/** Writes to a temporary name and renames, so a crash never leaves half a model under the real name. */
function atomically(path: string, write: (tmp: string) => void): void {
  const tmp = `${path}.tmp-${process.pid}`;
  write(tmp);
  renameSync(tmp, path);
}

/** The model as one GGUF file (architecture gpt2, F32, the trained BPE vocabulary in its metadata). */
export function writeGgufModel(path: string, params: ParameterSet, tok: TrainedBpe, name: string): void {
  const s = params.shape;
  const meta: Record<string, GgufKv> = {
    'general.architecture': { type: 'string', value: 'gpt2' },
    'general.name': { type: 'string', value: name },
    'general.file_type': { type: 'u32', value: 0 },
    'gpt2.context_length': { type: 'u32', value: s.context },
    'gpt2.embedding_length': { type: 'u32', value: s.embd },
    'gpt2.block_count': { type: 'u32', value: s.layers },
    'gpt2.feed_forward_length': { type: 'u32', value: s.ff },
    'gpt2.attention.head_count': { type: 'u32', value: s.heads },
    'gpt2.attention.layer_norm_epsilon': { type: 'f32', value: s.eps },
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'gpt-2' },
    'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: tok.tokens },
    'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: tok.types },
    'tokenizer.ggml.merges': { type: 'array', itemType: 'string', value: tok.merges },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: tok.eosId },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: tok.eosId },
  };
  const tensors: GgufTensorOut[] = parameterLayout(s).map(({ name: n, shape }) => ({
    name: n, dtype: DType.F32, ne: [...shape].reverse(), data: quantize(DType.F32, Float32Array.from(params.get(n))),
  }));
  // Tied: no output.weight (llama.cpp's gpt2 loader falls back to the token embedding, as Wander's does).
  atomically(path, (tmp) => writeGguf(tmp, meta, tensors));
}

/** The model as a Hugging Face transformers folder: config.json, model.safetensors, tokenizer files. */
export function writeHfModel(dir: string, params: ParameterSet, tok: TrainedBpe): void {
  mkdirSync(dir, { recursive: true });
  const s = params.shape;
  const tensors: SafetensorOut[] = parameterLayout(s).map(({ name, shape }) => {
    const [re, to] = HF_NAMES.find(([r]) => r.test(name))!;
    const data = Float32Array.from(params.get(name));
    if (shape.length === 2 && /attn_qkv|attn_output|ffn_up|ffn_down/.test(name)) {
      const [rows, cols] = shape as [number, number];
      const t = new Float32Array(data.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = data[r * cols + c]!;
      return { name: name.replace(re, to), dtype: 'F32' as const, shape: [cols, rows], data: quantize(DType.F32, t) };
    }
    return { name: name.replace(re, to), dtype: 'F32' as const, shape, data: quantize(DType.F32, data) };
  });
  atomically(join(dir, 'model.safetensors'), (tmp) => writeSafetensors(tmp, tensors));
  const json = (file: string, v: unknown) => atomically(join(dir, file), (tmp) => writeFileSync(tmp, JSON.stringify(v, null, 2) + '\n'));
  json('config.json', {
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: s.vocab, n_positions: s.context, n_ctx: s.context,
    n_embd: s.embd, n_layer: s.layers, n_head: s.heads, n_inner: s.ff, activation_function: 'gelu_new', layer_norm_epsilon: s.eps,
    bos_token_id: tok.eosId, eos_token_id: tok.eosId, tie_word_embeddings: s.tied,
  });
  json('generation_config.json', { bos_token_id: tok.eosId, eos_token_id: tok.eosId });
  json('tokenizer.json', tok.json);
  const eos = tok.tokens[tok.eosId]!;
  json('tokenizer_config.json', { tokenizer_class: 'GPT2Tokenizer', bos_token: eos, eos_token: eos, unk_token: eos, model_max_length: s.context, add_prefix_space: false });
}
