import { f16ToF32, f32ToF16 } from '../formats/quant/f16.js';
import { dequantize } from '../formats/quant/index.js';
import { KVALUES_IQ4NL } from '../formats/quant/iq4.js';
import { q3kScale } from '../formats/quant/q3_k.js';
import { scaleMin } from '../formats/quant/q4_k.js';
import { byteSize, DType } from '../formats/tensor-types.js';
import { activationFormat, Q8_ACT_BLOCK, Q8_K_ACT_BLOCK, type Kernels } from './kernels.js';

/**
 * Plain TypeScript kernels over the same shared memory, for runtimes without WebAssembly SIMD, and as
 * an independent reference the WebAssembly kernels are tested against. Same arithmetic, ~10× slower.
 */
export function fallbackKernels(memory: WebAssembly.Memory): Kernels {
  const f32 = (p: number, n: number) => new Float32Array(memory.buffer, p, n);
  const u8 = (p: number, n: number) => new Uint8Array(memory.buffer, p, n);
  const row = (type: number, src: number, n: number) => dequantize(type as DType, u8(src, byteSize(type as DType, n)), n);
  /** A KV cache's rows as f32: read in place, or widened from f16. */
  const kvRows = (p: number, n: number, f16: number) => (f16 ? row(DType.F16, p, n) : f32(p, n));

  return {
    name: 'typescript',
    matmul(type, w, x, y, rows, cols, nt, r0, r1) {
      const rb = byteSize(type as DType, cols);
      const X = f32(x, nt * cols), Y = f32(y, nt * rows);
      for (let r = r0; r < r1; r++) {
        const wr = row(type, w + r * rb, cols);
        for (let t = 0; t < nt; t++) {
          let s = 0;
          for (let c = 0; c < cols; c++) s += wr[c]! * X[t * cols + c]!;
          Y[t * rows + r] = s;
        }
      }
    },
    quantizeRowsQ8_0(x, out, n, nt) {
      const X = f32(x, n * nt), O = new DataView(memory.buffer, out, (n / 32) * nt * Q8_ACT_BLOCK);
      for (let b = 0; b < (n / 32) * nt; b++) {
        let m = 0;
        for (let j = 0; j < 32; j++) m = Math.max(m, Math.abs(X[b * 32 + j]!));
        const d = Math.fround(m / 127);
        O.setFloat32(b * Q8_ACT_BLOCK, f16ToF32(f32ToF16(d)), true);
        const id = m !== 0 ? Math.fround(127 / m) : 0;
        let sum = 0;
        for (let j = 0; j < 32; j++) {
          const q = roundHalfEven(Math.fround(X[b * 32 + j]! * id));
          O.setInt16(b * Q8_ACT_BLOCK + 4 + 2 * j, q, true);
          sum += q;
        }
        O.setFloat32(b * Q8_ACT_BLOCK + 68, f16ToF32(f32ToF16(Math.fround(d * sum))), true);
      }
    },
    quantizeRowsQ8_K(x, out, n, nt) {
      const X = f32(x, n * nt), nb = (n / 256) * nt;
      u8(out, nb * Q8_K_ACT_BLOCK).fill(0);
      const O = new DataView(memory.buffer, out, nb * Q8_K_ACT_BLOCK);
      for (let b = 0; b < nb; b++) {
        // ggml's quantize_row_q8_K_ref: the first value of largest magnitude sets the (signed) scale.
        let amax = 0, max = 0;
        for (let j = 0; j < 256; j++) {
          const ax = Math.abs(X[b * 256 + j]!);
          if (ax > amax) { amax = ax; max = X[b * 256 + j]!; }
        }
        if (!amax) continue;
        const iscale = Math.fround(-127 / max), o = b * Q8_K_ACT_BLOCK;
        for (let g = 0; g < 16; g++) {
          let sum = 0;
          for (let i = 0; i < 16; i++) {
            const q = Math.min(127, roundHalfEven(Math.fround(iscale * X[b * 256 + 16 * g + i]!)));
            O.setInt16(o + 2 * (16 * g + Q8K_SLOT[i]!), q, true);
            sum += q;
          }
          O.setInt16(o + 512 + 2 * g, sum, true);
        }
        O.setFloat32(o + 544, Math.fround(1 / iscale), true);
      }
    },
    matmulQ8Act(type, w, xq, y, rows, cols, nt, r0, r1) {
      if (activationFormat(type) === 'q8_K') return matmulQ8K(type, new DataView(memory.buffer), w, xq, y, rows, cols, nt, r0, r1);
      const nb = cols / 32, wBlock = byteSize(type as DType, 32), hasMin = type === DType.Q4_1 || type === DType.Q5_1;
      const W = new DataView(memory.buffer, w, rows * nb * wBlock), XQ = new DataView(memory.buffer, xq, nt * nb * Q8_ACT_BLOCK), Y = f32(y, nt * rows);
      for (let r = r0; r < r1; r++) {
        for (let t = 0; t < nt; t++) {
          // Four lanes like the WebAssembly kernel: lane k sums elements j with ⌊(j mod 8)/2⌋ = k.
          const lanes = [0, 0, 0, 0];
          let mins = 0;
          for (let b = 0; b < nb; b++) {
            const wo = (r * nb + b) * wBlock, xo = (t * nb + b) * Q8_ACT_BLOCK;
            const qw = blockInts(type, W, wo);
            const scale = Math.fround(f16ToF32(W.getUint16(wo, true)) * XQ.getFloat32(xo, true));
            for (let k = 0; k < 4; k++) {
              let sum = 0;
              for (let j = 0; j < 32; j++) {
                if (Math.floor((j % 8) / 2) !== k) continue;
                sum += qw[j]! * XQ.getInt16(xo + 4 + 2 * j, true);
              }
              lanes[k] = Math.fround(lanes[k]! + Math.fround(sum * scale));
            }
            if (hasMin) mins = Math.fround(mins + Math.fround(f16ToF32(W.getUint16(wo + 2, true)) * XQ.getFloat32(xo + 68, true)));
          }
          const s = Math.fround(Math.fround(lanes[0]! + lanes[1]!) + Math.fround(lanes[2]! + lanes[3]!));
          Y[t * rows + r] = hasMin ? Math.fround(s + mins) : s;
        }
      }
    },
    dequantRow(type, src, dst, n) {
      f32(dst, n).set(row(type, src, n));
    },
    addBias(y, b, n, nt) {
      const Y = f32(y, n * nt), B = f32(b, n);
      for (let t = 0; t < nt; t++) for (let i = 0; i < n; i++) Y[t * n + i]! += B[i]!;
    },
    addInPlace(x, y, n) {
      const X = f32(x, n), Y = f32(y, n);
      for (let i = 0; i < n; i++) X[i]! += Y[i]!;
    },
    layerNorm(x, out, w, b, n, nt, eps) {
      const W = f32(w, n), B = b ? f32(b, n) : undefined;
      for (let t = 0; t < nt; t++) {
        const X = f32(x + t * n * 4, n), O = f32(out + t * n * 4, n);
        let mean = 0;
        for (let i = 0; i < n; i++) mean += X[i]!;
        mean /= n;
        let v = 0;
        for (let i = 0; i < n; i++) v += (X[i]! - mean) ** 2;
        const inv = Math.fround(1 / Math.sqrt(v / n + eps));
        const m = Math.fround(mean);
        for (let i = 0; i < n; i++) O[i] = (X[i]! - m) * inv * W[i]! + (B ? B[i]! : 0);
      }
    },
    rmsNorm(x, out, w, n, nt, eps) {
      const W = w ? f32(w, n) : undefined;
      for (let t = 0; t < nt; t++) {
        const X = f32(x + t * n * 4, n), O = f32(out + t * n * 4, n);
        let ss = 0;
        for (let i = 0; i < n; i++) ss += X[i]! * X[i]!;
        const inv = Math.fround(1 / Math.sqrt(ss / n + eps));
        for (let i = 0; i < n; i++) O[i] = X[i]! * inv * (W ? W[i]! : 1);
      }
    },
    geluTanh(x, n) {
      const X = f32(x, n);
      for (let i = 0; i < n; i++) {
        const v = X[i]!;
        X[i] = 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
      }
    },
    siluMul(g, u, n) {
      const G = f32(g, n), U = f32(u, n);
      for (let i = 0; i < n; i++) G[i] = Math.fround(G[i]! / (1 + Math.exp(-G[i]!))) * U[i]!;
    },
    geluMul(g, u, n) {
      const G = f32(g, n), U = f32(u, n);
      for (let i = 0; i < n; i++) {
        const v = G[i]!;
        G[i] = Math.fround(0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))) * U[i]!;
      }
    },
    rope(x, nt, nHeads, headDim, ropeDim, positions, invFreq, neox) {
      const X = f32(x, nt * nHeads * headDim), P = new Int32Array(memory.buffer, positions, nt), F = f32(invFreq, ropeDim / 2);
      const half = ropeDim / 2;
      for (let t = 0; t < nt; t++) {
        for (let i = 0; i < half; i++) {
          const theta = P[t]! * F[i]!;
          const c = Math.fround(Math.cos(theta)), s = Math.fround(Math.sin(theta));
          for (let h = 0; h < nHeads; h++) {
            const base = (t * nHeads + h) * headDim;
            const a = base + (neox ? i : 2 * i), b = base + (neox ? i + half : 2 * i + 1);
            const x0 = X[a]!, x1 = X[b]!;
            X[a] = x0 * c - x1 * s;
            X[b] = x0 * s + x1 * c;
          }
        }
      }
    },
    toF16(src, dst, n) {
      const X = f32(src, n), O = new Uint16Array(memory.buffer, dst, n);
      for (let i = 0; i < n; i++) O[i] = f32ToF16(X[i]!);
    },
    attnPattern(q, k, pattern, nt, nHead, nHeadKv, hd, pos0, kvStride, scale, window, softcap, kvF16) {
      const nKeys = pos0 + nt, group = nHead / nHeadKv;
      const Q = f32(q, nt * nHead * hd), K = kvRows(k, nKeys * kvStride, kvF16), A = f32(pattern, nHead * nt * nKeys);
      for (let h = 0; h < nHead; h++) {
        const kh = Math.floor(h / group);
        for (let t = 0; t < nt; t++) {
          const row = (h * nt + t) * nKeys, visible = pos0 + t + 1, from = window > 0 ? Math.max(0, visible - window) : 0;
          A.fill(0, row, row + from);
          let mx = -Infinity;
          for (let p = from; p < visible; p++) {
            let s = 0;
            for (let i = 0; i < hd; i++) s += Q[(t * nHead + h) * hd + i]! * K[p * kvStride + kh * hd + i]!;
            A[row + p] = s * scale;
            if (softcap > 0) A[row + p] = softcap * Math.tanh(A[row + p]! / softcap);
            mx = Math.max(mx, A[row + p]!);
          }
          let sum = 0;
          for (let p = from; p < visible; p++) { A[row + p] = Math.exp(A[row + p]! - mx); sum += A[row + p]!; }
          for (let p = from; p < visible; p++) A[row + p]! *= Math.fround(1 / sum);
          A.fill(0, row + visible, row + nKeys);
        }
      }
    },
    attnApply(pattern, v, z, nt, nHead, nHeadKv, hd, pos0, kvStride, window, kvF16) {
      const nKeys = pos0 + nt, group = nHead / nHeadKv;
      const V = kvRows(v, nKeys * kvStride, kvF16), A = f32(pattern, nHead * nt * nKeys), Z = f32(z, nt * nHead * hd);
      for (let h = 0; h < nHead; h++) {
        const vh = Math.floor(h / group);
        for (let t = 0; t < nt; t++) {
          const zr = (t * nHead + h) * hd, row = (h * nt + t) * nKeys;
          Z.fill(0, zr, zr + hd);
          for (let p = window > 0 ? Math.max(0, pos0 + t + 1 - window) : 0; p <= pos0 + t; p++) {
            const a = A[row + p]!;
            for (let i = 0; i < hd; i++) Z[zr + i]! += a * V[p * kvStride + vh * hd + i]!;
          }
        }
      }
    },
  };
}

const IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/**
 * The 32 integer weights of one block at byte wo, as matmulQ8Act multiplies them: Q8_0 q; Q4_0 q − 8;
 * Q4_1 q; Q5_0 q − 16; Q5_1 q; IQ4_NL table[q] (the scale, and Q4_1/Q5_1's min, are applied separately).
 */
function blockInts(type: number, W: DataView, wo: number): Int32Array {
  const q = new Int32Array(32);
  if (type === DType.Q8_0) {
    for (let j = 0; j < 32; j++) q[j] = W.getInt8(wo + 2 + j);
    return q;
  }
  const nib = type === DType.Q4_1 ? 4 : type === DType.Q5_0 ? 6 : type === DType.Q5_1 ? 8 : 2;
  const qh = type === DType.Q5_0 ? W.getUint32(wo + 2, true) : type === DType.Q5_1 ? W.getUint32(wo + 4, true) : 0;
  for (let j = 0; j < 32; j++) {
    const byte = W.getUint8(wo + nib + (j & 15));
    const v = (j < 16 ? byte & 0xf : byte >> 4) | (((qh >>> j) & 1) << 4);
    q[j] = type === DType.Q4_0 ? v - 8 : type === DType.Q5_0 ? v - 16 : type === DType.IQ4_NL ? IQ4NL[v]! : v;
  }
  return q;
}

