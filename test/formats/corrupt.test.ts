import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { loadModel } from '../../src/model/load.js';
import { Rng } from '../../src/sampling/rng.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { tempDir } from '../helpers.js';

// Untrusted files: whatever the bytes, loading either succeeds or fails with one UserError line —
// never a RangeError, a crash or a hang.
const dir = tempDir();

function tryLoad(bytes: Uint8Array, name: string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  try {
    loadModel(p).close();
    return 'ok';
  } catch (e) {
    assert.equal((e as Error).name, 'UserError', `${name}: ${(e as Error).stack}`);
    assert.ok(!(e as Error).message.includes('\n'), 'one line');
    assert.ok((e as Error).message.startsWith(name + ':'), `names the file: ${(e as Error).message}`);
    return 'error';
  }
}

test('every truncation of a GGUF file is a clean error', () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    const full = readFileSync(fixture('gguf', SMALL[arch], DType.Q8_0));
    for (let i = 0; i < 60; i++) {
      const cut = Math.floor((full.length * i) / 60);
      assert.equal(tryLoad(full.subarray(0, cut), `cut-${arch}-${i}.gguf`), 'error');
    }
  }
});

test('random byte corruption of the header and metadata never escapes as anything but a UserError', () => {
  const full = readFileSync(fixture('gguf', SMALL.llama, DType.F32));
  const headerEnd = full.indexOf(Buffer.from('token_embd.weight')) + 200;
  const rng = new Rng(2024);
  const outcomes = { ok: 0, error: 0 };
  for (let i = 0; i < 150; i++) {
    const b = Buffer.from(full);
    for (let k = 0; k < 1 + (i % 4); k++) b[Math.floor(rng.uniform() * headerEnd)] = rng.nextU32() & 0xff;
    outcomes[tryLoad(b, `flip-${i}.gguf`) as 'ok' | 'error']++;
  }
  assert.ok(outcomes.error > 0);
});
