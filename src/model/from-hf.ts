import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../errors.js';
import { readJsonFile } from '../formats/json-file.js';
import { readSafetensors, type SafetensorsFile } from '../formats/safetensors.js';
import type { TensorMap } from '../formats/tensor-source.js';
import { HfTokenizer } from '../tokenizer/hf.js';
import { familyOf, llama3FreqFactors, slidingPattern, validateConfig, type Family, type ModelConfig } from './config.js';
import type { GenerationDefaults, ModelSource } from './source.js';

type Json = Record<string, unknown>;

const GPT2_NAMES: [RegExp, string][] = [
  [/^wte\.weight$/, 'token_embd.weight'],
  [/^wpe\.weight$/, 'position_embd.weight'],
  [/^ln_f\.(weight|bias)$/, 'output_norm.$1'],
  [/^h\.(\d+)\.ln_1\.(weight|bias)$/, 'blk.$1.attn_norm.$2'],
  [/^h\.(\d+)\.attn\.c_attn\.(weight|bias)$/, 'blk.$1.attn_qkv.$2'],
  [/^h\.(\d+)\.attn\.c_proj\.(weight|bias)$/, 'blk.$1.attn_output.$2'],
  [/^h\.(\d+)\.ln_2\.(weight|bias)$/, 'blk.$1.ffn_norm.$2'],
  [/^h\.(\d+)\.mlp\.c_fc\.(weight|bias)$/, 'blk.$1.ffn_up.$2'],
  [/^h\.(\d+)\.mlp\.c_proj\.(weight|bias)$/, 'blk.$1.ffn_down.$2'],
  [/^lm_head\.weight$/, 'output.weight'],
];
const LLAMA_NAMES: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
  [/^model\.norm\.weight$/, 'output_norm.weight'],
  [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$/, 'blk.$1.attn_q.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)$/, 'blk.$1.attn_k.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)$/, 'blk.$1.attn_v.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.(weight|bias)$/, 'blk.$1.attn_output.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.q_norm\.weight$/, 'blk.$1.attn_q_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.k_norm\.weight$/, 'blk.$1.attn_k_norm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
];
/**
 * Gemma 2/3 name their four norms differently from Llama: post_attention_layernorm is the norm on the
 * attention's output, pre_feedforward_layernorm the one before the MLP. (Gemma 1 is named as Llama.)
 */
