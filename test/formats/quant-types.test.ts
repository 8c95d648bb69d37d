import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dequantize, quantize } from '../../src/formats/quant/index.js';
import { DType, blockSize, byteSize, dtypeName } from '../../src/formats/tensor-types.js';
import { fallbackKernels } from '../../src/kernels/fallback.js';
import { Heap } from '../../src/kernels/heap.js';
import { activationFormat, matmulScratchBytes, Q8_ACT_BLOCK, Q8_K_ACT_BLOCK, takesQ8Activations } from '../../src/kernels/kernels.js';
import { instantiateWasmKernels } from '../../src/kernels/wasm.js';
import { Rng } from '../../src/sampling/rng.js';
import { putOnHeap } from '../helpers.js';

// The eight GGUF types added after F32/F16/BF16/Q8_0/Q4_0/Q4_K/Q6_K: Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K,
// IQ4_NL, IQ4_XS. Their dequantization is checked bit for bit against an independent reference written
// here, line for line from ggml's dequantize_row_* (ggml-quants.c) and block layouts (ggml-common.h),
// with every f32 operation rounded as C rounds it; then the encoders' round trip, and the matmul kernels.
const TYPES = [DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q2_K, DType.Q3_K, DType.Q5_K, DType.IQ4_NL, DType.IQ4_XS] as const;

// ---------------------------------------------------------------- the reference, from the ggml source

