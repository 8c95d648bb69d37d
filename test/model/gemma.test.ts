import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL, type FixtureSpec } from '../fixtures/models.js';
import { argmax, maxAbsDiff, needsInstalled, softmax } from '../helpers.js';
import { llamaCppGreedy, llamaCppMissing } from '../parity/llama-cpp.js';

// Gemma 1/2/3 in Wander's engine against llama.cpp (node-llama-cpp's bundled build, which runs all
// three), on the fixture generator's tiny random Gemma models: F32 weights, heads wider than
// d_model/n_heads, Gemma 2/3 with a sliding window of 5 keys (the prompt and the 32 steps run far past
// it), Gemma 2's soft-capping at 2 (scores) and 3 (logits) so it bends, Gemma 3's QK-norm, local RoPE
// base and linearly scaled global RoPE. Measured max |Δp| ≈ 1e-6; required ≤ 1e-4.
const STEPS = 32;
const PROMPT = 'The cat was sitting on the mat and the dog was in the garden';
const llamaCpp = needsInstalled(await llamaCppMissing());
const GEMMAS: [string, FixtureSpec][] = [['Gemma', SMALL.gemma], ['Gemma 2', SMALL.gemma2], ['Gemma 3', SMALL.gemma3]];

describe('Gemma in the engine', () => {
  for (const [name, spec] of GEMMAS) {
    test(`${name}: the same greedy tokens and probabilities as llama.cpp over ${STEPS} steps, past the sliding window`, { skip: llamaCpp.skip }, async (t) => {
      const path = fixture('gguf', spec, DType.F32);
      const model = loadModel(path);
      try {
        const prompt = model.tokenizer.encode(PROMPT);
        assert.ok(prompt.length > (spec.window ?? 0) + 5, 'the prompt is longer than the window');
        const ref = await llamaCppGreedy(path, prompt, STEPS);
        let worst = 0;
        model.withScratch(() => {
          const cache = model.newCache(prompt.length + STEPS);
          let logits = model.forward(prompt, cache);
          for (let step = 0; step < STEPS; step++) {
            const r = ref[step]!;
            assert.equal(argmax(logits), r.chosen, `greedy token at step ${step}`);
            const p = softmax(logits);
            for (let id = 0; id < p.length; id++) worst = Math.max(worst, Math.abs(p[id]! - (r.probs.get(id) ?? 0)));
            logits = model.forward([r.chosen], cache);
          }
        });
        t.diagnostic(`max |Δp| ${worst.toExponential(2)}`);
        assert.ok(worst <= 1e-4, `max probability difference ${worst.toExponential(2)} > 1e-4`);
      } finally {
        model.close();
      }
    });

    test(`${name}: a Hugging Face folder of the same weights (norms stored as w, config as transformers writes it) gives the GGUF's logits`, () => {
      const gguf = loadModel(fixture('gguf', spec, DType.F32)), hf = loadModel(fixture('hf', spec));
      try {
        assert.deepEqual(hf.config.gemma, gguf.config.gemma);
        const ids = gguf.tokenizer.encode(PROMPT);
        assert.deepEqual(hf.tokenizer.encode(PROMPT), ids);
        const a = gguf.withScratch(() => gguf.forward(ids, gguf.newCache(ids.length), { allLogits: true }));
        const b = hf.withScratch(() => hf.forward(ids, hf.newCache(ids.length), { allLogits: true }));
        assert.ok(maxAbsDiff(a, b) <= 1e-5, `max |Δlogit| ${maxAbsDiff(a, b)}`);
      } finally {
        gguf.close();
        hf.close();
      }
    });
  }

  test('the sliding window matters: Gemma 2 with its window widened to the whole context gives other logits past the window', () => {
    const windowed = loadModel(fixture('gguf', SMALL.gemma2, DType.F32)), wide = loadModel(fixture('gguf', { ...SMALL.gemma2, window: 128 }, DType.F32));
    try {
      const ids = windowed.tokenizer.encode(PROMPT);
      const logits = (m: typeof windowed) => m.withScratch(() => m.forward(ids, m.newCache(ids.length), { allLogits: true }));
      const [a, b] = [logits(windowed), logits(wide)];
      const V = windowed.config.vocabSize, w = SMALL.gemma2.window!;
      assert.ok(maxAbsDiff(a.subarray(0, w * V), b.subarray(0, w * V)) === 0, 'identical while every key is in the window');
      assert.ok(maxAbsDiff(a.subarray(w * V), b.subarray(w * V)) > 1e-3, 'different once keys fall out of it');
    } finally {
      windowed.close();
      wide.close();
    }
  });
});
