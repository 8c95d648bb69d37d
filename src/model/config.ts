import { UserError } from '../errors.js';

/** The transformer families Wander runs. */
export type Family = 'gpt2' | 'llama' | 'gemma';

/** Architecture names (GGUF `general.architecture` and HF `model_type`) and the family each runs as. */
const GGUF_ARCHITECTURES: Record<string, Family> = {
  gpt2: 'gpt2', llama: 'llama', qwen2: 'llama', qwen3: 'llama', mistral: 'llama', gemma: 'gemma', gemma2: 'gemma', gemma3: 'gemma',
};
const HF_MODEL_TYPES: Record<string, Family> = {
  gpt2: 'gpt2', llama: 'llama', qwen2: 'llama', qwen3: 'llama', mistral: 'llama', gemma: 'gemma', gemma2: 'gemma', gemma3_text: 'gemma', gemma3: 'gemma',
};

export function familyOf(arch: string, from: 'gguf' | 'hf', file: string): Family {
  const table = from === 'gguf' ? GGUF_ARCHITECTURES : HF_MODEL_TYPES;
  const family = table[arch];
  if (!family) {
    throw new UserError(`${file}: unsupported architecture "${arch}" (supported: ${Object.keys(table).join(', ')})`, 'model');
  }
  return family;
}

/** Everything the forward pass needs to know about a model's shape. */
export interface ModelConfig {
  family: Family;
  /** The architecture as the file names it (gpt2, llama, qwen2, …). */
  architecture: string;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  contextLength: number;
  vocabSize: number;
  normEps: number;
  /** Llama family: rotary embedding base, rotated dims per head, and pair layout. */
  ropeBase: number;
  ropeDim: number;
  /** true: pairs (i, i + ropeDim/2) as Hugging Face and llama.cpp's NeoX mode; false: adjacent pairs (2i, 2i+1). */
  ropeNeox: boolean;
  /** Per-frequency divisors (Llama 3 long-context scaling, Gemma 3's linear scaling), ropeDim/2 entries; absent = none. */
  ropeFreqFactors?: Float32Array;
  /** Gemma: what sets the family apart from Llama; absent for GPT-2 and Llama. */
  gemma?: GemmaConfig;
}

/**
 * Gemma 1/2/3 on top of the Llama layout: embeddings scaled by √d_model, GeGLU feed-forward, RMSNorm
 * weights used as stored in GGUF (1 + w; a Hugging Face folder's w gets its 1 added at load), and for
 * Gemma 2/3 post-attention and post-feed-forward norms, sliding-window layers and soft-capping.
 */
export interface GemmaConfig {
  version: 1 | 2 | 3;
  /** Attention scores are q·k times this: 1/√query_pre_attn_scalar (llama.cpp: 1/√head_dim, or 1/√(d_model/n_heads) for the 27B models). */
  attnScale: number;
  /** Gemma 2: scores become cap · tanh(score / cap) before the softmax; 0 = none. */
  attnSoftcap: number;
  /** Gemma 2: logits become cap · tanh(logit / cap); 0 = none. */
  finalSoftcap: number;
  /** Keys a sliding layer's query sees (itself included); 0 = no sliding layers. */
  slidingWindow: number;
  /** Per layer: true for the sliding-window (local) layers. */
  sliding: boolean[];
  /** The sliding layers' RoPE base; their frequencies are never scaled (Gemma 3: 10 000, the global layers 1 000 000 with linear scaling). */
  ropeBaseLocal: number;
}

/** Gemma's layer pattern: every `period`-th layer (the last of each group) is global, the rest slide (llama.cpp's set_swa_pattern). */
export function slidingPattern(nLayer: number, period: number): boolean[] {
  return Array.from({ length: nLayer }, (_, i) => period === 0 || i % period < period - 1);
}

export function validateConfig(c: ModelConfig, file: string): void {
  const bad = (what: string) => { throw new UserError(`${file}: invalid model shape: ${what}`, 'model'); };
  for (const k of ['nLayer', 'nEmbd', 'nHead', 'nHeadKv', 'headDim', 'nFf', 'contextLength', 'vocabSize'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1 || c[k] > 1 << 24) bad(`${k} = ${c[k]}`);
  }
  if (c.nHead % c.nHeadKv !== 0) bad(`head count ${c.nHead} is not a multiple of the KV head count ${c.nHeadKv}`);
  if (c.family === 'gpt2' && c.nHead * c.headDim !== c.nEmbd) bad(`embedding ${c.nEmbd} is not heads ${c.nHead} × head size ${c.headDim}`);
  if (c.family !== 'gpt2' && (c.ropeDim % 2 !== 0 || c.ropeDim > c.headDim)) bad(`rope dimension ${c.ropeDim} (head size ${c.headDim})`);
  if (c.gemma) {
    const g = c.gemma;
    if (!(g.attnScale > 0 && Number.isFinite(g.attnScale))) bad(`attention scale ${g.attnScale}`);
    if (!(g.attnSoftcap >= 0) || !(g.finalSoftcap >= 0)) bad(`soft-capping ${g.attnSoftcap} / ${g.finalSoftcap}`);
    if (!Number.isInteger(g.slidingWindow) || g.slidingWindow < 0) bad(`sliding window ${g.slidingWindow}`);
    if (g.sliding.length !== c.nLayer) bad(`sliding-window pattern of ${g.sliding.length} layers for ${c.nLayer}`);
    if (!(g.ropeBaseLocal > 0)) bad(`local rope base ${g.ropeBaseLocal}`);
  }
  if (!(c.normEps > 0 && c.normEps < 1)) bad(`norm epsilon ${c.normEps}`);
}

/** Inverse rotary frequencies, base^(−2i/d) divided by any scaling factors. */
export function ropeInvFreq(c: Pick<ModelConfig, 'ropeDim' | 'ropeBase' | 'ropeFreqFactors'>): Float32Array {
  const half = c.ropeDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = Math.pow(c.ropeBase, (-2 * i) / c.ropeDim) / (c.ropeFreqFactors?.[i] ?? 1);
  return out;
}

/** Llama 3's rope_scaling ("rope_type": "llama3") as per-frequency divisors. */
export function llama3FreqFactors(ropeBase: number, ropeDim: number, s: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number }): Float32Array {
  const half = ropeDim / 2;
  const out = new Float32Array(half);
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  for (let i = 0; i < half; i++) {
    const freq = Math.pow(ropeBase, (-2 * i) / ropeDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}
