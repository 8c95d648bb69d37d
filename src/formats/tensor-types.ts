/** Tensor element types by their GGUF ids. Only these can be computed on; others are named in errors. */
export const DType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  IQ4_NL: 20,
  IQ4_XS: 23,
  BF16: 30,
} as const;
export type DType = (typeof DType)[keyof typeof DType];

/** Elements per block and bytes per block. */
const LAYOUT: Record<number, { name: string; block: number; bytes: number }> = {
  0: { name: 'F32', block: 1, bytes: 4 },
  1: { name: 'F16', block: 1, bytes: 2 },
  2: { name: 'Q4_0', block: 32, bytes: 18 },
  3: { name: 'Q4_1', block: 32, bytes: 20 },
  6: { name: 'Q5_0', block: 32, bytes: 22 },
  7: { name: 'Q5_1', block: 32, bytes: 24 },
  8: { name: 'Q8_0', block: 32, bytes: 34 },
  10: { name: 'Q2_K', block: 256, bytes: 84 },
  11: { name: 'Q3_K', block: 256, bytes: 110 },
  12: { name: 'Q4_K', block: 256, bytes: 144 },
  13: { name: 'Q5_K', block: 256, bytes: 176 },
  14: { name: 'Q6_K', block: 256, bytes: 210 },
  20: { name: 'IQ4_NL', block: 32, bytes: 18 },
  23: { name: 'IQ4_XS', block: 256, bytes: 136 },
  30: { name: 'BF16', block: 1, bytes: 2 },
};

/** Names of GGUF types we recognise but cannot compute on, for clear errors. */
const OTHER_GGUF_TYPES: Record<number, string> = {
  9: 'Q8_1', 15: 'Q8_K',
  16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 21: 'IQ3_S', 22: 'IQ2_S',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 34: 'TQ1_0', 35: 'TQ2_0',
};

export const SUPPORTED_DTYPES = Object.values(LAYOUT).map((l) => l.name);

export function isSupportedDType(t: number): t is DType {
  return t in LAYOUT;
}

export function dtypeName(t: number): string {
  return LAYOUT[t]?.name ?? OTHER_GGUF_TYPES[t] ?? `type ${t}`;
}

export function blockSize(t: DType): number {
  return LAYOUT[t]!.block;
}

/** Bytes taken by `n` elements of type t (n must be a multiple of the block size). */
export function byteSize(t: DType, n: number): number {
  const l = LAYOUT[t]!;
  return (n / l.block) * l.bytes;
}