const GEMMA2_NAMES: [RegExp, string][] = [
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.post_attention_norm.weight'],
  [/^model\.layers\.(\d+)\.pre_feedforward_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
  [/^model\.layers\.(\d+)\.post_feedforward_layernorm\.weight$/, 'blk.$1.post_ffw_norm.weight'],
  ...LLAMA_NAMES,
];
/** Buffers some checkpoints carry that are not weights. */
const IGNORED = /(^|\.)(attn\.bias|attn\.masked_bias|rotary_emb\.inv_freq)$/;
/** A Gemma 3 image-text checkpoint's vision tower and projector: Wander runs its text model. */
const VISION = /^(model\.)?(vision_tower|multi_modal_projector)\./;

function canonicalName(family: Family, gemmaVersion: number, hfName: string): string | undefined {
  // Gemma 3's image-text checkpoints keep the text model under language_model (two layouts, by transformers version).
  const name = family === 'gpt2' ? hfName.replace(/^transformer\./, '') : hfName.replace(/^(language_model\.model|model\.language_model)\./, 'model.').replace(/^language_model\.lm_head\./, 'lm_head.');
  const table = family === 'gpt2' ? GPT2_NAMES : gemmaVersion >= 2 ? GEMMA2_NAMES : LLAMA_NAMES;
  for (const [re, to] of table) if (re.test(name)) return name.replace(re, to);
  return undefined;
}

/** Gemma 3's text-model defaults (transformers' Gemma3TextConfig), for the keys its config.json leaves out. */
const GEMMA3_DEFAULTS: Json = {
  num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256, max_position_embeddings: 131072, rms_norm_eps: 1e-6,
  rope_theta: 1_000_000, rope_local_base_freq: 10_000, query_pre_attn_scalar: 256, sliding_window: 4096, sliding_window_pattern: 6,
};
const GEMMA2_DEFAULTS: Json = { head_dim: 256, query_pre_attn_scalar: 256, attn_logit_softcapping: 50, final_logit_softcapping: 30, sliding_window: 4096, rms_norm_eps: 1e-6 };

/** The Gemma version a model type is (0 for other families). */
function gemmaVersion(modelType: string): number {
  return modelType === 'gemma' ? 1 : modelType === 'gemma2' ? 2 : modelType.startsWith('gemma3') ? 3 : 0;
}

/** The text model's config: Gemma 3 image-text checkpoints nest it as text_config; Gemma's defaults fill what is left out. */
function textConfig(cfg: Json): Json {
  const version = gemmaVersion(String(cfg['model_type']));
  const text = cfg['model_type'] === 'gemma3' && typeof cfg['text_config'] === 'object' && cfg['text_config'] ? { ...(cfg['text_config'] as Json) } : { ...cfg };
  const defaults = version === 3 ? GEMMA3_DEFAULTS : version === 2 ? GEMMA2_DEFAULTS : version === 1 ? { head_dim: 256 } : {};
  for (const [k, v] of Object.entries(defaults)) if (text[k] === undefined || (k === 'query_pre_attn_scalar' && text[k] === null)) text[k] = v;
  text['model_type'] = cfg['model_type'];
  return text;
}

function num(cfg: Json, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number') throw new UserError(`config.json: ${key} is missing or not a number`, 'model');
  return v;
}

function configFromHf(cfg: Json, family: Family, vocabRows: number): ModelConfig {
  const modelType = String(cfg['model_type']);
  if (family === 'gpt2') {
    const nEmbd = num(cfg, 'n_embd');
    const nHead = num(cfg, 'n_head');
    return {
      family, architecture: modelType, nLayer: num(cfg, 'n_layer'), nEmbd, nHead, nHeadKv: nHead, headDim: nEmbd / nHead,
      nFf: typeof cfg['n_inner'] === 'number' ? (cfg['n_inner'] as number) : 4 * nEmbd,
      contextLength: num(cfg, 'n_positions', num(cfg, 'n_ctx', 1024)), vocabSize: vocabRows,
      normEps: num(cfg, 'layer_norm_epsilon', 1e-5), ropeBase: 10000, ropeDim: 0, ropeNeox: false,
    };
  }
  const nEmbd = num(cfg, 'hidden_size');
  const nHead = num(cfg, 'num_attention_heads');
  const headDim = typeof cfg['head_dim'] === 'number' ? (cfg['head_dim'] as number) : nEmbd / nHead;
  // transformers 5 writes rope_parameters (per layer type for Gemma 3) instead of rope_theta/rope_scaling.
  const params = cfg['rope_parameters'] as Json | undefined;
  const full = (params?.['full_attention'] ?? params) as Json | undefined;
  const ropeBase = typeof full?.['rope_theta'] === 'number' ? (full['rope_theta'] as number) : num(cfg, 'rope_theta', 10000);
  const c: ModelConfig = {
    family, architecture: modelType, nLayer: num(cfg, 'num_hidden_layers'), nEmbd, nHead,
    nHeadKv: num(cfg, 'num_key_value_heads', nHead), headDim, nFf: num(cfg, 'intermediate_size'),
    contextLength: num(cfg, 'max_position_embeddings'), vocabSize: vocabRows, normEps: num(cfg, 'rms_norm_eps', 1e-6),
    // Hugging Face's Llama code rotates halves (rotate_half), i.e. NeoX pairs, on unpermuted weights.
    ropeBase, ropeDim: headDim, ropeNeox: true,
  };
  const scaling = (cfg['rope_scaling'] ?? (full && full['rope_type'] !== undefined ? full : undefined)) as Json | null | undefined;
  if (scaling && typeof scaling === 'object') {
    const type = scaling['rope_type'] ?? scaling['type'];
    if (type === 'llama3') c.ropeFreqFactors = llama3FreqFactors(ropeBase, headDim, scaling as never);
    else if (type === 'linear') c.ropeFreqFactors = new Float32Array(headDim / 2).fill(num(scaling, 'factor'));
    else if (type !== 'default') throw new UserError(`config.json: rope_scaling type "${String(type)}" is not supported (supported: llama3, linear)`, 'model');
  }
  const version = gemmaVersion(modelType);
  if (version) {
    const layerTypes = cfg['layer_types'];
    const window = version === 1 ? 0 : typeof cfg['sliding_window'] === 'number' ? (cfg['sliding_window'] as number) : 0;
    const sliding = window === 0 ? new Array<boolean>(c.nLayer).fill(false)
      : Array.isArray(layerTypes) ? layerTypes.map((t) => t === 'sliding_attention')
      : slidingPattern(c.nLayer, version === 2 ? 2 : num(cfg, 'sliding_window_pattern', 6));
    const local = (params?.['sliding_attention'] as Json | undefined)?.['rope_theta'];
    const cap = (k: string) => (typeof cfg[k] === 'number' ? (cfg[k] as number) : 0);
    c.gemma = {
      version: version as 1 | 2 | 3,
      attnScale: 1 / Math.sqrt(version === 1 ? headDim : num(cfg, 'query_pre_attn_scalar')),
      attnSoftcap: cap('attn_logit_softcapping'), finalSoftcap: cap('final_logit_softcapping'),
      slidingWindow: window, sliding,
      ropeBaseLocal: typeof local === 'number' ? local : version === 3 ? num(cfg, 'rope_local_base_freq', 10000) : ropeBase,
    };
  }
  return c;
}

function generationDefaults(gc: Json | undefined): GenerationDefaults {
  if (!gc) return {};
  const d: GenerationDefaults = {};
  if (gc['do_sample'] === false) d.temperature = 0;
  else if (typeof gc['temperature'] === 'number') d.temperature = gc['temperature'] as number;
  if (gc['do_sample'] === true) {
    // Warpers only matter when sampling (Hugging Face ignores them for greedy decoding).
    for (const key of ['top_k', 'top_p', 'min_p', 'typical_p', 'epsilon_cutoff', 'eta_cutoff'] as const) {
      if (typeof gc[key] === 'number') d[key] = gc[key] as number;
    }
  }
  for (const key of ['repetition_penalty', 'no_repeat_ngram_size'] as const) {
    if (typeof gc[key] === 'number') d[key] = gc[key] as number;
  }
  if (typeof gc['max_new_tokens'] === 'number') d.max_tokens = gc['max_new_tokens'] as number;
  return d;
}

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/** Opens a Hugging Face model folder: config.json, safetensors (single or sharded), tokenizer.json. */
export function openHfFolder(dir: string): ModelSource {
  const raw = readJsonFile(join(dir, 'config.json'), true)!;
  const modelType = raw['model_type'];
  if (typeof modelType !== 'string') throw new UserError(`${join(dir, 'config.json')}: model_type is missing`, 'model');
  const family = familyOf(modelType, 'hf', 'config.json');
  const cfg = textConfig(raw);

  const files: SafetensorsFile[] = [];
  const tensors: TensorMap = new Map();
  try {
    const index = readJsonFile<{ weight_map?: Record<string, string> }>(join(dir, 'model.safetensors.index.json'));
    const shardNames = index ? [...new Set(Object.values(index.weight_map ?? {}))] : ['model.safetensors'];
    if (index && shardNames.length === 0) throw new UserError('model.safetensors.index.json: weight_map is empty', 'model');
    for (const shard of shardNames) {
      if (shard.includes('/') || shard.includes('..')) throw new UserError(`model.safetensors.index.json: invalid shard name ${shard}`, 'model');
      const p = join(dir, shard);
      if (!existsSync(p)) throw new UserError(`${dir}: ${shard} not found (a Hugging Face model folder needs model.safetensors or model.safetensors.index.json with its shards)`, 'model');
      files.push(readSafetensors(p));
    }
    for (const f of files) {
      for (const [hfName, info] of f.tensors) {
        if (IGNORED.test(hfName) || (family === 'gemma' && VISION.test(hfName))) continue;
        const name = canonicalName(family, gemmaVersion(modelType), hfName);
        if (!name) throw new UserError(`${basename(f.path)}: unexpected tensor ${hfName} for a ${modelType} model`, 'model');
        // GPT-2 stores its linear layers as Conv1D, [in, out]: transpose to [out, in] at load.
        const transposed = family === 'gpt2' && info.ne.length === 2 && /attn_qkv|attn_output|ffn_up|ffn_down/.test(name) && name.endsWith('weight');
        tensors.set(name, { ...info, name, transposed, ne: transposed ? [info.ne[1]!, info.ne[0]!] : info.ne });
      }
    }
    // Gemma ties its embeddings whatever the config says (its configs often leave the key out).
    if (cfg['tie_word_embeddings'] === true || (family === 'gemma' && raw['tie_word_embeddings'] !== false)) tensors.delete('output.weight');
    const embd = tensors.get('token_embd.weight');
    if (!embd || embd.ne.length !== 2) throw new UserError(`${dir}: the embedding matrix is missing`, 'model');
    const config = configFromHf(cfg, family, embd.ne[1]!);
    validateConfig(config, 'config.json');

    const tokJson = readJsonFile(join(dir, 'tokenizer.json'));
    if (!tokJson) throw new UserError(`${dir}: tokenizer.json not found (Wander reads Hugging Face tokenizers from tokenizer.json)`, 'model');
    const tokConfig = readJsonFile(join(dir, 'tokenizer_config.json')) ?? {};
    const genConfig = readJsonFile(join(dir, 'generation_config.json'));
    const eosIds = [...new Set([...ids(genConfig?.['eos_token_id']), ...ids(raw['eos_token_id']), ...ids(cfg['eos_token_id'])])];
    const bos = ids(genConfig?.['bos_token_id'] ?? raw['bos_token_id'] ?? cfg['bos_token_id'])[0];
    const tokenizer = new HfTokenizer(tokJson, tokConfig, { bosId: bos, eosIds });
    const chatTemplate = hfChatTemplate(dir, tokConfig);
    return {
      path: dir, format: 'safetensors', config, tensors, tokenizer, ...(chatTemplate ? { chatTemplate } : {}),
      // Gemma's RMSNorm multiplies by (1 + w); its folders store w.
      ...(family === 'gemma' ? { normShift: 1 } : {}),
      generationDefaults: generationDefaults(genConfig), generationConfig: genConfig,
      close: () => files.forEach((f) => f.close()),
    };
  } catch (e) {
    files.forEach((f) => f.close());
    throw e;
  }
}

/** chat_template.jinja, else tokenizer_config.json's chat_template (a string, or named templates: "default"). */
function hfChatTemplate(dir: string, tokConfig: Record<string, unknown>): string | undefined {
  const file = join(dir, 'chat_template.jinja');
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const t = tokConfig['chat_template'];
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.find((x) => (x as { name?: unknown })?.name === 'default') ?? t[0];
    const template = (named as { template?: unknown } | undefined)?.template;
    if (typeof template === 'string') return template;
  }
  return undefined;
}
