import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel } from '../helpers.js';

describe('n samples, batched, reproducible', () => {
  test('sample i is bit-identical whatever the batch size and the number of samples (stories260K)', needsShared('stories260K.gguf'), () => {
    const m = loadModel(sharedModel('stories260K.gguf')!);
    const run = (n: number, b: number) => generate(m, 'Once upon a time', { seed: 42, temperature: 1, top_p: 0.95, max_tokens: 24, n, max_batch_size: b, top_logprobs: 2 });
    const reference = run(8, 1);
    assert.equal(reference.samples.length, 8);
    for (const b of [3, 8]) {
      const r = run(8, b);
      for (let i = 0; i < 8; i++) {
        assert.deepEqual(r.samples[i]!.token_ids, reference.samples[i]!.token_ids, `sample ${i} at batch size ${b}`);
        assert.deepEqual(r.samples[i]!.logprobs, reference.samples[i]!.logprobs, `sample ${i} logprobs at batch size ${b}`);
      }
    }
    const one = run(1, 8);
    assert.deepEqual(one.samples[0]!.token_ids, reference.samples[0]!.token_ids);
    assert.ok(reference.summary.distinct_texts > 1, 'sampling at temperature 1 gives different stories');
  });

  test('samples that stop early free their slot for the next sample (every family and tensor type)', () => {
    for (const [arch, dt] of [['gpt2', DType.F32], ['llama', DType.Q8_0], ['qwen3', DType.F16]] as const) {
      const m = loadModel(fixture('gguf', SMALL[arch], dt));
      // Different stop points per sample: a stop string that appears at random places.
      const run = (b: number) => generate(m, 'The cat', { seed: 5, temperature: 1.2, max_tokens: 12, n: 7, max_batch_size: b, stop: ['e'] });
      const ref = run(1);
      for (const b of [2, 3, 7]) {
        const r = run(b);
        assert.deepEqual(r.samples.map((s) => s.token_ids), ref.samples.map((s) => s.token_ids), `${arch} at batch size ${b}`);
        assert.deepEqual(r.samples.map((s) => s.finish_reason), ref.samples.map((s) => s.finish_reason));
      }
      assert.deepEqual(ref.samples.map((s) => s.index), [0, 1, 2, 3, 4, 5, 6]);
      const counts = ref.summary.finish_reasons;
      assert.equal(counts.stop_sequence + counts.max_tokens + counts.eos, 7);
      assert.equal(ref.usage.completion_tokens, ref.samples.reduce((n, s) => n + s.token_ids.length, 0));
    }
  });

  test('the batched forward pass gives each sequence the logits it gets alone', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    m.withScratch(() => {
      const prompts = [[1, 300, 301], [1, 290], [1, 270, 271, 272, 273]];
      const alone = prompts.map((p) => { const c = m.newCache(8); m.forward(p, c); return m.forward([5], c); });
      const caches = prompts.map((p) => { const c = m.newCache(8); m.forward(p, c); return c; });
      const batched = m.forwardBatch([5, 5, 5], caches);
      const V = m.config.vocabSize;
      prompts.forEach((_, b) => assert.deepEqual(batched.subarray(b * V, (b + 1) * V), alone[b]));
    });
  });
});
