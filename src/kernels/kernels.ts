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
 * Weight types whose matmul takes activations quantized to Q8_0 / Q8_1 (matmulQ8Act), as llama.cpp pairs
 * them (Q8_0, Q4_0, Q5_0, IQ4_NL with Q8_0; Q4_1, Q5_1 with Q8_1); every other type (F32, F16, BF16 and the
 * 256-value k-quants and IQ4_XS, which llama.cpp pairs with Q8_K) multiplies f32 activations.
 */
export function takesQ8Activations(type: number): boolean {
  return type === 8 /* Q8_0 */ || type === 2 /* Q4_0 */ || type === 3 /* Q4_1 */ || type === 6 /* Q5_0 */
    || type === 7 /* Q5_1 */ || type === 20 /* IQ4_NL */;
}

export interface Kernels {
  readonly name: string;
  matmul(type: number, w: number, x: number, y: number, rows: number, cols: number, nt: number, r0: number, r1: number, scratch: number): void;
  /** Q8_0-quantized copies of nt activation rows (n a multiple of 32) with Q8_1 block sums, Q8_ACT_BLOCK bytes per block, for matmulQ8Act. */
  quantizeRowsQ8_0(x: number, out: number, n: number, nt: number): void;
  /** matmul for the types takesQ8Activations names, on quantized activations (llama.cpp's integer dot products). */
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
