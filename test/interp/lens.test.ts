import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { logitLens } from '../../src/interp/lens.js';
import { rankOf, topIds } from '../../src/interp/tokens.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, softmax, userError } from '../helpers.js';
import { LONG_IDS, ReferenceModel, STORY } from './reference.js';

const CASES: [string, () => string, string | number[], { skip: string | false }][] = [
  ['stories260K (76-token story)', () => sharedModel('stories260K.gguf')!, STORY, needsShared('stories260K.gguf')],
  ['GPT-2 fixture (90 tokens)', () => fixture('gguf', SMALL.gpt2, DType.F32), LONG_IDS, { skip: false }],
  ['Llama fixture (90 tokens)', () => fixture('gguf', SMALL.llama, DType.F32), LONG_IDS, { skip: false }],
];

function realLogits(m: Model, ids: number[]): Float32Array {
  return m.withScratch(() => m.forward(ids, m.newCache(ids.length), { allLogits: true }));
}

describe('the logit lens', () => {
  for (const [name, path, input, opts] of CASES) {
    test(`${name}: the last layer is the model's own output distribution (within 1e-6)`, opts, () => {
      const m = loadModel(path()), V = m.config.vocabSize;
      const lens = logitLens(m, input, { top: 8, target: '#7' });
      const ids = lens.tokens.map((t) => t.token_id);
      assert.equal(lens.layers.length, m.config.nLayer);
      assert.deepEqual(lens.layers.map((l) => l.layer), [...Array(m.config.nLayer).keys()]);
      const logits = realLogits(m, ids);
      const last = lens.layers[m.config.nLayer - 1]!;
      assert.equal(last.positions.length, ids.length);
      for (const cell of last.positions) {
        const row = logits.subarray(cell.position * V, (cell.position + 1) * V), p = softmax(row);
        assert.deepEqual(cell.top.map((t) => t.token_id), topIds(p, 8));
        for (const t of cell.top) assert.ok(Math.abs(t.prob - p[t.token_id]!) < 1e-6);
        assert.ok(Math.abs(cell.target!.prob - p[7]!) < 1e-6);
        assert.equal(cell.target!.rank, rankOf(row, 7));
      }
    });

    test(`${name}: every layer and position matches the float64 reference within 1e-5 in probability`, opts, () => {
      const m = loadModel(path()), V = m.config.vocabSize;
      const lens = logitLens(m, input, { top: 5, target: '#3' });
      const ref = new ReferenceModel(path());
      const T = lens.tokens.length;
      const run = ref.run(lens.tokens.map((t) => t.token_id));
      let worst = 0;
      for (const { layer, positions } of lens.layers) {
        const logits = ref.unembed(run.acts.get(`blocks.${layer}.hook_resid_post`)!.data);
        for (let p = 0; p < T; p++) {
          const probs = softmax(logits.subarray(p * V, (p + 1) * V));
          const cell = positions[p]!;
          for (const t of [...cell.top, { token_id: 3, prob: cell.target!.prob }]) worst = Math.max(worst, Math.abs(t.prob - probs[t.token_id]!));
          // The reference's own top token, unless it is a near-tie the f32 engine may order differently.
          const best = topIds(probs, 2);
          if (probs[best[0]!]! - probs[best[1]!]! > 1e-4) assert.equal(cell.top[0]!.token_id, best[0], `layer ${layer} position ${p}`);
        }
      }
      assert.ok(worst < 1e-5, `max |Δp| = ${worst}`);
    });
  }

  test('stories260K: the lens sees "," after "Once upon a time" form in the middle layers', needsShared('stories260K.gguf'), () => {
    const m = loadModel(sharedModel('stories260K.gguf')!);
    const lens = logitLens(m, 'Once upon a time', { target: ',' });
    assert.deepEqual(lens.tokens.map((t) => t.token), ['<bos>', ' Once', ' upon', ' a', ' time']);
    const atTime = lens.layers.map((l) => l.positions[4]!);
    assert.deepEqual(atTime.map((c) => c.top[0]!.token), [' time', ' time', ',', ',', ',']);
    assert.deepEqual(atTime.map((c) => c.target!.rank), [...atTime.map((c) => c.target!.rank)].sort((a, b) => b - a), 'the rank of "," only improves with depth');
    assert.ok(atTime[4]!.target!.prob > 0.9);
  });

  test('the JSON has exactly the documented keys', () => {
    const m = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const lens = JSON.parse(JSON.stringify(logitLens(m, 'The cat', { top: 2, target: '#5' })));
    assert.deepEqual(Object.keys(lens), ['tokens', 'layers']);
    assert.deepEqual(Object.keys(lens.tokens[0]), ['token_id', 'token']);
    assert.deepEqual(Object.keys(lens.layers[0]), ['layer', 'positions']);
    assert.deepEqual(Object.keys(lens.layers[0].positions[0]), ['position', 'top', 'target']);
    assert.deepEqual(Object.keys(lens.layers[0].positions[0].top[0]), ['token_id', 'token', 'prob']);
    assert.deepEqual(Object.keys(lens.layers[0].positions[0].target), ['token_id', 'prob', 'rank']);
    assert.equal(lens.layers[0].positions[0].top.length, 2);
    assert.ok(!('target' in JSON.parse(JSON.stringify(logitLens(m, 'The cat'))).layers[0].positions[0]));
  });

  test('a target that is not one token, an id out of range, or a bad --top is one clear error', () => {
    const m = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const two = m.tokenizer.encode('cat sat');
    assert.throws(() => logitLens(m, 'The cat', { target: 'cat sat' }), userError(`--target "cat sat" is ${two.length} tokens (${two.map((i) => JSON.stringify(m.tokenizer.tokenText(i))).join(' ')}); give exactly one token, or #id`, 'target'));
    assert.throws(() => logitLens(m, 'The cat', { target: `#${m.config.vocabSize}` }), userError(`--target #${m.config.vocabSize}: token ids go from 0 to ${m.config.vocabSize - 1}`, 'target'));
    assert.throws(() => logitLens(m, 'The cat', { top: 0 }), userError('--top must be an integer from 1 to 1000, got 0', 'top'));
  });
});

describe('ranks and top lists break ties by the lower token id', () => {
  test('rankOf is 1-based; equal scores rank the lower id first', () => {
    const x = [0.1, 0.5, 0.2, 0.5, 0.2];
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => rankOf(x, i)), [5, 1, 3, 2, 4]);
    assert.deepEqual(topIds(x, 4), [1, 3, 2, 4]);
    assert.deepEqual(topIds(x, 10), [1, 3, 2, 4, 0]);
  });
});
