import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { f32ToF16 } from '../../src/formats/quant/f16.js';
import { dequantize, quantize } from '../../src/formats/quant/index.js';
import { DType, byteSize, dtypeName } from '../../src/formats/tensor-types.js';
import { fallbackKernels } from '../../src/kernels/fallback.js';
import { Heap } from '../../src/kernels/heap.js';
import { activationFormat, Q8_K_ACT_BLOCK, takesQ8Activations } from '../../src/kernels/kernels.js';
import { instantiateWasmKernels } from '../../src/kernels/wasm.js';
import { loadModel, type Model } from '../../src/model/load.js';
import type { Matrix } from '../../src/model/weights.js';
import { Rng } from '../../src/sampling/rng.js';
import { fixture, WIDE } from '../fixtures/models.js';
import { maxAbsDiff, putOnHeap } from '../helpers.js';

// The 256-value k-quants and IQ4_XS on activations quantized to Q8_K (llama.cpp's integer dot products):
// the quantizer against ggml's quantize_row_q8_K_ref, written out again here; the WebAssembly and
// TypeScript kernels bit for bit on random rows and raw random blocks; batch and row-split invariance;
// a float64 reference; and whole models whose logits do not depend on how tokens are grouped.
const TYPES = [DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.IQ4_XS, DType.Q2_K, DType.Q3_K] as const;

const heap = new Heap();
const wasm = instantiateWasmKernels(heap.memory);
const ts = fallbackKernels(heap.memory);

const put = (data: Float32Array | Uint8Array) => putOnHeap(heap, data);
const bitsOf = (p: number, n: number) => Array.from(new Uint32Array(heap.memory.buffer, p, n));

/** Activation rows with awkward blocks: all zero, largest magnitude negative / positive / tied in sign, tiny, huge. */
function activations(rng: Rng, nt: number, cols: number): Float32Array {
  const x = Float32Array.from({ length: nt * cols }, () => rng.uniform() * 2 - 1);
  const block = (t: number, b: number) => x.subarray(t * cols + 256 * b, t * cols + 256 * b + 256);
  block(0, 0).fill(0);
  if (nt > 1) { block(1, 0)[17] = -3; block(1, 1)[200] = 3; }
  if (nt > 2) { const b = block(2, 0); b[5] = 2; b[9] = -2; } // |max| tied: the first (positive) one sets the sign
  if (nt > 3) block(3, 1).forEach((v, i, a) => { a[i] = v * 1e-30; });
  if (nt > 4) block(4, 0).forEach((v, i, a) => { a[i] = v * 1e30; });
  if (nt > 5) block(5, 1).forEach((_, i, a) => { a[i] = i ? (i % 200) - 100 + 0.5 : -127; }); // iscale = 1: halves, ties to even
  return x;
}

/** ggml's quantize_row_q8_K_ref, line for line (f32 rounding made explicit): d, q (value order), bsums. */
function q8KRef(x: Float32Array): { d: number; q: number[]; bsums: number[] } {
  let max = 0, amax = 0;
  for (const v of x) if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
  if (!amax) return { d: 0, q: new Array(256).fill(0), bsums: new Array(16).fill(0) };
  const iscale = Math.fround(-127 / max);
  // nearest_int: adding 1.5·2^23 in f32 rounds to an integer, ties to even.
  const nearest = (v: number) => Math.fround(v + 12582912) - 12582912;
  const q = Array.from(x, (v) => Math.min(127, nearest(Math.fround(iscale * v))));
  const bsums = Array.from({ length: 16 }, (_, j) => q.slice(16 * j, 16 * j + 16).reduce((a, b) => a + b, 0));
  return { d: Math.fround(1 / iscale), q, bsums };
}

/** Reads a Q8_K activation block back into value order. */
function readQ8K(p: number): { d: number; q: number[]; bsums: number[] } {
  const v = new DataView(heap.memory.buffer, p, Q8_K_ACT_BLOCK);
  const q = Array.from({ length: 256 }, (_, i) => {
    const k = i & 15, slot = k < 8 ? 2 * k : 2 * (k - 8) + 1; // each 16 stored v0 v8 v1 v9 …
    return v.getInt16(2 * (16 * (i >> 4) + slot), true);
  });
  return { d: v.getFloat32(544, true), q, bsums: Array.from({ length: 16 }, (_, j) => v.getInt16(512 + 2 * j, true)) };
}

