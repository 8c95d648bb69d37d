import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GgufMeta, readGguf } from '../../src/formats/gguf.js';
import { writeGguf } from '../../src/formats/gguf-writer.js';
import { DType } from '../../src/formats/tensor-types.js';
import { UserError } from '../../src/errors.js';
import { openModelSource } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, tempDir, userError } from '../helpers.js';

const dir = tempDir();

describe('GGUF reader', () => {
  test('reads stories260K: version, metadata, tensors', needsShared('stories260K.gguf'), () => {
    const f = readGguf(sharedModel('stories260K.gguf')!);
    try {
      assert.equal(f.version, 3);
      assert.equal(f.metadata.size, 19);
      assert.equal(f.tensors.size, 48);
      const meta = new GgufMeta(f);
      assert.equal(meta.str('general.architecture'), 'llama');
      assert.equal(meta.num('llama.embedding_length'), 64);
      assert.equal(meta.strArray('tokenizer.ggml.tokens')!.length, 512);
      const q = f.tensors.get('blk.0.attn_q.weight')!;
      assert.deepEqual(q.ne, [64, 64]);
      assert.equal(q.dtype, DType.F32);
      assert.equal(q.byteLength, 64 * 64 * 4);
    } finally {
      f.close();
    }
  });

  test('reads every metadata value type and custom alignment', () => {
    const path = join(dir, 'types.gguf');
    writeGguf(path, {
      u8: { type: 'u8', value: 200 }, i8: { type: 'i8', value: -5 }, u16: { type: 'u16', value: 60000 }, i16: { type: 'i16', value: -300 },
      u32: { type: 'u32', value: 4e9 }, i32: { type: 'i32', value: -7 }, f32: { type: 'f32', value: 0.5 }, f64: { type: 'f64', value: 1e-300 },
      u64: { type: 'u64', value: 2 ** 40 }, i64: { type: 'i64', value: -(2 ** 40) }, b: { type: 'bool', value: true }, s: { type: 'string', value: 'héllo ✓' },
      arr: { type: 'array', itemType: 'string', value: ['a', 'b'] }, nums: { type: 'array', itemType: 'f32', value: [1.5, -2] },
      'general.alignment': { type: 'u32', value: 64 },
    }, [{ name: 't', dtype: DType.F32, ne: [3], data: new Uint8Array(new Float32Array([1, 2, 3]).buffer) }], 64);
    const f = readGguf(path);
    const m = f.metadata;
    assert.deepEqual(
      [m.get('u8'), m.get('i8'), m.get('u16'), m.get('i16'), m.get('u32'), m.get('i32'), m.get('f32'), m.get('f64'), m.get('u64'), m.get('i64'), m.get('b'), m.get('s'), m.get('arr'), m.get('nums')],
      [200, -5, 60000, -300, 4e9, -7, 0.5, 1e-300, 2 ** 40, -(2 ** 40), true, 'héllo ✓', ['a', 'b'], [1.5, -2]],
    );
    assert.equal(f.dataOffset % 64, 0);
    const out = new Uint8Array(12);
    f.tensors.get('t')!.read(out);
    assert.deepEqual([...new Float32Array(out.buffer)], [1, 2, 3]);
    f.close();
  });

  const small = () => fixture('gguf', SMALL.llama, DType.F32);

  test('bad magic is one clear error', () => {
    const p = join(dir, 'bad-magic.gguf');
    writeFileSync(p, 'NOPE and more bytes');
    assert.throws(() => readGguf(p), userError('bad-magic.gguf: not a GGUF file (bad magic; expected "GGUF")'));
  });

  test('version 2 files read the same as version 3', () => {
    const p = join(dir, 'v2.gguf');
    const b = readFileSync(small());
    b.writeUInt32LE(2, 4);
    writeFileSync(p, b);
    const v2 = readGguf(p), v3 = readGguf(small());
    assert.equal(v2.version, 2);
    assert.deepEqual([...v2.metadata], [...v3.metadata]);
    assert.deepEqual([...v2.tensors.keys()], [...v3.tensors.keys()]);
    v2.close();
    v3.close();
  });

  test('unsupported version', () => {
    const p = join(dir, 'v1.gguf');
    const b = readFileSync(small());
    b.writeUInt32LE(1, 4);
    writeFileSync(p, b);
    assert.throws(() => readGguf(p), userError('v1.gguf: unsupported GGUF version 1 (supported: 2, 3)'));
  });

  test('a truncated file names the tensor that extends past the end', () => {
    const full = readFileSync(small());
    const p = join(dir, 'truncated.gguf');
    writeFileSync(p, full.subarray(0, full.length - 1000));
    assert.throws(() => readGguf(p), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /^truncated\.gguf: tensor output\.weight extends past end of file \(offset \d+, size \d+, file size \d+\)$/);
      return true;
    });
  });

  test('a file cut inside the header says so', () => {
    const full = readFileSync(small());
    const p = join(dir, 'header.gguf');
    writeFileSync(p, full.subarray(0, 100));
    assert.throws(() => readGguf(p), /^UserError: header\.gguf: (file is truncated|metadata .* extends past end of file)/);
  });

  test('absurd array lengths are rejected before allocating', () => {
    const b = Buffer.alloc(64);
    b.write('GGUF', 0, 'latin1');
    b.writeUInt32LE(3, 4);
    b.writeBigUInt64LE(0n, 8);
    b.writeBigUInt64LE(1n, 16);
    b.writeBigUInt64LE(1n, 24);
    b.write('k', 32);
    b.writeUInt32LE(9, 33); // array
    b.writeUInt32LE(4, 37); // of u32
    b.writeBigUInt64LE(1n << 40n, 41);
    const p = join(dir, 'huge-array.gguf');
    writeFileSync(p, b);
    assert.throws(() => readGguf(p), /huge-array\.gguf: metadata k: array of 1099511627776 elements extends past end of file/);
  });

  test('an unsupported tensor type is named', () => {
    const p = join(dir, 'iq2.gguf');
    copyFileSync(small(), p);
    const f = readGguf(p);
    f.close();
    // Patch the first tensor's type field (u32 after its dims) to IQ2_XXS (16).
    const b = readFileSync(p);
    const name = Buffer.from('token_embd.weight');
    const at = b.indexOf(name) + name.length + 4 + 8 * 2;
    b.writeUInt32LE(16, at);
    writeFileSync(p, b);
    assert.throws(() => readGguf(p), userError('iq2.gguf: tensor token_embd.weight has type IQ2_XXS, which Wander cannot compute on (supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16)'));
  });

  test('an unsupported architecture lists the supported ones', () => {
    const p = join(dir, 'mamba.gguf');
    writeGguf(p, { 'general.architecture': { type: 'string', value: 'mamba' } }, [
      { name: 'token_embd.weight', dtype: DType.F32, ne: [4, 2], data: new Uint8Array(32) },
    ]);
    assert.throws(() => openModelSource(p), userError('mamba.gguf: unsupported architecture "mamba" (supported: gpt2, llama, qwen2, qwen3, mistral, gemma, gemma2, gemma3)'));
  });
});
