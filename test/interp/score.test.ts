import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { generate } from '../../src/generate/generate.js';
import { bucketOf, scoreTokens } from '../../src/interp/score.js';
import { loadModel } from '../../src/model/load.js';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, userError } from '../helpers.js';
import { LONG_IDS, logSoftmax, ReferenceModel, STORY } from './reference.js';

const CASES: [string, () => string, string | number[], { skip: string | false }][] = [
  ['stories260K (76-token story)', () => sharedModel('stories260K.gguf')!, STORY, needsShared('stories260K.gguf')],
  ['GPT-2 fixture (90 tokens)', () => fixture('gguf', SMALL.gpt2, DType.F32), LONG_IDS, { skip: false }],
  ['Qwen3 fixture (90 tokens)', () => fixture('gguf', SMALL.qwen3, DType.F32), LONG_IDS, { skip: false }],
];

describe('per-token scores', () => {
  for (const [name, path, input, opts] of CASES) {
    test(`${name}: log-probabilities within 1e-4 of the float64 reference; ranks, entropy, mean NLL`, opts, () => {
      const m = loadModel(path()), V = m.config.vocabSize;
      const s = scoreTokens(m, input);
      const ids = s.token_ids, T = ids.length;
      if (typeof input !== 'string') assert.deepEqual(ids, input, 'ids are scored exactly as given');
      const ref = new ReferenceModel(path()).run(ids);
      assert.deepEqual(s.tokens[0], { position: 0, token_id: ids[0], token: s.tokens[0]!.token, logprob: null, rank: null, bucket: null, entropy_bits: null });
      let worst = 0, nll = 0;
      for (let p = 1; p < T; p++) {
        const lp = logSoftmax(ref.logits.subarray((p - 1) * V, p * V)), t = s.tokens[p]!;
        worst = Math.max(worst, Math.abs(t.logprob! - lp[ids[p]!]!));
        nll -= lp[ids[p]!]!;
        const entropy = -lp.reduce((h, x) => h + Math.exp(x) * x, 0) / Math.LN2;
        assert.ok(Math.abs(t.entropy_bits! - entropy) < 1e-4, `entropy at ${p}`);
        // Rank by the reference, except where another token is within float32 noise of this one.
        const mine = lp[ids[p]!]!;
        if (!lp.some((x, i) => i !== ids[p] && Math.abs(x - mine) < 1e-4)) assert.equal(t.rank, 1 + lp.filter((x) => x > mine).length, `rank at ${p}`);
        assert.equal(t.bucket, bucketOf(t.rank!));
      }
      assert.ok(worst < 1e-4, `max |Δ logprob| = ${worst}`);
      assert.ok(Math.abs(s.mean_nll! - nll / (T - 1)) < 1e-4);
      assert.ok(Math.abs(s.perplexity! - Math.exp(s.mean_nll!)) < 1e-9);
    });
  }

  for (const [name, path] of [['stories260K', () => sharedModel('stories260K.gguf')!], ['the embedded GPT-2-family default model', () => DEFAULT_MODEL]] as const) {
    test(`${name}: scoring a generated sample's ids gives the logprobs generate reported (within 1e-5)`, name === 'stories260K' ? needsShared('stories260K.gguf') : {}, () => {
      const m = loadModel(path());
      const prompt = name === 'stories260K' ? 'Once upon a time' : 'And God said';
      const run = generate(m, prompt, { temperature: 0, top_logprobs: 1, max_tokens: 40, seed: 1 });
      const sample = run.samples[0]!, P = run.prompt.token_ids.length;
      const s = scoreTokens(m, [...run.prompt.token_ids, ...sample.token_ids]);
      assert.equal(s.tokens.length, P + sample.token_ids.length);
      sample.logprobs!.forEach((step, i) => {
        const t = s.tokens[P + i]!;
        assert.equal(t.token_id, step.token_id);
        assert.ok(Math.abs(t.logprob! - step.logprob) < 1e-5, `step ${i}: ${t.logprob} vs ${step.logprob}`);
        assert.equal(t.rank, 1, 'greedy picks the top token');
      });
    });
  }

  test('the JSON has exactly the documented keys; one token has nothing to predict', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    const s = JSON.parse(JSON.stringify(scoreTokens(m, 'The cat sat')));
    assert.deepEqual(Object.keys(s), ['token_ids', 'tokens', 'mean_nll', 'perplexity']);
    assert.deepEqual(Object.keys(s.tokens[1]), ['position', 'token_id', 'token', 'logprob', 'rank', 'bucket', 'entropy_bits']);
    assert.equal(s.token_ids[0], m.tokenizer.bosId, 'text gets the BOS the model adds');
    assert.deepEqual(scoreTokens(m, [5]), { token_ids: [5], tokens: [{ position: 0, token_id: 5, token: m.tokenizer.tokenText(5), logprob: null, rank: null, bucket: null, entropy_bits: null }], mean_nll: null, perplexity: null });
  });

  test('GLTR buckets: top10, top100, top1000, beyond', () => {
    assert.deepEqual([1, 10, 11, 100, 101, 1000, 1001, 50000].map(bucketOf), ['top10', 'top10', 'top100', 'top100', 'top1000', 'top1000', 'beyond', 'beyond']);
  });

  test('ids outside the vocabulary, too many tokens, nothing to score: one clear error each', () => {
    const m = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const V = m.config.vocabSize;
    assert.throws(() => scoreTokens(m, [1, V, 3]), userError(`--ids: token id ${V} is outside the vocabulary (0..${V - 1})`, 'ids'));
    assert.throws(() => scoreTokens(m, Array(129).fill(7)), userError('--ids is 129 tokens, longer than the model\'s context of 128 tokens', 'ids'));
    assert.throws(() => scoreTokens(m, 'the '.repeat(200)), /^UserError: --text is \d+ tokens, longer than the model's context of 128 tokens$/);
    assert.throws(() => scoreTokens(m, []), userError('--ids is empty: give at least one token id', 'ids'));
    assert.throws(() => scoreTokens(m, ''), userError('--text is empty and this model adds no BOS token; give some text', 'text'));
  });
});
