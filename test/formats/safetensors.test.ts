import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { writeSafetensors } from '../../src/formats/safetensors-writer.js';
import { DType } from '../../src/formats/tensor-types.js';
import { tempDir, userError } from '../helpers.js';

const dir = tempDir();

function rawFile(name: string, header: object, dataBytes: number): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return p;
}

describe('safetensors reader', () => {
  test('reads shapes (reversed to GGUF order), dtypes and data', () => {
    const p = join(dir, 'ok.safetensors');
    writeSafetensors(p, [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer) },
      { name: 'b', dtype: 'F16', shape: [4], data: new Uint8Array(8) },
    ]);
    const f = readSafetensors(p);
    const a = f.tensors.get('a')!;
    assert.deepEqual(a.ne, [3, 2]);
    assert.equal(a.dtype, DType.F32);
    const out = new Uint8Array(24);
    a.read(out);
    assert.deepEqual([...new Float32Array(out.buffer)], [1, 2, 3, 4, 5, 6]);
    assert.equal(f.tensors.get('b')!.dtype, DType.F16);
    assert.deepEqual(f.metadata, { format: 'pt' });
    f.close();
  });

  test('a tensor past the end of the file is named', () => {
    const p = rawFile('short.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8);
    assert.throws(() => readSafetensors(p), /^UserError: short\.safetensors: tensor w extends past end of file \(offset \d+, size 16, file size \d+\)$/);
  });

  test('offsets that disagree with the shape are rejected', () => {
    const p = rawFile('mismatch.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, 16);
    assert.throws(() => readSafetensors(p), userError('mismatch.safetensors: tensor w: data offsets [0, 12] do not match its shape [4] and dtype F32'));
  });

  test('unsupported dtypes are named', () => {
    const p = rawFile('int.safetensors', { w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8);
    assert.throws(() => readSafetensors(p), userError('int.safetensors: tensor w has dtype I64 (supported: F32, F16, BF16)'));
  });

  test('a header length beyond the file is rejected', () => {
    const p = join(dir, 'len.safetensors');
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(1000n);
    writeFileSync(p, b);
    assert.throws(() => readSafetensors(p), userError('len.safetensors: header length 1000 is invalid (file size 16)'));
  });

  test('a header that is not JSON is rejected', () => {
    const p = join(dir, 'json.safetensors');
    const b = Buffer.alloc(12);
    b.writeBigUInt64LE(4n);
    b.write('{{{{', 8);
    writeFileSync(p, b);
    assert.throws(() => readSafetensors(p), /^UserError: json\.safetensors: header is not valid JSON/);
  });
});
