import { f16ToF32, f32ToF16 } from './f16.js';
import { subBlockRanges } from './block.js';

// Q4_K: super-blocks of 256 values = f16 d, f16 dmin, 12 bytes packing eight 6-bit (scale, min) pairs,
// then 128 bytes of 4-bit q. Sub-block s (32 values) is value = d·scale_s·q − dmin·min_s. Sub-blocks
// 2i and 2i+1 share bytes 32i..32i+31 of q (low and high nibbles).

/** Sub-block j's 6-bit (scale, min) from the 12 packed bytes (ggml's get_scale_min_k4; Q4_K and Q5_K). */
export function scaleMin(j: number, sc: Uint8Array): [number, number] {
  if (j < 4) return [sc[j]! & 63, sc[j + 4]! & 63];
  return [(sc[j + 4]! & 0xf) | ((sc[j - 4]! >> 6) << 4), (sc[j + 4]! >> 4) | ((sc[j]! >> 6) << 4)];
}

export function dequantizeQ4_K(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n / 256; b++) {
    const blk = src.subarray(b * 144, b * 144 + 144);
    const dv = new DataView(blk.buffer, blk.byteOffset, 144);
    const d = f16ToF32(dv.getUint16(0, true)), dmin = f16ToF32(dv.getUint16(2, true));
    const sc = blk.subarray(4, 16), q = blk.subarray(16);
    for (let s = 0; s < 8; s++) {
      const [scale, min] = scaleMin(s, sc);
      for (let l = 0; l < 32; l++) {
        const byte = q[(s >> 1) * 32 + l]!;
        out[b * 256 + s * 32 + l] = d * scale * (s & 1 ? byte >> 4 : byte & 0xf) - dmin * min;
      }
    }
  }
  return out;
}

/** A simple (not error-optimal) Q4_K encoder: per sub-block min/max, 6-bit scales. For test files. */
export function quantizeQ4_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 256) * 144);
  for (let b = 0; b < x.length / 256; b++) {
    const { scales, mins } = subBlockRanges(x.subarray(b * 256, b * 256 + 256), 8, 15);
    const maxScale = Math.max(...scales), maxMin = Math.max(...mins);
    const d = f16ToF32(f32ToF16(maxScale / 63)), dmin = f16ToF32(f32ToF16(maxMin / 63));
    const ls = scales.map((v) => (d ? Math.min(63, Math.round(v / d)) : 0));
    const lm = mins.map((v) => (dmin ? Math.min(63, Math.round(v / dmin)) : 0));
    const blk = out.subarray(b * 144, b * 144 + 144);
    const dv = new DataView(blk.buffer, blk.byteOffset, 144);
    dv.setUint16(0, f32ToF16(d), true);
    dv.setUint16(2, f32ToF16(dmin), true);
    packScaleMin(ls, lm, blk.subarray(4, 16));
    for (let s = 0; s < 8; s++) {
      const ds = d * ls[s]!, m = dmin * lm[s]!;
      for (let l = 0; l < 32; l++) {
        const q = ds ? Math.max(0, Math.min(15, Math.round((x[b * 256 + s * 32 + l]! + m) / ds))) : 0;
        blk[16 + (s >> 1) * 32 + l]! |= s & 1 ? q << 4 : q;
      }
    }
  }
  return out;
}

/** Packs eight 6-bit scales and mins into 12 bytes (the inverse of scaleMin; Q4_K and Q5_K). */
export function packScaleMin(ls: number[], lm: number[], sc: Uint8Array): void {
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      sc[j] = ls[j]!;
      sc[j + 4] = lm[j]!;
    } else {
      sc[j + 4] = (ls[j]! & 0xf) | ((lm[j]! & 0xf) << 4);
      sc[j - 4]! |= (ls[j]! >> 4) << 6;
      sc[j]! |= (lm[j]! >> 4) << 6;
    }
  }
}
