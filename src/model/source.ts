import type { TensorMap } from '../formats/tensor-source.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ModelConfig } from './config.js';

/** Decoding defaults a model ships (Hugging Face generation_config.json), in Wander's setting names. */
export interface GenerationDefaults {
  temperature?: number;
  top_k?: number;
  top_p?: number;
  min_p?: number;
  typical_p?: number;
  epsilon_cutoff?: number;
  eta_cutoff?: number;
  repetition_penalty?: number;
  no_repeat_ngram_size?: number;
  max_tokens?: number;
}

/** A model file (or folder) opened and understood, but not yet loaded into memory. */
export interface ModelSource {
  path: string;
  format: 'gguf' | 'safetensors';
  config: ModelConfig;
  /** Tensors under canonical (GGUF) names. */
  tensors: TensorMap;
  tokenizer: Tokenizer;
  /** Defaults from generation_config.json, applied under the user's flags. */
  generationDefaults: GenerationDefaults;
  /** The model's chat template (Jinja), when its files ship one. */
  chatTemplate?: string;
  /**
   * Added to every RMSNorm weight at load: 1 for a Gemma Hugging Face folder, which stores w for the
   * model's (1 + w) (GGUF files store 1 + w already). Absent = 0.
   */
  normShift?: number;
  /** The raw generation_config.json, for the report. */
  generationConfig?: Record<string, unknown>;
  close(): void;
}
