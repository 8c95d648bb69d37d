import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { generate, Generation } from '../../src/generate/generate.js';
import { Scheduler } from '../../src/generate/scheduler.js';
import type { SettingsInput } from '../../src/generate/settings.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';

// Continuous batching: generations join and leave a running batch, and each gets exactly what it gets alone.

const model = loadModel(fixture('gguf', SMALL.llama, DType.Q8_0));

/** A prompt of about `words` tokens. */
const long = (words: number) => Array.from({ length: words }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'mat'][i % 6]).join(' ');

const REQUESTS: [string, SettingsInput][] = [
  ['The cat', { seed: 1, temperature: 1, max_tokens: 12, n: 3 }],
  ['A dog', { temperature: 0, max_tokens: 20 }],
  ['Once', { seed: 7, temperature: 0.8, top_k: 20, top_p: 0.9, max_tokens: 9, n: 2, stop: ['e'] }],
  [long(40), { seed: 3, temperature: 1.1, min_p: 0.05, max_tokens: 15, n: 2, top_logprobs: 3 }],
  ['The mat', { seed: 11, temperature: 1, repetition_penalty: 1.3, max_tokens: 16, n: 4, trace: 2 }],
  ['A cat sat', { seed: 5, temperature: 1, max_tokens: 10, n: 2, noise: ['hook=blocks.0.hook_resid_post,sigma=0.5'] }],
  ['on a', { seed: 2, temperature: 1, max_tokens: 8, ablate: ['1.0'] }],
];

/** Runs generations on one scheduler, submitting request r after `at[r]` steps; returns their reports. */
function together(requests: [string, SettingsInput][], at: number[], opts: { maxBatchSize: number; prefillTokens?: number }) {
  return model.withScratch(() => {
    const scheduler = new Scheduler(model, opts);
    const jobs = requests.map(([p, s]) => new Generation(model, p, s));
    let steps = 0;
    while (steps === 0 || !scheduler.idle || jobs.some((j) => j.state === 'queued')) {
      jobs.forEach((j, r) => { if (at[r] === steps) scheduler.submit(j); });
      scheduler.step();
      steps++;
    }
    return jobs.map((j) => j.report());
  });
}

describe('the scheduler', () => {
  test('generations decoded together, joining at different steps, get exactly what each gets alone', () => {
    const alone = REQUESTS.map(([p, s]) => generate(model, p, s));
    for (const [maxBatchSize, prefillTokens] of [[1, 256], [4, 64], [16, 128]] as const) {
      const runs = together(REQUESTS, [0, 0, 2, 3, 3, 7, 11], { maxBatchSize, prefillTokens });
      runs.forEach((run, r) => {
        assert.equal(run.samples.length, alone[r]!.samples.length);
        run.samples.forEach((s, i) => {
          const a = alone[r]!.samples[i]!;
          const what = `request ${r} sample ${i} at batch size ${maxBatchSize}`;
          assert.deepEqual(s.token_ids, a.token_ids, what);
          assert.equal(s.finish_reason, a.finish_reason, what);
          assert.deepEqual(s.logprobs, a.logprobs, what);
          assert.deepEqual(s.trace, a.trace, what);
        });
      });
    }
  });

  test('a generation for one sample starts while one for many is still running (fair slots)', () => {
    model.withScratch(() => {
      const scheduler = new Scheduler(model, { maxBatchSize: 4 });
      const big = new Generation(model, 'The cat', { seed: 1, temperature: 1, max_tokens: 30, n: 24 });
      const small = new Generation(model, 'A dog', { seed: 2, temperature: 1, max_tokens: 5 });
      scheduler.submit(big);
      for (let i = 0; i < 3; i++) scheduler.step();
      scheduler.submit(small);
      let steps = 0;
      while (!small.finished) { scheduler.step(); steps++; }
      assert.ok(!big.finished, 'the big generation is still running');
      // The first slot to free goes to it; 30-token samples free one within 30 steps, then 5 tokens.
      assert.ok(steps <= 30 + 6, `the small generation took ${steps} steps`);
      scheduler.runToEnd();
      assert.equal(big.report().samples.length, 24);
    });
  });

  test('a long prompt is processed over several steps while running samples keep decoding', () => {
    model.withScratch(() => {
      const scheduler = new Scheduler(model, { maxBatchSize: 4, prefillTokens: 64 });
      const texts: string[] = [];
      const running = new Generation(model, 'The cat', { temperature: 0, max_tokens: 40 }, { onText: (t) => texts.push(t) });
      const longOne = new Generation(model, long(70), { temperature: 0, max_tokens: 3 });
      assert.ok(longOne.promptIds.length > 64 * 1.5, `the long prompt is ${longOne.promptIds.length} tokens`);
      scheduler.submit(running);
      scheduler.step();
      scheduler.submit(longOne);
      const before = texts.length;
      scheduler.step();
      assert.equal(longOne.state, 'prompt', 'the long prompt is not done after one 64-token step');
      scheduler.step();
      assert.ok(texts.length >= before + 2, 'the running sample decoded a token at each of those steps');
      scheduler.runToEnd();
      assert.deepEqual(longOne.report().samples[0]!.token_ids, generate(model, long(70), { temperature: 0, max_tokens: 3 }).samples[0]!.token_ids);
    });
  });

  test('a cancelled generation leaves the batch at once and its slots go to the next', () => {
    model.withScratch(() => {
      const scheduler = new Scheduler(model, { maxBatchSize: 2 });
      let texts = 0;
      const doomed = new Generation(model, 'The cat', { seed: 1, temperature: 1, max_tokens: 100, n: 2 }, { onText: () => texts++ });
      const next = new Generation(model, 'A dog', { seed: 2, temperature: 1, max_tokens: 6, n: 2 });
      scheduler.submit(doomed);
      for (let i = 0; i < 3; i++) scheduler.step();
      scheduler.submit(next);
      scheduler.step();
      assert.equal(scheduler.batchSize, 2);
      assert.equal(next.state, 'queued', 'the second generation waits for a slot');
      scheduler.cancel(doomed);
      const seen = texts;
      scheduler.step(); // its prompt runs
      scheduler.step();
      assert.equal(next.live, 2, 'both freed slots went to the waiting generation');
      scheduler.runToEnd();
      assert.equal(texts, seen, 'the cancelled generation got no more text');
      assert.equal(next.report().samples.length, 2);
    });
  });

  test('a callback that throws fails its own generation only', () => {
    model.withScratch(() => {
      const scheduler = new Scheduler(model, { maxBatchSize: 8 });
      const bad = new Generation(model, 'The cat', { seed: 1, max_tokens: 10 }, { onSample: () => { throw new Error('disk full'); } });
      const good = new Generation(model, 'The cat', { seed: 1, max_tokens: 10, n: 2 });
      scheduler.submit(bad);
      scheduler.submit(good);
      scheduler.runToEnd();
      assert.equal((bad.error as Error).message, 'disk full');
      assert.deepEqual(good.report().samples.map((s) => s.token_ids), generate(model, 'The cat', { seed: 1, max_tokens: 10, n: 2 }).samples.map((s) => s.token_ids));
    });
    assert.throws(() => generate(model, 'The cat', { max_tokens: 3 }, { onSample: () => { throw new Error('disk full'); } }), /^Error: disk full$/);
  });
});
