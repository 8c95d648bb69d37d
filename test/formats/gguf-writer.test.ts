import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readGguf } from '../../src/formats/gguf.js';
import { writeGguf, type GgufKv, type GgufTensorOut, type TensorProducer } from '../../src/formats/gguf-writer.js';
import { quantize } from '../../src/formats/quant/index.js';
import { DType } from '../../src/formats/tensor-types.js';
import { Rng } from '../../src/sampling/rng.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();

const meta: Record<string, GgufKv> = {
  'general.architecture': { type: 'string', value: 'llama' },
  'general.name': { type: 'string', value: 'streaming-test' },
  'llama.block_count': { type: 'u32', value: 1 },
  'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: ['<unk>', '<s>', '</s>', '▁a'] },
};

function values(n: number, seed: number): Float32Array {
  const rng = new Rng(seed, 1);
  return Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);
}

/** Tensors of several types and sizes, so that alignment padding falls between them (and after the last). */
function tensors(): (Omit<GgufTensorOut, 'data'> & { data: Uint8Array })[] {
  const t = (name: string, dtype: DType, ne: number[], seed: number) => ({ name, dtype, ne, data: quantize(dtype, values(ne.reduce((a, b) => a * b, 1), seed)) });
  return [
    t('token_embd.weight', DType.F16, [32, 7], 1), // 448 bytes
    t('blk.0.attn_norm.weight', DType.F32, [5], 2), // 20 bytes: not a multiple of 32
    t('blk.0.attn_q.weight', DType.Q8_0, [64, 3], 3),
    t('blk.0.ffn_up.weight', DType.Q4_K, [256, 2], 4),
    t('output_norm.weight', DType.F32, [3], 5), // 12 bytes, last: padded at the end
  ];
}

/** A producer that emits `data` in uneven chunks (sizes 1, 2, 3, …), each from a reused buffer. */
function chunked(data: Uint8Array): TensorProducer {
  return (emit) => {
    const buf = new Uint8Array(64);
    for (let at = 0, n = 1; at < data.length; at += n, n = n % 17 + 1) {
      const len = Math.min(n, data.length - at);
      buf.set(data.subarray(at, at + len));
      emit(buf.subarray(0, len));
      buf.fill(0xee); // the writer must have written the chunk already
    }
  };
}

describe('GGUF writer: streamed tensors', () => {
  test('producers write the same bytes as in-memory data', () => {
    const a = join(dir, 'bytes.gguf'), b = join(dir, 'stream.gguf'), c = join(dir, 'mixed.gguf');
    const ts = tensors();
    writeGguf(a, meta, ts);
    writeGguf(b, meta, ts.map((t) => ({ ...t, data: chunked(t.data) })));
    writeGguf(c, meta, ts.map((t, i) => (i % 2 ? { ...t, data: chunked(t.data) } : t)));
    const want = readFileSync(a);
    assert.ok(want.equals(readFileSync(b)), 'all-streamed file differs');
    assert.ok(want.equals(readFileSync(c)), 'half-streamed file differs');
    const f = readGguf(b);
    try {
      assert.deepEqual([...f.tensors.keys()], ts.map((t) => t.name));
      assert.deepEqual(f.tensors.get('blk.0.ffn_up.weight')!.ne, [256, 2]);
    } finally {
      f.close();
    }
  });

  test('a producer may emit the whole tensor at once, or nothing for an empty tensor', () => {
    const a = join(dir, 'whole-a.gguf'), b = join(dir, 'whole-b.gguf');
    const ts = [...tensors(), { name: 'empty', dtype: DType.F32, ne: [0], data: new Uint8Array(0) }];
    writeGguf(a, meta, ts);
    writeGguf(b, meta, ts.map((t) => ({ ...t, data: (emit: (x: Uint8Array) => void) => { if (t.data.length) emit(t.data); } })));
    assert.ok(readFileSync(a).equals(readFileSync(b)));
  });

  test('too few bytes: throws naming the tensor, the counts and the shape, and leaves no file', () => {
    const path = join(dir, 'short.gguf');
    const ts = tensors();
    const bad = ts.map((t) => (t.name === 'blk.0.attn_q.weight' ? { ...t, data: chunked(t.data.subarray(0, t.data.length - 2)) } : t));
    assert.throws(() => writeGguf(path, meta, bad), {
      message: 'tensor blk.0.attn_q.weight: its producer emitted 202 bytes, but Q8_0 data of shape [64, 3] is 204 bytes',
    });
    assert.equal(existsSync(path), false);
  });

  test('too many bytes: the excess is never written over the next tensor, and the total is reported', () => {
    const path = join(dir, 'long.gguf');
    const ts = tensors();
    const bad = ts.map((t) => (t.name === 'token_embd.weight' ? { ...t, data: chunked(new Uint8Array(t.data.length + 100)) } : t));
    assert.throws(() => writeGguf(path, meta, bad), {
      message: 'tensor token_embd.weight: its producer emitted 548 bytes, but F16 data of shape [32, 7] is 448 bytes',
    });
    assert.equal(existsSync(path), false);
  });

  test('in-memory data of the wrong size keeps its old message', () => {
    const ts = tensors();
    ts[1] = { ...ts[1]!, data: new Uint8Array(16) };
    assert.throws(() => writeGguf(join(dir, 'bad.gguf'), meta, ts), { message: 'tensor blk.0.attn_norm.weight: 16 bytes for 5 elements' });
  });
});