const f = Math.fround;
const kvalues_iq4nl = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** IEEE half → f32, built from the bits (not Wander's f16ToF32). */
function fp16(h: number): number {
  const b = new DataView(new ArrayBuffer(4));
  const sign = (h >> 15) & 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return (sign ? -1 : 1) * m * 2 ** -24; // subnormal (or zero), exact
  b.setUint32(0, (sign << 31) | ((e - 15 + 127) << 23) | (m << 13));
  return b.getFloat32(0);
}

type Ref = (x: Uint8Array, k: number) => Float32Array;
const view = (x: Uint8Array) => new DataView(x.buffer, x.byteOffset, x.byteLength);

const REF: Record<(typeof TYPES)[number], Ref> = {
  // block_q4_1 { half d; half m; uint8 qs[16]; }
  [DType.Q4_1]: (x, k) => {
    const v = view(x), y = new Float32Array(k);
    for (let i = 0; i < k / 32; i++) {
      const o = i * 20, d = fp16(v.getUint16(o, true)), m = fp16(v.getUint16(o + 2, true));
      for (let j = 0; j < 16; j++) {
        const x0 = x[o + 4 + j]! & 0x0f, x1 = x[o + 4 + j]! >> 4;
        y[i * 32 + j] = f(f(x0 * d) + m);
        y[i * 32 + j + 16] = f(f(x1 * d) + m);
      }
    }
    return y;
  },
  // block_q5_0 { half d; uint8 qh[4]; uint8 qs[16]; }
  [DType.Q5_0]: (x, k) => {
    const v = view(x), y = new Float32Array(k);
    for (let i = 0; i < k / 32; i++) {
      const o = i * 22, d = fp16(v.getUint16(o, true)), qh = v.getUint32(o + 2, true);
      for (let j = 0; j < 16; j++) {
        const xh_0 = ((qh >>> j) << 4) & 0x10, xh_1 = (qh >>> (j + 12)) & 0x10;
        const x0 = ((x[o + 6 + j]! & 0x0f) | xh_0) - 16, x1 = ((x[o + 6 + j]! >> 4) | xh_1) - 16;
        y[i * 32 + j] = f(x0 * d);
        y[i * 32 + j + 16] = f(x1 * d);
      }
    }
    return y;
  },
  // block_q5_1 { half d; half m; uint8 qh[4]; uint8 qs[16]; }
  [DType.Q5_1]: (x, k) => {
    const v = view(x), y = new Float32Array(k);
    for (let i = 0; i < k / 32; i++) {
      const o = i * 24, d = fp16(v.getUint16(o, true)), m = fp16(v.getUint16(o + 2, true)), qh = v.getUint32(o + 4, true);
      for (let j = 0; j < 16; j++) {
        const xh_0 = ((qh >>> j) << 4) & 0x10, xh_1 = (qh >>> (j + 12)) & 0x10;
        const x0 = (x[o + 8 + j]! & 0x0f) | xh_0, x1 = (x[o + 8 + j]! >> 4) | xh_1;
        y[i * 32 + j] = f(f(x0 * d) + m);
        y[i * 32 + j + 16] = f(f(x1 * d) + m);
      }
    }
    return y;
  },
  // block_q2_K { uint8 scales[16]; uint8 qs[64]; half d; half dmin; }
  [DType.Q2_K]: (x, k) => {
    const v = view(x), y = new Float32Array(k);
    let yi = 0;
    for (let i = 0; i < k / 256; i++) {
      const o = i * 84, d = fp16(v.getUint16(o + 80, true)), min = fp16(v.getUint16(o + 82, true));
      let q = o + 16, is = 0;
      for (let n = 0; n < 256; n += 128) {
        let shift = 0;
        for (let j = 0; j < 4; ++j) {
          let sc = x[o + is++]!;
          let dl = f(d * (sc & 0xf)), ml = f(min * (sc >> 4));
          for (let l = 0; l < 16; ++l) y[yi++] = f(f(dl * ((x[q + l]! >> shift) & 3)) - ml);
          sc = x[o + is++]!;
          dl = f(d * (sc & 0xf)); ml = f(min * (sc >> 4));
          for (let l = 0; l < 16; ++l) y[yi++] = f(f(dl * ((x[q + l + 16]! >> shift) & 3)) - ml);
          shift += 2;
        }
        q += 32;
      }
    }
    return y;
  },
  // block_q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; }
  [DType.Q3_K]: (x, k) => {
    const v = view(x), y = new Float32Array(k);
    const kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
    let yi = 0;
    for (let i = 0; i < k / 256; i++) {
      const o = i * 110, d_all = fp16(v.getUint16(o + 108, true));
      const aux = new Uint32Array([v.getUint32(o + 96, true), v.getUint32(o + 100, true), v.getUint32(o + 104, true), 0]);
      const tmp = aux[2]!;
      aux[2] = ((aux[0]! >>> 4) & kmask2) | (((tmp >>> 4) & kmask1) << 4);
      aux[3] = ((aux[1]! >>> 4) & kmask2) | (((tmp >>> 6) & kmask1) << 4);
      aux[0] = (aux[0]! & kmask2) | (((tmp >>> 0) & kmask1) << 4);
      aux[1] = (aux[1]! & kmask2) | (((tmp >>> 2) & kmask1) << 4);
      const scales = new Int8Array(aux.buffer); // little-endian, as on every machine ggml runs on here
      let q = o + 32, m = 1, is = 0;
      const hm = o;
      for (let n = 0; n < 256; n += 128) {
        let shift = 0;
        for (let j = 0; j < 4; ++j) {
          let dl = f(d_all * (scales[is++]! - 32));
          for (let l = 0; l < 16; ++l) y[yi++] = f(dl * (((x[q + l]! >> shift) & 3) - (x[hm + l]! & m ? 0 : 4)));
          dl = f(d_all * (scales[is++]! - 32));
          for (let l = 0; l < 16; ++l) y[yi++] = f(dl * (((x[q + l + 16]! >> shift) & 3) - (x[hm + l + 16]! & m ? 0 : 4)));
          shift += 2;
          m <<= 1;
        }
        q += 32;
      }
    }
    return y;
  },
  // block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }
  [DType.Q5_K]: (x, k) => {
    const v = view(x), y = new Float32Array(k);
    let yi = 0;
    for (let i = 0; i < k / 256; i++) {
      const o = i * 176, d = fp16(v.getUint16(o, true)), min = fp16(v.getUint16(o + 2, true));
      const scales = x.subarray(o + 4, o + 16), qh = o + 16;
      const get_scale_min_k4 = (j: number): [number, number] => j < 4
        ? [scales[j]! & 63, scales[j + 4]! & 63]
        : [(scales[j + 4]! & 0xf) | ((scales[j - 4]! >> 6) << 4), (scales[j + 4]! >> 4) | ((scales[j]! >> 6) << 4)];
      let ql = o + 48, is = 0, u1 = 1, u2 = 2;
      for (let j = 0; j < 256; j += 64) {
        let [sc, m] = get_scale_min_k4(is + 0);
        const d1 = f(d * sc), m1 = f(min * m);
        [sc, m] = get_scale_min_k4(is + 1);
        const d2 = f(d * sc), m2 = f(min * m);
        for (let l = 0; l < 32; ++l) y[yi++] = f(f(d1 * ((x[ql + l]! & 0xf) + (x[qh + l]! & u1 ? 16 : 0))) - m1);
        for (let l = 0; l < 32; ++l) y[yi++] = f(f(d2 * ((x[ql + l]! >> 4) + (x[qh + l]! & u2 ? 16 : 0))) - m2);
        ql += 32; is += 2;
        u1 <<= 2; u2 <<= 2;
      }
    }
    return y;
  },
  // block_iq4_nl { half d; uint8 qs[16]; }
  [DType.IQ4_NL]: (x, k) => {
    const v = view(x), y = new Float32Array(k);
    for (let i = 0; i < k / 32; i++) {
      const o = i * 18, d = fp16(v.getUint16(o, true));
      for (let j = 0; j < 16; ++j) {
        y[i * 32 + j] = f(d * kvalues_iq4nl[x[o + 2 + j]! & 0xf]!);
        y[i * 32 + j + 16] = f(d * kvalues_iq4nl[x[o + 2 + j]! >> 4]!);
      }
    }
    return y;
  },
  // block_iq4_xs { half d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]; }
  [DType.IQ4_XS]: (x, k) => {
    const v = view(x), y = new Float32Array(k);
    for (let i = 0; i < k / 256; i++) {
      const o = i * 136, d = fp16(v.getUint16(o, true)), scales_h = v.getUint16(o + 2, true);
      let qs = o + 8;
      for (let ib = 0; ib < 8; ++ib) {
        const ls = ((x[o + 4 + (ib >> 1)]! >> (4 * (ib % 2))) & 0xf) | (((scales_h >> (2 * ib)) & 3) << 4);
        const dl = f(d * (ls - 32));
        for (let j = 0; j < 16; ++j) {
          y[i * 256 + ib * 32 + j] = f(dl * kvalues_iq4nl[x[qs + j]! & 0xf]!);
          y[i * 256 + ib * 32 + j + 16] = f(dl * kvalues_iq4nl[x[qs + j]! >> 4]!);
        }
        qs += 16;
      }
    }
    return y;
  },
};

/** Byte offsets of each block's f16 fields (d, and the min where there is one). */
const HALVES: Record<(typeof TYPES)[number], number[]> = {
  [DType.Q4_1]: [0, 2], [DType.Q5_0]: [0], [DType.Q5_1]: [0, 2], [DType.Q2_K]: [80, 82],
  [DType.Q3_K]: [108], [DType.Q5_K]: [0, 2], [DType.IQ4_NL]: [0], [DType.IQ4_XS]: [0],
};

/** Random bytes, every f16 field forced finite (an all-ones exponent loses its top bit). */
function randomBlocks(t: (typeof TYPES)[number], nBlocks: number, rng: Rng): Uint8Array {
  const bytes = byteSize(t, blockSize(t));
  const out = Uint8Array.from({ length: nBlocks * bytes }, () => Math.floor(rng.uniform() * 256));
  for (let b = 0; b < nBlocks; b++) {
    for (const o of HALVES[t]) {
      const hi = b * bytes + o + 1;
      if ((out[hi]! & 0x7c) === 0x7c) out[hi]! &= ~0x40;
    }
  }
  return out;
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

const heap = new Heap();
const wasm = instantiateWasmKernels(heap.memory);
const ts = fallbackKernels(heap.memory);
const put = (data: Float32Array | Uint8Array) => putOnHeap(heap, data);

describe('dequantization is bit-exact against the ggml reference', () => {
  for (const t of TYPES) {
    test(dtypeName(t), () => {
      const rng = new Rng(1000 + t);
      const nBlocks = blockSize(t) === 256 ? 24 : 192, n = nBlocks * blockSize(t);
      const src = randomBlocks(t, nBlocks, rng);
      assert.equal(src.length, byteSize(t, n));
      const want = REF[t](src, n);
      // The random blocks reach every code: subnormal, zero and negative scales, all quant values.
      assert.ok(want.every(Number.isFinite));
      const got = dequantize(t, src, n);
      const wantBits = bits(want);
      for (let b = 0; b < nBlocks; b++) {
        const bs = blockSize(t);
        assert.deepEqual(bits(got.subarray(b * bs, (b + 1) * bs)), wantBits.subarray(b * bs, (b + 1) * bs), `TypeScript, block ${b}`);
      }
      const p = put(src), out = heap.alloc(n * 4, 'out');
      wasm.dequantRow(t, p, out, n);
      assert.deepEqual(bits(heap.f32(out, n).slice()), wantBits, 'WebAssembly dequantRow');
      // One block at a time too (row starts need not be super-block 0).
      const one = heap.alloc(blockSize(t) * 4, 'one');
      for (let b = 0; b < nBlocks; b += 7) {
        wasm.dequantRow(t, p + b * byteSize(t, blockSize(t)), one, blockSize(t));
        assert.deepEqual(bits(heap.f32(one, blockSize(t)).slice()), wantBits.subarray(b * blockSize(t), (b + 1) * blockSize(t)), `WebAssembly block ${b}`);
      }
    });
  }
});

// ---------------------------------------------------------------- encoders

/**
 * Round-trip error bounds per value, given the values of its block (32) or super-block (256). Each is
 * the format's step at the block's scale times a factor for the encoder's simple choices (measured with
 * margin, and explained):
 *   - Q4_1, Q5_1: half a step of range/15 (/31), plus the f16 rounding of d and m: × 0.5 + 2^-9 of the range
 *   - Q5_0: the largest magnitude maps to −16, so opposite-sign values near it clamp at +15: a step, as Q4_0
 *   - Q2_K: 2-bit q with 4-bit scales (rounded up) and mins: half a step (≤ R/3 + d, d = R/45 for the
 *     super-block's range R) plus half the min's step (R/30): 0.21·R
 *   - Q3_K: 3-bit signed q, the largest magnitude → −4 (so a whole step at the other end), with 6-bit
 *     signed scales: up to ~0.27 of the super-block's largest magnitude; 0.3
 *   - Q5_K: as Q4_K with 31 levels: half a step of range/31, × 1.3 for the 6-bit scale rounding
 *   - IQ4_NL: the largest magnitude maps to −127·d: the widest gap between levels is 24·d (half: 12), and
 *     opposite-sign values beyond +113·d clamp (≤ 14·d): 14·|d| = 14/127 of the block's largest magnitude
 *   - IQ4_XS: as IQ4_NL per 32, plus the 6-bit rounding of the sub-block scale (≤ d/2 · 127): 0.13 of the
 *     super-block's largest magnitude
 */
const range = (b: Float32Array) => Math.max(...b) - Math.min(...b);
const range0 = (b: Float32Array) => Math.max(...b) - Math.min(0, ...b);
const amax = (b: Float32Array) => Math.max(...b.map(Math.abs));
const BOUNDS: Record<(typeof TYPES)[number], (block: Float32Array) => number> = {
  [DType.Q4_1]: (b) => range(b) * (0.5 / 15 + 2 ** -9),
  [DType.Q5_1]: (b) => range(b) * (0.5 / 31 + 2 ** -9),
  [DType.Q5_0]: (b) => (amax(b) / 16) * (1 + 16 * 2 ** -11),
  [DType.Q2_K]: (b) => range0(b) * (0.5 / 3 + 1 / 90 + 1 / 30),
  [DType.Q3_K]: (b) => amax(b) * 0.3,
  [DType.Q5_K]: (b) => (range0(b) / 31) * 0.5 * 1.3,
  [DType.IQ4_NL]: (b) => (amax(b) / 127) * 14 * (1 + 2 ** -10),
  [DType.IQ4_XS]: (b) => amax(b) * 0.13,
};

describe('encoders round-trip within their known error', () => {
  for (const t of TYPES) {
    test(dtypeName(t), (tc) => {
      const rng = new Rng(t);
      const n = 2048, bs = blockSize(t);
      // Values of mixed scale: each 256 has its own magnitude, so scales and mins vary across blocks.
      const x = Float32Array.from({ length: n }, (_, i) => (rng.uniform() * 2 - 1) * (0.1 + ((i >> 8) % 5)) + (i % 512 < 256 ? 0 : 0.3));
      const q = quantize(t, x);
      assert.equal(q.length, byteSize(t, n));
      const y = dequantize(t, q, n);
      let worst = 0;
      for (let b = 0; b < n / bs; b++) {
        const xs = x.subarray(b * bs, (b + 1) * bs), bound = BOUNDS[t](xs);
        for (let i = 0; i < bs; i++) {
          const err = Math.abs(y[b * bs + i]! - xs[i]!);
          worst = Math.max(worst, err / bound);
          assert.ok(err <= bound, `${dtypeName(t)} value ${b * bs + i}: error ${err} > bound ${bound}`);
        }
      }
      tc.diagnostic(`worst error / bound ${worst.toFixed(3)}`);
      // And the encoding is not degenerate: it is much better than the bound on average.
      let mean = 0;
      for (let i = 0; i < n; i++) mean += Math.abs(y[i]! - x[i]!);
      assert.ok(mean / n < 0.5 * BOUNDS[t](x), `${dtypeName(t)} mean error ${mean / n}`);
    });
  }

  test('the encoders use the formats\' features (fifth bits, high bits, mins, signed scales)', () => {
    const rng = new Rng(5);
    const x = Float32Array.from({ length: 512 }, () => rng.uniform() * 2 - 1);
    const some = (t: DType, from: number, to: number, stride: number) => {
      const q = quantize(t, x);
      let any = 0;
      for (let o = 0; o < q.length; o += stride) for (let i = from; i < to; i++) any |= q[o + i]!;
      return any;
    };
    assert.ok(some(DType.Q5_0, 2, 6, 22), 'Q5_0 qh');
    assert.ok(some(DType.Q5_1, 4, 8, 24), 'Q5_1 qh');
    assert.ok(some(DType.Q5_K, 16, 48, 176), 'Q5_K qh');
    assert.ok(some(DType.Q3_K, 0, 32, 110), 'Q3_K hmask');
    assert.ok(some(DType.Q2_K, 0, 16, 84) & 0xf0, 'Q2_K mins');
    assert.ok(some(DType.IQ4_XS, 2, 4, 136), 'IQ4_XS scales_h');
  });
});

// ---------------------------------------------------------------- matmul

describe('matmul on every new type: batch-invariant, and equal to dequantize-then-dot', () => {
  const rows = 12, cols = 512, maxT = 5;
  const rng = new Rng(77);
  const wf = Float32Array.from({ length: rows * cols }, () => rng.uniform() * 2 - 1);
  const x = Float32Array.from({ length: maxT * cols }, () => rng.uniform() * 2 - 1);
  const xp = put(x), scratch = heap.alloc(matmulScratchBytes(cols), 'scratch');
  const qBytes = maxT * (cols / 32) * Q8_ACT_BLOCK, xq = heap.alloc(qBytes, 'xq');
  wasm.quantizeRowsQ8_0(xp, xq, cols, maxT);
  // The k-quants and IQ4_XS take activations quantized to Q8_K instead.
  const xqK = heap.alloc(maxT * (cols / 256) * Q8_K_ACT_BLOCK, 'xq');
  wasm.quantizeRowsQ8_K(xp, xqK, cols, maxT);

  for (const t of TYPES) {
    test(dtypeName(t), () => {
      const wq = quantize(t, wf), w = put(wq), deq = dequantize(t, wq, rows * cols);
      // f64 reference product of the dequantized weights with the f32 activations.
      const ref = (r: number, tok: number) => {
        let s = 0;
        for (let c = 0; c < cols; c++) s += deq[r * cols + c]! * x[tok * cols + c]!;
        return s;
      };
      const paths: [string, (nt: number, y: number) => void, number][] = [
        ['wasm matmul', (nt, y) => wasm.matmul(t, w, xp, y, rows, cols, nt, 0, rows, scratch), 1e-5],
        ['typescript matmul', (nt, y) => ts.matmul(t, w, xp, y, rows, cols, nt, 0, rows, scratch), 1e-5],
      ];
      if (takesQ8Activations(t)) {
        // Activations rounded to 8 bits (≤ amax/254 each, amax per 32 values for Q8_0, per 256 for Q8_K): a
        // 512-long dot of values in [−1, 1] moves by ~0.05 typically; 0.25 is five standard deviations (as
        // for Q8_0 and Q4_0).
        const input = activationFormat(t) === 'q8_K' ? xqK : xq;
        paths.push(['wasm matmulQ8Act', (nt, y) => wasm.matmulQ8Act(t, w, input, y, rows, cols, nt, 0, rows), 0.25]);
        paths.push(['typescript matmulQ8Act', (nt, y) => ts.matmulQ8Act(t, w, input, y, rows, cols, nt, 0, rows), 0.25]);
      }
      const results: Float32Array[] = [];
      for (const [name, run, tol] of paths) {
        let first: Float32Array | undefined;
        for (const nt of [1, 2, 3, 5]) {
          const y = heap.alloc(nt * rows * 4, 'y');
          run(nt, y);
          const got = heap.f32(y, nt * rows).slice();
          first ??= new Float32Array(maxT * rows).fill(NaN);
          for (let tok = 0; tok < nt; tok++) {
            for (let r = 0; r < rows; r++) {
              const v = got[tok * rows + r]!;
              const abs = tol < 1e-3 ? tol * Math.sqrt(cols) : tol;
              assert.ok(Math.abs(v - ref(r, tok)) < abs, `${name}: row ${r}, token ${tok}: ${v} vs ${ref(r, tok)}`);
              // Same bits for a (row, token) however many tokens were multiplied together.
              if (Number.isNaN(first[tok * rows + r]!)) first[tok * rows + r] = v;
              else assert.ok(Object.is(v, first[tok * rows + r]!), `${name}: row ${r}, token ${tok}, ${nt} tokens`);
            }
          }
        }
        results.push(first!);
      }
      if (takesQ8Activations(t)) {
        // The WebAssembly and TypeScript integer paths are the same arithmetic: identical bits.
        assert.deepEqual(bits(results[2]!), bits(results[3]!));
      }
    });
  }

  test('the Q8_0 activation blocks carry Q8_1 sums, identical in both kernel sets', () => {
    const q2 = heap.alloc(qBytes, 'xq');
    ts.quantizeRowsQ8_0(xp, q2, cols, maxT);
    assert.deepEqual(heap.u8(q2, qBytes), heap.u8(xq, qBytes));
    const dv = new DataView(heap.memory.buffer, xq, qBytes);
    for (let b = 0; b < maxT * (cols / 32); b++) {
      let sum = 0;
      for (let j = 0; j < 32; j++) sum += dv.getInt16(b * Q8_ACT_BLOCK + 4 + 2 * j, true);
      const d = dv.getFloat32(b * Q8_ACT_BLOCK, true), s = dv.getFloat32(b * Q8_ACT_BLOCK + 68, true);
      assert.ok(Math.abs(s - d * sum) <= Math.abs(d * sum) * 2 ** -10 + 1e-7, `block ${b}: s ${s} vs d·Σq ${d * sum}`);
    }
  });
});
