import { f16ToF32 } from './f16.js';
import { offsetScale } from './block.js';

// Q4_1: blocks of 32 values = f16 scale d, f16 min m, 16 bytes of 4-bit q (element j in the low nibble
// of byte j, element j+16 in its high nibble); value = q·d + m, q in 0..15. (The products are exact in
// f32, so one rounding — of the sum — as in ggml.)

export function dequantizeQ4_1(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < n / 32; b++) {
    const d = f16ToF32(dv.getUint16(b * 20, true)), m = f16ToF32(dv.getUint16(b * 20 + 2, true));
    for (let j = 0; j < 16; j++) {
      const byte = src[b * 20 + 4 + j]!;
      out[b * 32 + j] = (byte & 0xf) * d + m;
      out[b * 32 + j + 16] = (byte >> 4) * d + m;
    }
  }
  return out;
}

/** Per block: m = the minimum, d = range / 15 (both rounded to f16 first, then q rounds against them). */
export function quantizeQ4_1(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 20);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(b * 32, b * 32 + 32);
    const { dh, mh, q } = offsetScale(xb, 15);
    dv.setUint16(b * 20, dh, true);
    dv.setUint16(b * 20 + 2, mh, true);
    for (let j = 0; j < 16; j++) out[b * 20 + 4 + j] = q(xb[j]!) | (q(xb[j + 16]!) << 4);
  }
  return out;
}
