import { f16ToF32, f32ToF16 } from './f16.js';
import { signedAbsMax } from './block.js';

// Q5_0: blocks of 32 values = f16 scale d, 4 bytes qh (bit j = the fifth bit of element j, little
// endian), 16 bytes of low nibbles (element j low, element j+16 high, as Q4_0); value = d · (q − 16).

export function dequantizeQ5_0(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < n / 32; b++) {
    const d = f16ToF32(dv.getUint16(b * 22, true)), qh = dv.getUint32(b * 22 + 2, true);
    for (let j = 0; j < 16; j++) {
      const byte = src[b * 22 + 6 + j]!;
      out[b * 32 + j] = (((byte & 0xf) | (((qh >>> j) & 1) << 4)) - 16) * d;
      out[b * 32 + j + 16] = (((byte >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
  return out;
}

/** As ggml's reference: the value of largest magnitude (with its sign) maps to −16. */
export function quantizeQ5_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 22);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const d = signedAbsMax(x, b * 32, 32) / -16, id = d ? 1 / d : 0;
    dv.setUint16(b * 22, f32ToF16(d), true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(31, Math.trunc(x[b * 32 + j]! * id + 16.5));
      const hi = Math.min(31, Math.trunc(x[b * 32 + j + 16]! * id + 16.5));
      out[b * 22 + 6 + j] = (lo & 0xf) | ((hi & 0xf) << 4);
      qh |= ((lo >> 4) << j) | ((hi >> 4) << (j + 16));
    }
    dv.setUint32(b * 22 + 2, qh >>> 0, true);
  }
  return out;
}
