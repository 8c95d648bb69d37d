import { f16ToF32, f32ToF16 } from './f16.js';
import { signedAbsMax } from './block.js';

// Q6_K: super-blocks of 256 values = 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8
// sub-block scales, f16 d. value = d · scale_(16-value sub-block) · (q − 32), q in 0..63.

/** Index (within the 256) of the element stored at half h, lane l, quarter k (the ggml layout). */
function position(h: number, l: number, k: number): number {
  return h * 128 + k * 32 + l;
}

export function dequantizeQ6_K(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n / 256; b++) {
    const blk = src.subarray(b * 210, b * 210 + 210);
    const d = f16ToF32(blk[208]! | (blk[209]! << 8));
    const sc = new Int8Array(blk.buffer, blk.byteOffset + 192, 16);
    for (let h = 0; h < 2; h++) {
      const ql = blk.subarray(h * 64), qh = blk.subarray(128 + h * 32);
      for (let l = 0; l < 32; l++) {
        const is = h * 8 + (l >> 4);
        const q = [
          ((ql[l]! & 0xf) | ((qh[l]! & 3) << 4)) - 32,
          ((ql[l + 32]! & 0xf) | (((qh[l]! >> 2) & 3) << 4)) - 32,
          ((ql[l]! >> 4) | (((qh[l]! >> 4) & 3) << 4)) - 32,
          ((ql[l + 32]! >> 4) | (((qh[l]! >> 6) & 3) << 4)) - 32,
        ];
        for (let k = 0; k < 4; k++) out[b * 256 + position(h, l, k)] = d * sc[is + 2 * k]! * q[k]!;
      }
    }
  }
  return out;
}

/** A simple Q6_K encoder (per 16-value absmax scales). For test files. */
export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 256) * 210);
  for (let b = 0; b < x.length / 256; b++) {
    const xb = x.subarray(b * 256, b * 256 + 256);
    const subScale: number[] = [];
    for (let s = 0; s < 16; s++) subScale.push(Math.abs(signedAbsMax(xb, s * 16, 16)) / 31);
    const d = f16ToF32(f32ToF16(Math.max(...subScale) / 127));
    const blk = out.subarray(b * 210, b * 210 + 210);
    const sc = new Int8Array(blk.buffer, blk.byteOffset + 192, 16);
    for (let s = 0; s < 16; s++) sc[s] = d ? Math.min(127, Math.round(subScale[s]! / d)) : 0;
    const h16 = f32ToF16(d);
    blk[208] = h16 & 0xff;
    blk[209] = h16 >> 8;
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        for (let k = 0; k < 4; k++) {
          const pos = position(h, l, k);
          const is = h * 8 + (l >> 4) + 2 * k; // the sub-block scale index dequantization uses for this element
          const ds = d * sc[is]!;
          const q = ds ? Math.max(0, Math.min(63, Math.round(xb[pos]! / ds) + 32)) : 32;
          const qlIdx = h * 64 + l + (k & 1 ? 32 : 0);
          blk[qlIdx]! |= k < 2 ? q & 0xf : (q & 0xf) << 4;
          blk[128 + h * 32 + l]! |= (q >> 4) << (2 * k);
        }
      }
    }
  }
  return out;
}
