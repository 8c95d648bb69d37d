import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as wander from '../src/index.js';
import { DType } from '../src/formats/tensor-types.js';
import { fixture, SMALL } from './fixtures/models.js';

test('the library API: load, distribution, generate, and a chain built by hand', () => {
  const model = wander.loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
  const next = wander.nextTokenDistribution(model, 'The cat', { top_k: 5, seed: 1 }, { top: 8, draws: 100 });
  assert.equal(next.candidates.length, 8);
  assert.equal(next.kept_count, 5);
  const run = wander.generate(model, 'The cat', { seed: 1, max_tokens: 4, n: 2 });
  assert.equal(run.samples.length, 2);
  const chain = new wander.SamplingChain({ ...wander.DEFAULTS, top_k: 3 });
  const logits = model.withScratch(() => model.forward(model.tokenizer.encode('The cat'), model.newCache(8)));
  const token = chain.sample(logits, wander.rngFor(1, 0), { tokens: [], promptLength: 0, text: '' });
  assert.ok(Number.isInteger(token) && token >= 0 && token < model.config.vocabSize);
  assert.deepEqual(wander.PRESETS['hf']!.slice(-10), ['top_h', 'top_n_sigma', 'top_k', 'top_p', 'min_p', 'typical_p', 'epsilon', 'eta', 'xtc', 'mirostat']);
});
