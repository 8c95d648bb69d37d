import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { DType } from '../../src/formats/tensor-types.js';
import { cacheToJson, captureActivations, saveActivations } from '../../src/interp/cache.js';
import { modelHookNames } from '../../src/interp/hook-select.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { maxAbsDiff, needsShared, sharedModel, tempDir, userError } from '../helpers.js';
import { LONG_IDS, ReferenceModel, STORY } from './reference.js';

describe('captureActivations joins the 64-position chunks and matches the float64 reference', () => {
  const cases: [string, () => string, (m: ReturnType<typeof loadModel>) => string | number[], { skip: string | false }][] = [
    ['stories260K, a 76-token story', () => sharedModel('stories260K.gguf')!, () => STORY, needsShared('stories260K.gguf')],
    ['GPT-2 fixture, 90 tokens', () => fixture('gguf', SMALL.gpt2, DType.F32), () => LONG_IDS, { skip: false }],
    ['Qwen2 fixture (NeoX RoPE, biases), 90 tokens', () => fixture('gguf', SMALL.qwen2, DType.F32), () => LONG_IDS, { skip: false }],
  ];
  for (const [name, path, input, opts] of cases) {
    test(`${name}: every hook, every position, within 1e-4`, opts, () => {
      const m = loadModel(path());
      const cache = captureActivations(m, input(m));
      const T = cache.tokens.length;
      assert.ok(T > 64);
      assert.deepEqual(cache.activations.map((a) => a.name), modelHookNames(m.config).filter((n) => n !== 'hook_logits'));
      const ref = new ReferenceModel(path()).run(cache.tokens.map((t) => t.token_id));
      let worst = 0;
      for (const a of cache.activations) {
        const r = ref.acts.get(a.name)!;
        assert.deepEqual(a.shape, r.shape, a.name);
        const d = maxAbsDiff(a.data, r.data);
        assert.ok(d < 1e-4, `${a.name}: max |Δ| = ${d}`);
        worst = Math.max(worst, d);
      }
      // Attention: the full key range, rows summing to 1, exactly zero above the diagonal.
      const c = m.config, pattern = cache.activations.find((a) => a.name === 'blocks.0.attn.hook_pattern')!;
      assert.deepEqual(pattern.shape, [c.nHead, T, T]);
      for (const [h, p] of [[0, 0], [c.nHead - 1, 63], [1, 64], [2, T - 1]] as const) {
        const row = pattern.data.subarray((h * T + p) * T, (h * T + p + 1) * T);
        assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-5, `head ${h} position ${p}`);
        assert.ok(row.subarray(p + 1).every((x) => x === 0), `head ${h} position ${p}: zero above the diagonal`);
        assert.ok(row[0]! > 0);
      }
    });
  }

  test('hook_logits, when asked for, is the forward pass\'s logits at every position', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    const cache = captureActivations(m, LONG_IDS, { hooks: ['hook_logits', 'ln_final.*'] });
    assert.deepEqual(cache.activations.map((a) => [a.name, a.shape]), [['ln_final.hook_normalized', [90, 64]], ['hook_logits', [90, m.config.vocabSize]]]);
    const logits = m.withScratch(() => m.forward(LONG_IDS, m.newCache(90), { allLogits: true }));
    assert.deepEqual(cache.activations[1]!.data, logits);
  });

  test('text is tokenized as the model does; bad input is one clear error', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    const cache = captureActivations(m, 'The cat', { hooks: ['hook_embed'] });
    assert.deepEqual(cache.tokens.map((t) => t.token_id), m.tokenizer.encode('The cat'));
    assert.equal(cache.tokens[0]!.token, '<bos>');
    assert.throws(() => captureActivations(m, 'The cat', { hooks: ['blocks.2.hook_resid_post'] }), userError('--hooks "blocks.2.hook_resid_post" matches no hook point of this model (2 layers, llama family); close: blocks.0.hook_resid_post, blocks.1.hook_resid_post', 'hooks'));
    assert.throws(() => captureActivations(m, Array(129).fill(5)), userError('--prompt is 129 tokens, longer than the model\'s context of 128 tokens', 'prompt'));
  });
});

describe('saving and printing a cache', () => {
  test('--save: F32 safetensors, one tensor per hook named by it, no batch axis; re-read values are identical', () => {
    const m = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const cache = captureActivations(m, LONG_IDS, { hooks: ['blocks.1.*', 'blocks.1.attn.hook_pattern', 'hook_embed'] });
    const path = join(tempDir(), 'acts.safetensors');
    saveActivations(path, cache, 'gpt2.gguf');
    const file = readSafetensors(path);
    try {
      assert.deepEqual([...file.tensors.keys()], cache.activations.map((a) => a.name));
      assert.deepEqual(JSON.parse(file.metadata['token_ids']!), LONG_IDS);
      assert.equal(file.metadata['model'], 'gpt2.gguf');
      for (const a of cache.activations) {
        const t = file.tensors.get(a.name)!;
        assert.equal(t.dtype, DType.F32);
        assert.deepEqual([...t.ne].reverse(), a.shape, a.name);
        const bytes = new Uint8Array(t.byteLength);
        t.read(bytes);
        assert.deepEqual(new Float32Array(bytes.buffer), a.data, a.name);
      }
      assert.deepEqual([...file.tensors.get('blocks.1.attn.hook_pattern')!.ne].reverse(), [4, 90, 90]);
    } finally {
      file.close();
    }
    assert.throws(() => saveActivations(join(tempDir(), 'missing', 'x.safetensors'), cache), /^UserError: --save .*x\.safetensors: cannot write the file \(ENOENT\)$/);
  });

  test('as JSON, values nest by shape', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    const cache = captureActivations(m, [1, 5, 9], { hooks: ['blocks.0.attn.hook_pattern', 'blocks.0.attn.hook_k'] });
    const json = cacheToJson(cache);
    const [k, pattern] = json.activations as { name: string; shape: number[]; values: number[][][] }[];
    assert.deepEqual(pattern!.shape, [4, 3, 3]);
    assert.equal(pattern!.values.length, 4);
    assert.deepEqual(pattern!.values[2]![1], Array.from(cache.activations[1]!.data.subarray((2 * 3 + 1) * 3, (2 * 3 + 2) * 3)));
    assert.deepEqual(k!.shape, [3, 2, 16]);
    assert.equal(k!.values[2]![1]![15], cache.activations[0]!.data[2 * 32 + 16 + 15]);
  });
});
