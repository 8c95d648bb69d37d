import { f16ToF32, f32ToF16 } from './f16.js';

// What ggml's reference quantizers share for the 32-value block types.

/** The value of largest magnitude among x[from, from + n), with its sign: the symmetric types scale by it. */
export function signedAbsMax(x: Float32Array, from: number, n: number): number {
  let amax = 0, max = 0;
  for (let j = from; j < from + n; j++) {
    const v = x[j]!;
    if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
  }
  return max;
}

/**
 * An offset block's scale and minimum (Q4_1, Q5_1): d = range / levels and m = the minimum, both rounded
 * to f16 (their bits dh, mh), and q(v), v's level 0…levels against the rounded values.
 */
export function offsetScale(xb: Float32Array, levels: number): { dh: number; mh: number; q: (v: number) => number } {
  let lo = Infinity, hi = -Infinity;
  for (const v of xb) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const dh = f32ToF16((hi - lo) / levels), mh = f32ToF16(lo);
  const d = f16ToF32(dh), m = f16ToF32(mh);
  return { dh, mh, q: (v) => (d ? Math.max(0, Math.min(levels, Math.round((v - m) / d))) : 0) };
}
