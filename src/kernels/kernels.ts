/**
 * The kernel interface the transformer calls. All pointers are byte offsets into the Heap; counts are
 * element counts. Implemented by WebAssembly SIMD (wasm.ts) and, where that is unavailable, by plain
 * TypeScript (fallback.ts) over the same memory.
 */
/**
 * Bytes per 32-value block of quantized activations: an f32 scale d, 32 int16, and an f32 s = d·Σq (the
 * Q8_1 block sum, rounded to f16 as llama.cpp stores it) (see quantizeRowsQ8_0).
 */
export const Q8_ACT_BLOCK = 72;

/**
 * Bytes per 256-value block of Q8_K activations: 256 int16 (each group of 16 stored v0 v8 v1 v9 … v7 v15,
 * so a pairwise i16 dot product yields ggml's eight lanes, element index mod 8), the 16 groups' sums as
 * int16, the f32 scale d, and zero padding (see quantizeRowsQ8_K in wasm/kquants.ts). No larger than
 * eight Q8_ACT_BLOCKs, so one buffer sized for Q8_0 activations holds either format.
 */
export const Q8_K_ACT_BLOCK = 560;

/** What a weight type's matmul multiplies: f32 activations, or activations quantized as llama.cpp pairs them. */
export type ActivationFormat = 'f32' | 'q8_0' | 'q8_K';

/**
 * The activation format llama.cpp pairs with each weight type: Q8_0 (with Q8_1 block sums) for Q8_0, Q4_0,
 * Q4_1, Q5_0, Q5_1, IQ4_NL; Q8_K for the 256-value k-quants (Q2_K … Q6_K) and IQ4_XS; f32 for F32, F16, BF16.
 * Quantized formats go through quantizeRowsQ8_0 / quantizeRowsQ8_K and matmulQ8Act.
 */
export function activationFormat(type: number): ActivationFormat {
  switch (type) {
    case 8 /* Q8_0 */: case 2 /* Q4_0 */: case 3 /* Q4_1 */: case 6 /* Q5_0 */: case 7 /* Q5_1 */: case 20 /* IQ4_NL */:
      return 'q8_0';
    case 10 /* Q2_K */: case 11 /* Q3_K */: case 12 /* Q4_K */: case 13 /* Q5_K */: case 14 /* Q6_K */: case 23 /* IQ4_XS */:
      return 'q8_K';
    default:
      return 'f32';
  }
}

/** Weight types whose matmul takes quantized activations (matmulQ8Act), in the format activationFormat names. */
export function takesQ8Activations(type: number): boolean {
  return activationFormat(type) !== 'f32';
}

/** Bytes of nt rows of n activations quantized to `format` (n a multiple of its block: 32, or 256 for q8_K). */
export function quantizedBytes(format: 'q8_0' | 'q8_K', n: number, nt: number): number {
  return format === 'q8_K' ? nt * Math.floor(n / 256) * Q8_K_ACT_BLOCK : nt * Math.ceil(n / 32) * Q8_ACT_BLOCK;
}

/** Bytes of the per-thread scratch matmul needs for rows of `cols` values: one f32 row and 4 × 128 bytes. */
export const matmulScratchBytes = (cols: number) => cols * 4 + 512;

export interface Kernels {
  readonly name: string;
  /** scratch: matmulScratchBytes(cols) bytes of this thread's own (a dequantized row, then the F32 register block's partial sums). */
  matmul(type: number, w: number, x: number, y: number, rows: number, cols: number, nt: number, r0: number, r1: number, scratch: number): void;
  /** Q8_0-quantized copies of nt activation rows (n a multiple of 32) with Q8_1 block sums, Q8_ACT_BLOCK bytes per block, for matmulQ8Act. */
  quantizeRowsQ8_0(x: number, out: number, n: number, nt: number): void;
  /** Q8_K-quantized copies of nt activation rows (n a multiple of 256), Q8_K_ACT_BLOCK bytes per block, for matmulQ8Act on k-quants. */
  quantizeRowsQ8_K(x: number, out: number, n: number, nt: number): void;
  /**
   * matmul for the types takesQ8Activations names, on activations quantized to their activationFormat
   * (llama.cpp's integer dot products; the k-quants and IQ4_XS in ggml's generic f32 order).
   */
  matmulQ8Act(type: number, w: number, xq: number, y: number, rows: number, cols: number, nt: number, r0: number, r1: number): void;
  dequantRow(type: number, src: number, dst: number, n: number): void;
  addBias(y: number, b: number, n: number, nt: number): void;
  addInPlace(x: number, y: number, n: number): void;
  layerNorm(x: number, out: number, w: number, b: number, n: number, nt: number, eps: number): void;
  rmsNorm(x: number, out: number, w: number, n: number, nt: number, eps: number): void;
  geluTanh(x: number, n: number): void;
  siluMul(g: number, u: number, n: number): void;
  /** g = gelu_tanh(g) · u, the GELU rounded to f32 before the product (GeGLU). */
  geluMul(g: number, u: number, n: number): void;
  rope(x: number, nt: number, nHeads: number, headDim: number, ropeDim: number, positions: number, invFreq: number, neox: number): void;
  /**
   * window > 0: a query at position i sees keys p with i − p < window; softcap > 0: scores become
   * softcap · tanh(s / softcap); kvF16 = 1: the cache rows hold f16 (an F16 KV cache), else f32.
   */
  attnPattern(q: number, k: number, pattern: number, nt: number, nHead: number, nHeadKv: number, hd: number, pos0: number, kvStride: number, scale: number, window: number, softcap: number, kvF16: number): void;
  attnApply(pattern: number, v: number, z: number, nt: number, nHead: number, nHeadKv: number, hd: number, pos0: number, kvStride: number, window: number, kvF16: number): void;
  /** n f32 values → f16 bits, rounded to nearest even (writing an F16 KV cache). */
  toF16(src: number, dst: number, n: number): void;
}