// ---------------------------------------------------------------- Q8_K activations and the k-quants

/** Where value i of a group of 16 sits in a Q8_K activation block's group (stored v0 v8 v1 v9 … v7 v15). */
const Q8K_SLOT = Array.from({ length: 16 }, (_, i) => (i < 8 ? 2 * i : 2 * (i - 8) + 1));

/** One 256-value weight block as integers: value i = d·scale[i >> 4]·q[i] − dmin·min[i >> 4] (IQ4_XS: d·(ls[i >> 5] − 32)·q[i]). */
interface KBlock { q: Int32Array; scale: Int32Array; min: Int32Array; ls: Int32Array; d: number; dmin: number }

function kBlock(type: number, W: DataView, o: number): KBlock {
  const q = new Int32Array(256), scale = new Int32Array(16), min = new Int32Array(16), ls = new Int32Array(8);
  const byte = (i: number) => W.getUint8(o + i), f16 = (i: number) => f16ToF32(W.getUint16(o + i, true));
  const bytes = (from: number, n: number) => new Uint8Array(W.buffer, W.byteOffset + o + from, n);
  let d = 0, dmin = 0;
  if (type === DType.Q4_K || type === DType.Q5_K) {
    // d, dmin, 12 bytes of 6-bit (scale, min) pairs per 32; Q5_K: 32 bytes of fifth bits; 4-bit q, two sub-blocks per 32 bytes.
    d = f16(0); dmin = f16(2);
    const five = type === DType.Q5_K, qs = five ? 48 : 16;
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) {
        const b = byte(qs + 32 * j + l), h = five ? byte(16 + l) : 0;
        q[64 * j + l] = (b & 0xf) | (((h >> (2 * j)) & 1) << 4);
        q[64 * j + 32 + l] = (b >> 4) | (((h >> (2 * j + 1)) & 1) << 4);
      }
    }
    for (let g = 0; g < 16; g++) [scale[g], min[g]] = scaleMin(g >> 1, bytes(4, 12));
  } else if (type === DType.Q6_K) {
    // ql (128), qh (64), 16 int8 scales, d: q = low 4 | high 2 << 4, less 32.
    d = f16(208);
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const a = byte(64 * h + l), c = byte(64 * h + 32 + l), hb = byte(128 + 32 * h + l);
        q[128 * h + l] = ((a & 0xf) | ((hb & 3) << 4)) - 32;
        q[128 * h + 32 + l] = ((c & 0xf) | (((hb >> 2) & 3) << 4)) - 32;
        q[128 * h + 64 + l] = ((a >> 4) | (((hb >> 4) & 3) << 4)) - 32;
        q[128 * h + 96 + l] = ((c >> 4) | ((hb >> 6) << 4)) - 32;
      }
    }
    for (let g = 0; g < 16; g++) scale[g] = W.getInt8(o + 192 + g);
  } else if (type === DType.Q3_K || type === DType.Q2_K) {
    // 2 low bits of element e in byte 32·(e >> 7) + (e & 31) at bits 2·((e >> 5) & 3); Q3_K: a high bit
    // in hmask[e & 31] at bit e >> 5, q = low − (high ? 0 : 4).
    const three = type === DType.Q3_K, qs = three ? 32 : 16;
    for (let e = 0; e < 256; e++) {
      const low = (byte(qs + 32 * (e >> 7) + (e & 31)) >> (2 * ((e >> 5) & 3))) & 3;
      q[e] = three ? low - ((byte(e & 31) >> (e >> 5)) & 1 ? 0 : 4) : low;
    }
    if (three) {
      d = f16(108);
      for (let g = 0; g < 16; g++) scale[g] = q3kScale(bytes(96, 12), g);
    } else {
      d = f16(80); dmin = f16(82);
      for (let g = 0; g < 16; g++) { scale[g] = byte(g) & 0xf; min[g] = byte(g) >> 4; }
    }
  } else if (type === DType.IQ4_XS) {
    d = f16(0);
    const sh = W.getUint16(o + 2, true);
    for (let ib = 0; ib < 8; ib++) {
      ls[ib] = ((byte(4 + (ib >> 1)) >> (4 * (ib & 1))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
      for (let j = 0; j < 16; j++) {
        q[32 * ib + j] = KVALUES_IQ4NL[byte(8 + 16 * ib + j) & 0xf]!;
        q[32 * ib + 16 + j] = KVALUES_IQ4NL[byte(8 + 16 * ib + j) >> 4]!;
      }
    }
  } else {
    throw new Error(`no Q8_K matmul for type ${type}`);
  }
  return { q, scale, min, ls, d, dmin };
}

/**
 * The k-quants and IQ4_XS on Q8_K activations, in ggml's generic C order (ggml_vec_dot_*_q8_K_generic):
 * exact integer sums per block, every f32 operation rounded (see wasm/kquants.ts).
 */
function matmulQ8K(type: number, M: DataView, w: number, xq: number, y: number, rows: number, cols: number, nt: number, r0: number, r1: number): void {
  const nb = cols / 256, wBlock = byteSize(type as DType, 256), f = Math.fround;
  const Y = new Float32Array(M.buffer, y, nt * rows);
  const lanes8 = type === DType.Q3_K || type === DType.Q4_K || type === DType.Q5_K || type === DType.Q6_K;
  for (let r = r0; r < r1; r++) {
    const blocks = Array.from({ length: nb }, (_, b) => kBlock(type, M, w + (r * nb + b) * wBlock));
    for (let t = 0; t < nt; t++) {
      const sums = [0, 0, 0, 0, 0, 0, 0, 0];
      let sumf = 0;
      blocks.forEach((k, b) => {
        const xo = xq + (t * nb + b) * Q8_K_ACT_BLOCK, xd = M.getFloat32(xo + 544, true);
        const x = (i: number) => M.getInt16(xo + 2 * (16 * (i >> 4) + Q8K_SLOT[i & 15]!), true);
        let summs = 0;
        for (let g = 0; g < 16; g++) summs += M.getInt16(xo + 512 + 2 * g, true) * k.min[g]!;
        if (lanes8) {
          const aux = new Int32Array(8);
          for (let i = 0; i < 256; i++) aux[i & 7]! += k.scale[i >> 4]! * k.q[i]! * x(i);
          const dd = f(k.d * xd);
          for (let l = 0; l < 8; l++) sums[l] = f(sums[l]! + f(dd * f(aux[l]!)));
          if (type === DType.Q4_K || type === DType.Q5_K) sumf = f(sumf - f(f(k.dmin * xd) * f(summs)));
        } else if (type === DType.Q2_K) {
          let isum = 0;
          for (let i = 0; i < 256; i++) isum += k.scale[i >> 4]! * k.q[i]! * x(i);
          sumf = f(sumf + f(f(f(xd * k.d) * f(isum)) - f(f(xd * k.dmin) * f(summs))));
        } else {
          const d4d8 = f(k.d * xd);
          for (let ib = 0; ib < 8; ib++) {
            let sumi = 0;
            for (let i = 32 * ib; i < 32 * ib + 32; i++) sumi += k.q[i]! * x(i);
            sumf = f(sumf + f(f(d4d8 * (k.ls[ib]! - 32)) * f(sumi)));
          }
        }
      });
      if (lanes8) for (let l = 0; l < 8; l++) sumf = f(sumf + sums[l]!);
      Y[t * rows + r] = sumf;
    }
  }
}

/** Round to nearest, ties to even (what SIMD rounding does, and llama.cpp's AVX quantizer). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
