import { f16ToF32, f32ToF16 } from './f16.js';

// IQ4_NL and IQ4_XS: 4-bit indices into a fixed non-linear table of 16 int8 levels.
export const KVALUES_IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113] as const;

// IQ4_NL: blocks of 32 = f16 d, 16 bytes (element j low nibble, j+16 high nibble); value = d · table[q].
// IQ4_XS: super-blocks of 256 = f16 d, u16 scales_h, 4 bytes scales_l, 128 bytes of nibbles; sub-block
// ib (32 values) has a 6-bit scale ls (low 4 bits: nibble ib & 1 of scales_l[ib >> 1]; high 2: bits
// 2ib..2ib+1 of scales_h), value = d·(ls − 32)·table[q], its nibbles in bytes 16ib.. as IQ4_NL's.

export function dequantizeIQ4_NL(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n / 32; b++) {
    const o = b * 18, d = f16ToF32(src[o]! | (src[o + 1]! << 8));
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 2 + j]!;
      out[b * 32 + j] = d * KVALUES_IQ4NL[byte & 0xf]!;
      out[b * 32 + j + 16] = d * KVALUES_IQ4NL[byte >> 4]!;
    }
  }
  return out;
}

export function dequantizeIQ4_XS(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n / 256; b++) {
    const o = b * 136;
    const d = f16ToF32(src[o]! | (src[o + 1]! << 8)), sh = src[o + 2]! | (src[o + 3]! << 8);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((src[o + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
      const dl = d * (ls - 32); // exact in f32; so is dl · table[q]
      for (let j = 0; j < 16; j++) {
        const byte = src[o + 8 + 16 * ib + j]!;
        out[b * 256 + 32 * ib + j] = dl * KVALUES_IQ4NL[byte & 0xf]!;
        out[b * 256 + 32 * ib + j + 16] = dl * KVALUES_IQ4NL[byte >> 4]!;
      }
    }
  }
  return out;
}

/** The index of the table level nearest v / d. */
function nearest(v: number, d: number): number {
  if (!d) return 8; // level 1 is the one nearest 0
  let best = 0, err = Infinity;
  for (let k = 0; k < 16; k++) {
    const e = Math.abs(v - d * KVALUES_IQ4NL[k]!);
    if (e < err) { err = e; best = k; }
  }
  return best;
}

/** Signed scale mapping the largest-magnitude value of xs to the table's −127. */
function signedScale(xs: Float32Array): number {
  let amax = 0, max = 0;
  for (const v of xs) if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
  return max / -127;
}

/** Simple IQ4_NL encoder: the largest-magnitude value maps to −127·d, every value to its nearest level. */
export function quantizeIQ4_NL(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(b * 32, b * 32 + 32), o = b * 18;
    const dh = f32ToF16(signedScale(xb)), d = f16ToF32(dh);
    out[o] = dh & 0xff; out[o + 1] = dh >> 8;
    for (let j = 0; j < 16; j++) out[o + 2 + j] = nearest(xb[j]!, d) | (nearest(xb[j + 16]!, d) << 4);
  }
  return out;
}

/** Simple IQ4_XS encoder: per-32 signed scales as IQ4_NL's, quantized to 6 bits against d = max|scale| / 31. */
export function quantizeIQ4_XS(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 256) * 136);
  for (let b = 0; b < x.length / 256; b++) {
    const xb = x.subarray(b * 256, b * 256 + 256), o = b * 136;
    const sub = Array.from({ length: 8 }, (_, ib) => signedScale(xb.subarray(32 * ib, 32 * ib + 32)));
    const dh = f32ToF16(Math.max(...sub.map(Math.abs)) / 31), d = f16ToF32(dh);
    out[o] = dh & 0xff; out[o + 1] = dh >> 8;
    let sh = 0;
    for (let ib = 0; ib < 8; ib++) {
      const ls = (d ? Math.max(-32, Math.min(31, Math.round(sub[ib]! / d))) : 0) + 32;
      out[o + 4 + (ib >> 1)]! |= (ls & 0xf) << (4 * (ib & 1));
      sh |= (ls >> 4) << (2 * ib);
      const dl = d * (ls - 32);
      for (let j = 0; j < 16; j++) {
        out[o + 8 + 16 * ib + j] = nearest(xb[32 * ib + j]!, dl) | (nearest(xb[32 * ib + j + 16]!, dl) << 4);
      }
    }
    out[o + 2] = sh & 0xff; out[o + 3] = sh >> 8;
  }
  return out;
}
