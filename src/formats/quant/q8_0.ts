import { f16ToF32, f32ToF16 } from './f16.js';

// Q8_0: blocks of 32 values, each block an f16 scale d and 32 int8 q; value = d · q.

export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    dv.setUint16(b * 34, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j]! * id;
      dv.setInt8(b * 34 + 2 + j, Math.sign(v) * Math.round(Math.abs(v))); // round half away from zero, like roundf
    }
  }
  return out;
}

export function dequantizeQ8_0(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < n / 32; b++) {
    const d = f16ToF32(dv.getUint16(b * 34, true));
    for (let j = 0; j < 32; j++) out[b * 32 + j] = d * dv.getInt8(b * 34 + 2 + j);
  }
  return out;
}
