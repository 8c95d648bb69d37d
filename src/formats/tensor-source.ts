import type { DType } from './tensor-types.js';

/**
 * A tensor as stored in a model file: where its bytes are, not the bytes themselves.
 * `ne` is in GGUF order: ne[0] is the innermost (contiguous) dimension, so a matrix of `rows × cols`
 * has ne = [cols, rows].
 */
export interface TensorInfo {
  name: string;
  dtype: DType;
  ne: number[];
  /** Number of elements. */
  count: number;
  /** Bytes taken in the file. */
  byteLength: number;
  /** Copies the stored bytes into `dest` (exactly byteLength bytes). */
  read(dest: Uint8Array): void;
  /**
   * Set when the stored matrix is the transpose of what the model multiplies by (GPT-2's Conv1D in
   * Hugging Face files): the loader transposes it once at load time.
   */
  transposed?: boolean;
}

/** Named tensors from one or more files, under the canonical (GGUF) names. */
export type TensorMap = Map<string, TensorInfo>;
