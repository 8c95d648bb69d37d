import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { quantize } from '../../src/formats/quant/index.js';
import { DType } from '../../src/formats/tensor-types.js';
import { Heap } from '../../src/kernels/heap.js';
import { matmulScratchBytes, Q8_ACT_BLOCK } from '../../src/kernels/kernels.js';
import { MatmulPool, nextWord, ROW_BITS } from '../../src/kernels/pool.js';
import { instantiateWasmKernels } from '../../src/kernels/wasm.js';
import { Rng } from '../../src/sampling/rng.js';
import { putOnHeap } from '../helpers.js';

// The thread pool hands out rows in chunks that threads claim as they go; whichever thread computes a
// row, it must come out bit-identical to the single-threaded kernel, and every row exactly once.
const heap = new Heap();
const kernels = instantiateWasmKernels(heap.memory);
const rng = new Rng(7);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);
const put = (data: Float32Array | Uint8Array) => putOnHeap(heap, data);
const pool = new MatmulPool(heap, kernels, 3, 1024);
after(() => pool.close());

describe('matmul thread pool', () => {
  test('many jobs of varied shapes equal the single-threaded kernels bit for bit', () => {
    const scratch = heap.alloc(matmulScratchBytes(1024), 'scratch');
    for (let job = 0; job < 300; job++) {
      const mark = heap.mark();
      const rows = 8 + Math.floor(rng.uniform() * 700), cols = 32 * (1 + Math.floor(rng.uniform() * 24)), nt = 1 + Math.floor(rng.uniform() * 5);
      const type = job % 2 ? DType.Q8_0 : DType.F32;
      const w = put(quantize(type, rand(rows * cols))), x = put(rand(nt * cols));
      const yPool = heap.alloc(nt * rows * 4, 'y'), yOne = heap.alloc(nt * rows * 4, 'y');
      heap.f32(yPool, nt * rows).fill(NaN); // a row nobody computed stays NaN
      let input = x;
      if (type === DType.Q8_0) {
        input = heap.alloc(nt * (cols / 32) * Q8_ACT_BLOCK, 'xq');
        kernels.quantizeRowsQ8_0(x, input, cols, nt);
        kernels.matmulQ8Act(type, w, input, yOne, rows, cols, nt, 0, rows);
      } else kernels.matmul(type, w, x, yOne, rows, cols, nt, 0, rows, scratch);
      pool.matmul({ ptr: w, type, rows, cols }, input, yPool, nt, type === DType.Q8_0);
      assert.deepEqual(heap.f32(yPool, nt * rows), heap.f32(yOne, nt * rows), `job ${job}: ${rows}×${cols}, ${nt} tokens`);
      heap.release(mark);
    }
    const s = pool.stats();
    assert.equal(s.jobs, 300);
    assert.ok(s.callerShare > 0 && s.callerShare <= 1, `caller share ${s.callerShare}`);
  });

  test('the claim counter carries the job number above the row bits', () => {
    assert.equal(nextWord(1, 0), 1 << ROW_BITS);
    assert.equal(nextWord(3, 17) & ((1 << ROW_BITS) - 1), 17);
    // Job numbers wrap modulo 2^(32 − ROW_BITS) without touching the row bits.
    assert.equal(nextWord(2 ** (32 - ROW_BITS) + 5, 9), nextWord(5, 9));
  });
});
