import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { f16ToF32 } from '../../src/formats/quant/f16.js';
import { quantize } from '../../src/formats/quant/index.js';
import { DType, byteSize, dtypeName } from '../../src/formats/tensor-types.js';
import { fallbackKernels } from '../../src/kernels/fallback.js';
import { Heap } from '../../src/kernels/heap.js';
import { matmulScratchBytes, Q8_ACT_BLOCK, takesQ8Activations } from '../../src/kernels/kernels.js';
import { instantiateWasmKernels } from '../../src/kernels/wasm.js';
import { Rng } from '../../src/sampling/rng.js';
import { maxAbsDiff, putOnHeap } from '../helpers.js';

// The WebAssembly SIMD kernels against the plain TypeScript ones (an independent implementation of the
// same arithmetic) on the same memory. They differ only in summation order: tolerance 1e-5 relative.
const heap = new Heap();
const wasm = instantiateWasmKernels(heap.memory);
const ts = fallbackKernels(heap.memory);
const rng = new Rng(99);
const rand = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale);

const put = (data: Float32Array | Uint8Array | Int32Array) => putOnHeap(heap, data);
const read = (p: number, n: number) => heap.f32(p, n).slice();

describe('WebAssembly kernels match the TypeScript kernels', () => {
  const rows = 48, cols = 512, nt = 7; // 7 tokens: one group of four and a partial group
  const wf = rand(rows * cols), x = rand(nt * cols);
  for (const t of [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.IQ4_NL,
    DType.Q2_K, DType.Q3_K, DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.IQ4_XS]) {
    test(`matmul ${dtypeName(t)}`, () => {
      const w = put(quantize(t, wf)), xp = put(x), y1 = heap.alloc(nt * rows * 4, 'y'), y2 = heap.alloc(nt * rows * 4, 'y'), scratch = heap.alloc(matmulScratchBytes(cols), 's');
      wasm.matmul(t, w, xp, y1, rows, cols, nt, 0, rows, scratch);
      ts.matmul(t, w, xp, y2, rows, cols, nt, 0, rows, scratch);
      assert.ok(maxAbsDiff(read(y1, nt * rows), read(y2, nt * rows)) < 1e-5 * Math.sqrt(cols));
      // Row ranges compute exactly the rows asked for.
      const y3 = heap.alloc(nt * rows * 4, 'y');
      wasm.matmul(t, w, xp, y3, rows, cols, nt, 0, 20, scratch);
      wasm.matmul(t, w, xp, y3, rows, cols, nt, 20, rows, scratch);
      assert.deepEqual(read(y3, nt * rows), read(y1, nt * rows));
      // Dequantizing a row gives the same bits (one rounding per operation on both sides).
      const d1 = heap.alloc(cols * 4, 'd'), d2 = heap.alloc(cols * 4, 'd');
      wasm.dequantRow(t, w + byteSize(t, cols) * 5, d1, cols);
      ts.dequantRow(t, w + byteSize(t, cols) * 5, d2, cols);
      assert.deepEqual(read(d1, cols), read(d2, cols));
    });
  }

  // Register blocks (2 rows × 4 tokens for F32), token groups and tiles must not change any (row, token)
  // product: every token of a batch equals that token multiplied alone, bit for bit. F32 also at widths that
  // leave 4-element steps and a scalar tail after the last 16-element stride, and at an odd row count.
  for (const [t, r, c] of [[DType.F32, 7, 770], [DType.F32, 6, 13], [DType.F32, 5, 48], [DType.F16, 5, 64], [DType.Q2_K, 3, 256]] as const) {
    test(`matmul ${dtypeName(t)} ${r}×${c}: each of 9 tokens equals the token alone`, () => {
      const n = 9, w = put(quantize(t, rand(r * c))), xs = rand(n * c), xp = put(xs), s = heap.alloc(matmulScratchBytes(c), 's');
      const all = heap.alloc(n * r * 4, 'y'), one = heap.alloc(r * 4, 'y');
      wasm.matmul(t, w, xp, all, r, c, n, 0, r, s);
      for (let i = 0; i < n; i++) {
        wasm.matmul(t, w, xp + i * c * 4, one, r, c, 1, 0, r, s);
        assert.deepEqual(read(all + i * r * 4, r), read(one, r), `token ${i}`);
      }
    });
  }

  for (const t of [DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.IQ4_NL]) {
    assert.ok(takesQ8Activations(t));
    test(`Q8_0-activation matmul on ${dtypeName(t)} weights is bit-identical`, () => {
      const w = put(quantize(t, wf)), xp = put(x);
      const qBytes = nt * (cols / 32) * Q8_ACT_BLOCK;
      const q1 = heap.alloc(qBytes, 'q'), q2 = heap.alloc(qBytes, 'q');
      wasm.quantizeRowsQ8_0(xp, q1, cols, nt);
      ts.quantizeRowsQ8_0(xp, q2, cols, nt);
      assert.deepEqual(heap.u8(q1, qBytes), heap.u8(q2, qBytes));
      const y1 = heap.alloc(nt * rows * 4, 'y'), y2 = heap.alloc(nt * rows * 4, 'y');
      wasm.matmulQ8Act(t, w, q1, y1, rows, cols, nt, 0, rows);
      ts.matmulQ8Act(t, w, q1, y2, rows, cols, nt, 0, rows);
      assert.deepEqual(read(y1, nt * rows), read(y2, nt * rows));
      // And it is close to the f32-activation product: each x is rounded by at most amax/254, so a
      // 512-long dot of values in [-1, 1] moves by ~0.05 typically; 0.25 is five standard deviations.
      const y3 = heap.alloc(nt * rows * 4, 'y');
      wasm.matmul(t, w, xp, y3, rows, cols, nt, 0, rows, heap.alloc(matmulScratchBytes(cols), 's'));
      assert.ok(maxAbsDiff(read(y1, nt * rows), read(y3, nt * rows)) < 0.25);
    });
  }

  test('layerNorm, rmsNorm, gelu, silu·mul, addBias, addInPlace', () => {
    const n = 70, k = 3;
    const xs = rand(n * k, 3), w = put(rand(n)), b = put(rand(n));
    const pairs: [string, (K: typeof ts, out: number) => void][] = [
      ['layerNorm', (K, o) => K.layerNorm(put(xs), o, w, b, n, k, 1e-5)],
      ['rmsNorm', (K, o) => K.rmsNorm(put(xs), o, w, n, k, 1e-6)],
      ['gelu', (K, o) => { heap.f32(o, n * k).set(xs); K.geluTanh(o, n * k); }],
      ['siluMul', (K, o) => { heap.f32(o, n * k).set(xs); K.siluMul(o, put(xs.map((v) => v * 0.5)), n * k); }],
      ['geluMul', (K, o) => { heap.f32(o, n * k).set(xs); K.geluMul(o, put(xs.map((v) => v * 0.5)), n * k); }],
      ['addBias', (K, o) => { heap.f32(o, n * k).set(xs); K.addBias(o, b, n, k); }],
      ['addInPlace', (K, o) => { heap.f32(o, n * k).set(xs); K.addInPlace(o, put(xs), n * k); }],
    ];
    for (const [name, run] of pairs) {
      const o1 = heap.alloc(n * k * 4, 'o'), o2 = heap.alloc(n * k * 4, 'o');
      run(wasm, o1);
      run(ts, o2);
      assert.ok(maxAbsDiff(read(o1, n * k), read(o2, n * k)) < 1e-5, name);
    }
  });

  test('rope (both layouts) and causal attention with grouped KV heads', () => {
    const nt = 5, nHead = 4, nKv = 2, hd = 16, pos0 = 3, keys = pos0 + nt;
    const positions = put(Int32Array.from({ length: nt }, (_, t) => pos0 + t));
    const inv = put(Float32Array.from({ length: hd / 2 }, (_, i) => 10000 ** (-2 * i / hd)));
    for (const neox of [0, 1]) {
      const xs = rand(nt * nHead * hd);
      const a = put(xs), b = put(xs);
      wasm.rope(a, nt, nHead, hd, hd, positions, inv, neox);
      ts.rope(b, nt, nHead, hd, hd, positions, inv, neox);
      assert.ok(maxAbsDiff(read(a, xs.length), read(b, xs.length)) < 1e-5);
    }
    const q = put(rand(nt * nHead * hd)), k = put(rand(keys * nKv * hd)), v = put(rand(keys * nKv * hd));
    // Plain causal attention, then a sliding window of 3 keys with Gemma 2's score soft-capping.
    for (const [window, softcap] of [[0, 0], [3, 0.5]] as const) {
      const p1 = heap.alloc(nHead * nt * keys * 4, 'p'), p2 = heap.alloc(nHead * nt * keys * 4, 'p');
      wasm.attnPattern(q, k, p1, nt, nHead, nKv, hd, pos0, nKv * hd, 0.25, window, softcap, 0);
      ts.attnPattern(q, k, p2, nt, nHead, nKv, hd, pos0, nKv * hd, 0.25, window, softcap, 0);
      const pat = read(p1, nHead * nt * keys);
      assert.ok(maxAbsDiff(pat, read(p2, nHead * nt * keys)) < 1e-6);
      for (let h = 0; h < nHead; h++) for (let t = 0; t < nt; t++) {
        const row = pat.subarray((h * nt + t) * keys, (h * nt + t + 1) * keys);
        assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-6, 'rows sum to 1');
        for (let p = pos0 + t + 1; p < keys; p++) assert.equal(row[p], 0, 'no attention to later positions');
        for (let p = 0; p < keys; p++) if (window && pos0 + t - p >= window) assert.equal(row[p], 0, `key ${p} is outside query ${pos0 + t}'s window`);
        if (window) for (let p = Math.max(0, pos0 + t + 1 - window); p <= pos0 + t; p++) assert.ok(row[p]! > 0, 'every key in the window is seen');
      }
      if (softcap) {
        // Capped at ±0.5, scores differ by at most 1: no probability in a row is more than e times another.
        for (let h = 0; h < nHead; h++) for (let t = 0; t < nt; t++) {
          const seen = Array.from(pat.subarray((h * nt + t) * keys, (h * nt + t + 1) * keys)).filter((x) => x > 0);
          assert.ok(Math.max(...seen) / Math.min(...seen) <= Math.E + 1e-5);
        }
      }
      const z1 = heap.alloc(nt * nHead * hd * 4, 'z'), z2 = heap.alloc(nt * nHead * hd * 4, 'z');
      wasm.attnApply(p1, v, z1, nt, nHead, nKv, hd, pos0, nKv * hd, window, 0);
      ts.attnApply(p1, v, z2, nt, nHead, nKv, hd, pos0, nKv * hd, window, 0);
      assert.ok(maxAbsDiff(read(z1, nt * nHead * hd), read(z2, nt * nHead * hd)) < 1e-6);
    }
  });

  test('an f16 KV cache: rows rounded to nearest even; attention on f16 rows equals attention on the same values in f32', () => {
    // Halfway cases (ties to even), overflow to ±Inf, and underflow to subnormals and zero.
    const special = Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, -70000, 2 ** -25, 3 * 2 ** -26, -(2 ** -20), 0]);
    const toHalf = (kern: typeof wasm, xs: Float32Array) => {
      const out = heap.alloc(xs.length * 2, 'f16');
      kern.toF16(put(xs), out, xs.length);
      return out;
    };
    for (const kern of [wasm, ts]) {
      assert.deepEqual([...new Uint16Array(heap.memory.buffer, toHalf(kern, special), 8)], [0x3c00, 0x3c02, 0x7c00, 0xfc00, 0x0000, 0x0001, 0x8010, 0x0000], kern.name);
    }
    const nt = 5, nHead = 4, nKv = 2, hd = 20, pos0 = 3, keys = pos0 + nt, n = keys * nKv * hd;
    const ks = rand(n), vs = rand(n);
    const k16 = toHalf(wasm, ks), v16 = toHalf(wasm, vs);
    assert.deepEqual(new Uint16Array(heap.memory.buffer, toHalf(ts, ks), n), new Uint16Array(heap.memory.buffer, k16, n));
    const widen = (p: number) => put(Float32Array.from(new Uint16Array(heap.memory.buffer, p, n), f16ToF32));
    const k32 = widen(k16), v32 = widen(v16), q = put(rand(nt * nHead * hd));
    for (const kern of [wasm, ts]) {
      const p16 = heap.alloc(nHead * nt * keys * 4, 'p'), p32 = heap.alloc(nHead * nt * keys * 4, 'p');
      kern.attnPattern(q, k16, p16, nt, nHead, nKv, hd, pos0, nKv * hd, 0.25, 4, 0, 1);
      kern.attnPattern(q, k32, p32, nt, nHead, nKv, hd, pos0, nKv * hd, 0.25, 4, 0, 0);
      assert.deepEqual(read(p16, nHead * nt * keys), read(p32, nHead * nt * keys), `${kern.name}: pattern`);
      const z16 = heap.alloc(nt * nHead * hd * 4, 'z'), z32 = heap.alloc(nt * nHead * hd * 4, 'z');
      kern.attnApply(p32, v16, z16, nt, nHead, nKv, hd, pos0, nKv * hd, 4, 1);
      kern.attnApply(p32, v32, z32, nt, nHead, nKv, hd, pos0, nKv * hd, 4, 0);
      assert.deepEqual(read(z16, nt * nHead * hd), read(z32, nt * nHead * hd), `${kern.name}: values`);
    }
  });
});
