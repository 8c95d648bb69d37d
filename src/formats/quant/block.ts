import { f16ToF32, f32ToF16 } from './f16.js';

// What the quantizers share: ggml's reference rules for the 32-value block types, and the sub-block scans
// of the test encoders for the 256-value k-quants.

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

/**
 * A k-quant encoder's per-sub-block affine ranges (Q2_K, Q4_K, Q5_K): for each of `count` sub-blocks of
 * xb, the scale (max − min) / levels and the offset −min, with the minimum clamped to ≤ 0.
 */
export function subBlockRanges(xb: Float32Array, count: number, levels: number): { scales: number[]; mins: number[] } {
  const len = xb.length / count, scales: number[] = [], mins: number[] = [];
  for (let s = 0; s < count; s++) {
    let lo = Infinity, hi = -Infinity;
    for (let l = 0; l < len; l++) { const v = xb[s * len + l]!; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    lo = Math.min(lo, 0);
    scales.push((hi - lo) / levels);
    mins.push(-lo);
  }
  return { scales, mins };
}
