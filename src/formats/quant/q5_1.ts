import { f16ToF32 } from './f16.js';
import { offsetScale } from './block.js';

// Q5_1: blocks of 32 values = f16 scale d, f16 min m, 4 bytes qh (fifth bits, as Q5_0), 16 bytes of
// low nibbles; value = q·d + m, q in 0..31.

export function dequantizeQ5_1(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < n / 32; b++) {
    const o = b * 24;
    const d = f16ToF32(dv.getUint16(o, true)), m = f16ToF32(dv.getUint16(o + 2, true)), qh = dv.getUint32(o + 4, true);
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 8 + j]!;
      out[b * 32 + j] = ((byte & 0xf) | (((qh >>> j) & 1) << 4)) * d + m;
      out[b * 32 + j + 16] = ((byte >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
    }
  }
  return out;
}

/** Per block: m = the minimum, d = range / 31 (rounded to f16 first; q rounds against them). */
export function quantizeQ5_1(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 24);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(b * 32, b * 32 + 32), o = b * 24;
    const { dh, mh, q } = offsetScale(xb, 31);
    dv.setUint16(o, dh, true);
    dv.setUint16(o + 2, mh, true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const a = q(xb[j]!), c = q(xb[j + 16]!);
      out[o + 8 + j] = (a & 0xf) | ((c & 0xf) << 4);
      qh |= ((a >> 4) << j) | ((c >> 4) << (j + 16));
    }
    dv.setUint32(o + 4, qh >>> 0, true);
  }
  return out;
}