describe('Q8_K activations', () => {
  test('k-quants and IQ4_XS take Q8_K activations; the 32-value types Q8_0', () => {
    for (const t of TYPES) assert.equal(activationFormat(t), 'q8_K', dtypeName(t));
    for (const t of [DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.IQ4_NL]) assert.equal(activationFormat(t), 'q8_0', dtypeName(t));
    for (const t of [DType.F32, DType.F16, DType.BF16]) assert.equal(activationFormat(t), 'f32', dtypeName(t));
    for (const t of TYPES) assert.ok(takesQ8Activations(t));
  });

  test('both kernel sets quantize exactly as ggml\'s quantize_row_q8_K_ref', () => {
    const nt = 6, cols = 512, x = activations(new Rng(11), nt, cols), xp = put(x);
    const bytes = nt * (cols / 256) * Q8_K_ACT_BLOCK, q1 = heap.alloc(bytes, 'q'), q2 = heap.alloc(bytes, 'q');
    heap.u8(q1, bytes).fill(0xaa); // stale bytes must not survive (an all-zero block included)
    wasm.quantizeRowsQ8_K(xp, q1, cols, nt);
    ts.quantizeRowsQ8_K(xp, q2, cols, nt);
    assert.deepEqual(heap.u8(q1, bytes), heap.u8(q2, bytes));
    for (let b = 0; b < nt * (cols / 256); b++) {
      const got = readQ8K(q1 + b * Q8_K_ACT_BLOCK), want = q8KRef(x.subarray(256 * b, 256 * b + 256));
      assert.deepEqual(got, want, `block ${b}`);
    }
    // The awkward blocks came out as intended.
    assert.equal(readQ8K(q1).d, 0);
    assert.ok(readQ8K(q1 + 2 * Q8_K_ACT_BLOCK).d > 0, 'largest magnitude negative: d > 0');
    assert.ok(readQ8K(q1 + 3 * Q8_K_ACT_BLOCK).d < 0, 'largest magnitude positive: d < 0');
    assert.equal(readQ8K(q1 + 4 * Q8_K_ACT_BLOCK).q[5], -127, 'a tie in magnitude: the first value sets the sign');
    assert.equal(readQ8K(q1 + 4 * Q8_K_ACT_BLOCK).q[9], 127);
    assert.deepEqual(readQ8K(q1 + 11 * Q8_K_ACT_BLOCK).q.slice(0, 6), [-127, -98, -98, -96, -96, -94], 'halves round to even');
  });
});

