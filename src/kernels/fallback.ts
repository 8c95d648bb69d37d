import { f16ToF32, f32ToF16 } from '../formats/quant/f16.js';
import { dequantize } from '../formats/quant/index.js';
import { byteSize, DType } from '../formats/tensor-types.js';
import { Q8_ACT_BLOCK, type Kernels } from './kernels.js';

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
    matmulQ8Act(type, w, xq, y, rows, cols, nt, r0, r1) {
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

/** Round to nearest, ties to even (what SIMD rounding does, and llama.cpp's AVX quantizer). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
