import { f16ToF32, f32ToF16 } from './f16.js';
import { subBlockRanges } from './block.js';

// Q2_K: super-blocks of 256 values = 16 bytes of (4-bit scale | 4-bit min << 4), one per 16-value
// sub-block, 64 bytes of 2-bit q, f16 d, f16 dmin. value = d·scale·q − dmin·min, q in 0..3.
// Element e (0..255) lives in byte 32·(e >> 7) + (e & 31) at bits 2·((e >> 5) & 3); its sub-block is e >> 4.

export function dequantizeQ2_K(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n / 256; b++) {
    const blk = src.subarray(b * 84, b * 84 + 84);
    const d = f16ToF32(blk[80]! | (blk[81]! << 8)), dmin = f16ToF32(blk[82]! | (blk[83]! << 8));
    for (let e = 0; e < 256; e++) {
      const sc = blk[e >> 4]!;
      const q = (blk[16 + 32 * (e >> 7) + (e & 31)]! >> (2 * ((e >> 5) & 3))) & 3;
      out[b * 256 + e] = d * (sc & 0xf) * q - dmin * (sc >> 4); // products exact in f32; one rounding
    }
  }
  return out;
}

/** A simple Q2_K encoder: per 16-value min/max, 4-bit scales and mins. For test files. */
export function quantizeQ2_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 256) * 84);
  for (let b = 0; b < x.length / 256; b++) {
    const xb = x.subarray(b * 256, b * 256 + 256);
    const { scales, mins } = subBlockRanges(xb, 16, 3);
    const d = f16ToF32(f32ToF16(Math.max(...scales) / 15)), dmin = f16ToF32(f32ToF16(Math.max(...mins) / 15));
    // Scales round up, so the sub-block's range is always covered; mins round to nearest.
    const ls = scales.map((v) => (d ? Math.min(15, Math.ceil(v / d - 1e-9)) : 0));
    const lm = mins.map((v) => (dmin ? Math.min(15, Math.round(v / dmin)) : 0));
    const blk = out.subarray(b * 84, b * 84 + 84);
    for (let s = 0; s < 16; s++) blk[s] = ls[s]! | (lm[s]! << 4);
    const dh = f32ToF16(d), mh = f32ToF16(dmin);
    blk[80] = dh & 0xff; blk[81] = dh >> 8; blk[82] = mh & 0xff; blk[83] = mh >> 8;
    for (let e = 0; e < 256; e++) {
      const s = e >> 4, ds = d * ls[s]!, m = dmin * lm[s]!;
      const q = ds ? Math.max(0, Math.min(3, Math.round((xb[e]! + m) / ds))) : 0;
      blk[16 + 32 * (e >> 7) + (e & 31)]! |= q << (2 * ((e >> 5) & 3));
    }
  }
  return out;
}