describe('matmul on Q8_K activations', () => {
  const rows = 13, cols = 768, maxT = 20; // 20 tokens: more than one 16-token tile
  const rng = new Rng(21);
  const x = activations(rng, maxT, cols), xp = put(x);
  const xq = heap.alloc(maxT * (cols / 256) * Q8_K_ACT_BLOCK, 'xq');
  wasm.quantizeRowsQ8_K(xp, xq, cols, maxT);
  const xqBlock = (t: number, b: number) => xq + (t * (cols / 256) + b) * Q8_K_ACT_BLOCK;
  // Token t's activations as the kernels see them, d·q in value order.
  const xdeq = Array.from({ length: maxT }, (_, t) => Array.from({ length: cols / 256 }, (_, b) => {
    const { d, q } = readQ8K(xqBlock(t, b));
    return q.map((v) => d * v);
  }).flat());

  /** Weight rows: quantized random values of three magnitudes, then rows of raw random bytes (every scale and q bit pattern, d and dmin kept finite). */
  function weights(t: DType): Uint8Array {
    const wf = Float32Array.from({ length: rows * cols }, (_, i) => (rng.uniform() * 2 - 1) * [1, 1e-3, 300][Math.floor(i / cols) % 3]!);
    const w = quantize(t, wf), bb = byteSize(t, 256), dAt = { [DType.Q2_K]: [80, 82], [DType.Q3_K]: [108], [DType.Q6_K]: [208] }[t as number] ?? [0, 2];
    for (let r = rows - 4; r < rows; r++) {
      for (let o = r * byteSize(t, cols); o < (r + 1) * byteSize(t, cols); o++) w[o] = rng.nextU32() & 0xff;
      for (let b = 0; b < cols / 256; b++) {
        const blk = r * byteSize(t, cols) + b * bb;
        for (const at of dAt.slice(0, t === DType.IQ4_XS ? 1 : 2)) {
          const h = f32ToF16((rng.uniform() * 2 - 1) * 0.01);
          w[blk + at] = h & 0xff;
          w[blk + at + 1] = h >> 8;
        }
      }
    }
    return w;
  }

  for (const t of TYPES) {
    test(`${dtypeName(t)}: WebAssembly = TypeScript bit for bit, whatever the grouping of tokens and rows; near the f64 product`, () => {
      const wq = weights(t), w = put(wq), deq = dequantize(t, wq, rows * cols);
      const run = (K: typeof wasm, nt: number, r0: number, r1: number, x0 = xq) => {
        const y = heap.alloc(nt * rows * 4, 'y');
        heap.f32(y, nt * rows).fill(NaN);
        K.matmulQ8Act(t, w, x0, y, rows, cols, nt, r0, r1);
        return y;
      };
      // Every token alone: the reference bits per (row, token).
      const alone = Array.from({ length: maxT }, (_, tok) => bitsOf(run(wasm, 1, 0, rows, xq + tok * (cols / 256) * Q8_K_ACT_BLOCK), rows));
      for (const nt of [1, 3, 4, 5, 7, 20]) {
        const a = run(wasm, nt, 0, rows), b = run(ts, nt, 0, rows);
        assert.deepEqual(bitsOf(a, nt * rows), bitsOf(b, nt * rows), `${nt} tokens: wasm vs typescript`);
        for (let tok = 0; tok < nt; tok++) assert.deepEqual(bitsOf(a + tok * rows * 4, rows), alone[tok], `${nt} tokens, token ${tok}`);
        // Rows split as threads split them.
        const split = heap.alloc(nt * rows * 4, 'y');
        for (const [r0, r1] of [[0, 5], [5, 6], [6, rows]] as const) wasm.matmulQ8Act(t, w, xq, split, rows, cols, nt, r0, r1);
        assert.deepEqual(bitsOf(split, nt * rows), bitsOf(a, nt * rows), `${nt} tokens, rows split`);
      }
      // The f64 product of the dequantized weights and activations: only the f32 combination of exact
      // integer block sums differs, a few roundings of 2^-24 each (and the weights' own f32 rounding),
      // so within 1e-6 of Σ|w·x| (measured ≤ 3e-8).
      const y = heap.f32(run(wasm, maxT, 0, rows), maxT * rows);
      let checked = 0;
      for (let tok = 0; tok < maxT; tok++) {
        for (let r = 0; r < rows; r++) {
          let s = 0, mag = 0;
          for (let c = 0; c < cols; c++) {
            const p = deq[r * cols + c]! * xdeq[tok]![c]!;
            s += p;
            mag += Math.abs(p);
          }
          const v = y[tok * rows + r]!;
          if (!Number.isFinite(s) || mag > 3e38) continue; // the 1e30 block with the large rows overflows f32, as in llama.cpp
          assert.ok(Math.abs(v - s) <= 1e-6 * mag + 1e-37, `row ${r}, token ${tok}: ${v} vs ${s} (Σ|w·x| ${mag})`);
          checked++;
        }
      }
      assert.ok(checked >= maxT * rows - 6, `${checked} products checked`);
    });
  }
});

// ---------------------------------------------------------------- whole models

const IDS = [5, 70, 100, 33, 2, 44, 91, 260, 17, 3, 8, 150, 61, 9, 240, 31];

function allLogits(m: Model, ids: number[]): Float32Array {
  return m.withScratch(() => m.forward(ids, m.newCache(ids.length), { allLogits: true }));
}

