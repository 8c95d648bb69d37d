import { f16ToF32, f32ToF16 } from './f16.js';
import { signedAbsMax } from './block.js';

// Q3_K: super-blocks of 256 values = 32 bytes hmask, 64 bytes of 2-bit low q, 12 bytes of sixteen
// 6-bit scales, f16 d. value = d·(scale − 32)·q, q = low2 − (high bit set ? 0 : 4) in −4..3.
// Element e: low bits as Q2_K (byte 32·(e >> 7) + (e & 31), bits 2·((e >> 5) & 3)), high bit in
// hmask[e & 31] at bit e >> 5; sub-block e >> 4. Scale s: low 4 bits in byte s & 7 (low nibble for
// s < 8, high nibble above), high 2 bits in byte 8 + (s & 3) at bits 2·(s >> 2).

export function q3kScale(sc: Uint8Array, s: number): number {
  const low = s < 8 ? sc[s]! & 0xf : sc[s - 8]! >> 4;
  return (low | (((sc[8 + (s & 3)]! >> (2 * (s >> 2))) & 3) << 4)) - 32;
}

export function dequantizeQ3_K(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n / 256; b++) {
    const blk = src.subarray(b * 110, b * 110 + 110);
    const d = f16ToF32(blk[108]! | (blk[109]! << 8));
    const sc = blk.subarray(96, 108);
    for (let e = 0; e < 256; e++) {
      const low = (blk[32 + 32 * (e >> 7) + (e & 31)]! >> (2 * ((e >> 5) & 3))) & 3;
      const high = (blk[e & 31]! >> (e >> 5)) & 1;
      out[b * 256 + e] = d * q3kScale(sc, e >> 4) * (low - (high ? 0 : 4));
    }
  }
  return out;
}

/** A simple Q3_K encoder: per 16 values the one of largest magnitude maps to −4; signed 6-bit scales. */
export function quantizeQ3_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 256) * 110);
  for (let b = 0; b < x.length / 256; b++) {
    const xb = x.subarray(b * 256, b * 256 + 256);
    const sub: number[] = [];
    for (let s = 0; s < 16; s++) sub.push(signedAbsMax(xb, s * 16, 16) / -4);
    const d = f16ToF32(f32ToF16(Math.max(...sub.map(Math.abs)) / 31));
    const ls = sub.map((v) => (d ? Math.max(-32, Math.min(31, Math.round(v / d))) : 0));
    const blk = out.subarray(b * 110, b * 110 + 110);
    const sc = blk.subarray(96, 108);
    for (let s = 0; s < 16; s++) {
      const u = ls[s]! + 32;
      sc[s & 7]! |= s < 8 ? u & 0xf : (u & 0xf) << 4;
      sc[8 + (s & 3)]! |= (u >> 4) << (2 * (s >> 2));
    }
    const dh = f32ToF16(d);
    blk[108] = dh & 0xff; blk[109] = dh >> 8;
    for (let e = 0; e < 256; e++) {
      const dl = d * ls[e >> 4]!;
      const u = (dl ? Math.max(-4, Math.min(3, Math.round(xb[e]! / dl))) : 0) + 4;
      blk[32 + 32 * (e >> 7) + (e & 31)]! |= (u & 3) << (2 * ((e >> 5) & 3));
      blk[e & 31]! |= (u >> 2) << (e >> 5);
    }
  }
  return out;
}
