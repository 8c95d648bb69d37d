import { f16ToF32, f32ToF16 } from './f16.js';
import { subBlockRanges } from './block.js';
import { packScaleMin, scaleMin } from './q4_k.js';

// Q5_K: super-blocks of 256 values = f16 d, f16 dmin, 12 bytes of eight 6-bit (scale, min) pairs (as
// Q4_K), 32 bytes qh, 128 bytes of low nibbles. Sub-block s (32 values) is value = d·scale_s·q − dmin·min_s,
// q in 0..31: sub-blocks 2i and 2i+1 take the low and high nibbles of bytes 32i..32i+31, and their fifth
// bits from bits 2i and 2i+1 of qh[l].

export function dequantizeQ5_K(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n / 256; b++) {
    const blk = src.subarray(b * 176, b * 176 + 176);
    const d = f16ToF32(blk[0]! | (blk[1]! << 8)), dmin = f16ToF32(blk[2]! | (blk[3]! << 8));
    const sc = blk.subarray(4, 16), qh = blk.subarray(16, 48), ql = blk.subarray(48);
    for (let s = 0; s < 8; s++) {
      const [scale, min] = scaleMin(s, sc);
      const ds = d * scale, m = dmin * min; // exact in f32 (11 × 6 bits)
      for (let l = 0; l < 32; l++) {
        const byte = ql[(s >> 1) * 32 + l]!;
        const q = (s & 1 ? byte >> 4 : byte & 0xf) | (((qh[l]! >> s) & 1) << 4);
        out[b * 256 + s * 32 + l] = ds * q - m;
      }
    }
  }
  return out;
}

/** A simple Q5_K encoder: per sub-block min/max, 6-bit scales and mins. For test files. */
export function quantizeQ5_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 256) * 176);
  for (let b = 0; b < x.length / 256; b++) {
    const xb = x.subarray(b * 256, b * 256 + 256);
    const { scales, mins } = subBlockRanges(xb, 8, 31);
    const d = f16ToF32(f32ToF16(Math.max(...scales) / 63)), dmin = f16ToF32(f32ToF16(Math.max(...mins) / 63));
    const ls = scales.map((v) => (d ? Math.min(63, Math.round(v / d)) : 0));
    const lm = mins.map((v) => (dmin ? Math.min(63, Math.round(v / dmin)) : 0));
    const blk = out.subarray(b * 176, b * 176 + 176);
    const dh = f32ToF16(d), mh = f32ToF16(dmin);
    blk[0] = dh & 0xff; blk[1] = dh >> 8; blk[2] = mh & 0xff; blk[3] = mh >> 8;
    packScaleMin(ls, lm, blk.subarray(4, 16));
    for (let s = 0; s < 8; s++) {
      const ds = d * ls[s]!, m = dmin * lm[s]!;
      for (let l = 0; l < 32; l++) {
        const q = ds ? Math.max(0, Math.min(31, Math.round((xb[s * 32 + l]! + m) / ds))) : 0;
        blk[48 + (s >> 1) * 32 + l]! |= s & 1 ? (q & 0xf) << 4 : q & 0xf;
        blk[16 + l]! |= (q >> 4) << s;
      }
    }
  }
  return out;
}