/**
 * The F32 wide Llama fixture with its matrices re-quantized per matrix, as Q4_K_M files mix types: the
 * attention's Q/K/V group mixes Q8_K and Q8_0 activations (and f32 for F16), the MLP's gate/up Q8_K only.
 */
function mixed(threads = 1, kernels: 'wasm' | 'typescript' = 'wasm'): Model {
  const m = loadModel(fixture('gguf', WIDE.llama, DType.F32), { threads, kernels });
  const requant = (mat: Matrix, t: DType) => {
    const data = quantize(t, m.heap.f32(mat.ptr, mat.rows * mat.cols).slice());
    const p = m.heap.alloc(data.byteLength, 'mixed weights');
    m.heap.u8(p, data.byteLength).set(data);
    mat.ptr = p;
    mat.type = t;
  };
  const L = m.transformer.weights.layers[0]!;
  requant(L.q!, DType.Q4_K);
  requant(L.k!, DType.Q8_0);
  requant(L.v!, DType.Q6_K);
  requant(L.out, DType.F16);
  requant(L.gate!, DType.Q5_K);
  requant(L.up, DType.IQ4_XS);
  requant(L.down, DType.Q6_K);
  if (!m.transformer.weights.tied) requant(m.transformer.weights.output, DType.Q6_K);
  return m;
}

describe('whole models: a token\'s logits do not depend on how tokens are grouped', () => {
  const cases: [string, () => Model, (threads: number) => Model][] = [
    ...[DType.Q4_K, DType.Q6_K, DType.IQ4_XS].map((dt): [string, () => Model, (threads: number) => Model] =>
      [dtypeName(dt), () => loadModel(fixture('gguf', WIDE.llama, dt)), (threads) => loadModel(fixture('gguf', WIDE.llama, dt), { threads })]),
    ['mixed Q4_K / Q8_0 / Q6_K / F16 / Q5_K / IQ4_XS', () => mixed(), (threads) => mixed(threads)],
  ];
  for (const [name, load, loadThreads] of cases) {
    test(name, () => {
      const m = load();
      const V = m.config.vocabSize;
      const full = allLogits(m, IDS);
      m.withScratch(() => {
        // A prompt in pieces, then one token at a time.
        const cache = m.newCache(IDS.length);
        assert.deepEqual(m.forward(IDS.slice(0, 5), cache, { allLogits: true }), full.subarray(0, 5 * V));
        for (let i = 5; i < IDS.length; i++) assert.deepEqual(m.forward([IDS[i]!], cache), full.subarray(i * V, (i + 1) * V), `position ${i}`);
        // Several sequences in one pass, straddling 64-row chunks (30 + 50 rows), and a batch step.
        const seqs = [30, 50, 7].map((n, s) => Array.from({ length: n }, (_, i) => (i * 37 + s * 11 + 1) % V));
        const alone = seqs.map((t) => m.forward(t, m.newCache(t.length + 1)));
        const caches = seqs.map((t) => m.newCache(t.length + 1));
        const many = m.forwardMany(seqs, caches);
        seqs.forEach((_, s) => assert.deepEqual(many.subarray(s * V, (s + 1) * V), alone[s]!, `forwardMany sequence ${s}`));
        const next = [3, 4, 5];
        const batch = m.forwardBatch(next, caches);
        seqs.forEach((t, s) => {
          const c = m.newCache(t.length + 1);
          m.forward(t, c);
          assert.deepEqual(batch.subarray(s * V, (s + 1) * V), m.forward([next[s]!], c), `forwardBatch sequence ${s}`);
        });
      });
      // Rows shared among threads.
      const two = loadThreads(2);
      assert.equal(two.threads, 2);
      assert.deepEqual(allLogits(two, IDS), full);
      two.close();
    });
  }

  test('the mixed model: the TypeScript kernels give the same logits', () => {
    assert.ok(maxAbsDiff(allLogits(mixed(1, 'typescript'), IDS.slice(0, 6)), allLogits(mixed(), IDS.slice(0, 6))) < 1e-4);
  });
});
