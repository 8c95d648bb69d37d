import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { DType } from '../../src/formats/tensor-types.js';
import { captureActivations, l2Norm } from '../../src/interp/cache.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { tempDir, wander } from '../helpers.js';


/** A prompt longer than one 64-position chunk: 84 tokens of the GPT-2 fixture's vocabulary. */
const LONG_PROMPT = 'The cat sat on the mat. '.repeat(7);

describe('wander cache', () => {
  const path = fixture('gguf', SMALL.gpt2, DType.F32);

  test('prints each hook\'s name, shape and L2 norm over every position', () => {
    const prompt = LONG_PROMPT;
    const r = wander('cache', '-m', path, '-p', prompt, '--hooks', 'blocks.*.hook_resid_post', '--hooks', 'blocks.1.attn.hook_pattern');
    assert.equal(r.code, 0, r.stderr);
    const cache = captureActivations(loadModel(path), prompt, { hooks: ['blocks.*.hook_resid_post', 'blocks.1.attn.hook_pattern'] });
    const T = cache.tokens.length;
    assert.ok(T > 64);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[1], `captured  3 hook points, ${(T * 64 * 2 + 4 * T * T).toLocaleString('en-US')} values`);
    assert.equal(lines[3], `${'hook'.padEnd(26)}  ${'shape'.padEnd(11)}      L2 norm`);
    assert.deepEqual(lines.slice(4).map((l) => l.split(/\s{2,}/)), cache.activations.map((a) => [a.name, `[${a.shape.join(', ')}]`, l2Norm(a.data).toPrecision(6)]));
    assert.deepEqual(lines.slice(4).map((l) => l.split(/\s{2,}/)[1]), [`[${T}, 64]`, `[4, ${T}, ${T}]`, `[${T}, 64]`]);
  });

  test('--save writes F32 safetensors that re-read to the same values; --json nests values by shape', () => {
    const prompt = LONG_PROMPT;
    const file = join(tempDir(), 'acts.safetensors');
    const r = wander('cache', '-m', path, '-p', prompt, '--hooks', 'blocks.0.attn.hook_*', '--save', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^captured  5 hook points, [\\d,]+ values → ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    const cache = captureActivations(loadModel(path), prompt, { hooks: ['blocks.0.attn.hook_*'] });
    const st = readSafetensors(file);
    try {
      assert.deepEqual([...st.tensors.keys()], ['blocks.0.attn.hook_q', 'blocks.0.attn.hook_k', 'blocks.0.attn.hook_v', 'blocks.0.attn.hook_pattern', 'blocks.0.attn.hook_z']);
      for (const a of cache.activations) {
        const t = st.tensors.get(a.name)!, bytes = new Uint8Array(t.byteLength);
        t.read(bytes);
        assert.deepEqual([...t.ne].reverse(), a.shape);
        assert.deepEqual(new Float32Array(bytes.buffer), a.data, a.name);
      }
    } finally {
      st.close();
    }
    const j = wander('cache', '-m', path, '-p', 'The cat', '--hooks', 'hook_embed', '--json');
    assert.equal(j.code, 0, j.stderr);
    const json = JSON.parse(j.stdout);
    assert.deepEqual(Object.keys(json), ['tokens', 'activations']);
    const embed = captureActivations(loadModel(path), 'The cat', { hooks: ['hook_embed'] }).activations[0]!;
    assert.deepEqual(json.activations[0].shape, embed.shape);
    assert.deepEqual(json.activations[0].values[1], Array.from(embed.data.subarray(64, 128)));
  });

  test('bad input: one line on stderr, exit 2', () => {
    for (const [args, message] of [
      [['--hooks', 'blocks.*.hook_resid'], '--hooks "blocks.*.hook_resid" matches no hook point of this model (2 layers, gpt2 family); close: blocks.*.hook_resid_pre, blocks.*.hook_resid_mid'],
      [['--hooks', 'blocks.0.attn.hook_rot_k'], '--hooks "blocks.0.attn.hook_rot_k" matches no hook point of this model (2 layers, gpt2 family) (GPT-2 has no rotary embedding, so no hook_rot_q/hook_rot_k); close: blocks.0.attn.hook_k'],
    ] as const) {
      const r = wander('cache', '-m', path, '-p', 'The cat', ...args);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `wander: ${message}\n`);
    }
    const r = wander('cache', '-m', path, '-p', 'The cat', '--save', join(tempDir(), 'no', 'such', 'dir.safetensors'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^wander: --save .*dir\.safetensors: cannot write the file \(ENOENT\)\n$/);
  });
});
