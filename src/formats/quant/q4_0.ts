import { f16ToF32, f32ToF16 } from './f16.js';
import { signedAbsMax } from './block.js';

// Q4_0: blocks of 32 values: an f16 scale d and 16 bytes of 4-bit q (element j in the low nibble of
// byte j, element j+16 in its high nibble); value = d · (q − 8).

export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    // The scale maps the value of largest magnitude (with its sign) to −8, as ggml's reference does.
    const d = signedAbsMax(x, b * 32, 32) / -8;
    const id = d ? 1 / d : 0;
    dv.setUint16(b * 18, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(x[b * 32 + j]! * id + 8.5));
      const hi = Math.min(15, Math.trunc(x[b * 32 + j + 16]! * id + 8.5));
      out[b * 18 + 2 + j] = lo | (hi << 4);
    }
  }
  return out;
}

export function dequantizeQ4_0(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < n / 32; b++) {
    const d = f16ToF32(dv.getUint16(b * 18, true));
    for (let j = 0; j < 16; j++) {
      const byte = src[b * 18 + 2 + j]!;
      out[b * 32 + j] = d * ((byte & 0xf) - 8);
      out[b * 32 + j + 16] = d * ((byte >> 4) - 8);
    }
  }
  return out;
}
