import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, ROOT, sharedModel } from '../helpers.js';

const STORIES = 'stories260K.gguf';
const stories = () => loadModel(sharedModel(STORIES)!);

describe('samplers at work in generation (stories260K)', () => {
  test('style bias: boosting "," makes the text comma-heavy', needsShared(STORIES), () => {
    const m = stories();
    const commas = (bias?: number) => {
      const run = generate(m, 'Once upon a time', { temperature: 0, max_tokens: 60, ...(bias ? { logit_bias: [{ text: ',', bias }] } : {}) });
      return run.samples[0]!.text.split(',').length - 1;
    };
    const plain = commas(), biased = commas(6);
    assert.ok(biased >= plain + 5, `commas: ${plain} plain, ${biased} biased`);
  });

  test('banned strings never appear; the run still fills max_tokens', needsShared(STORIES), () => {
    const run = generate(stories(), 'Once upon a time', { temperature: 0, max_tokens: 40, banned_strings: ['Lily', 'girl'] });
    const text = run.samples[0]!.text;
    assert.ok(!text.includes('Lily') && !text.includes('girl'), text);
    assert.equal(run.samples[0]!.token_ids.length, 40);
    assert.deepEqual(run.settings.stages, ['banned_strings']);
  });

  test('no-repeat-ngram: no bigram occurs twice in prompt + generation', needsShared(STORIES), () => {
    const run = generate(stories(), 'Once upon a time', { temperature: 0, max_tokens: 60, no_repeat_ngram_size: 2 });
    const all = [...run.prompt.token_ids, ...run.samples[0]!.token_ids];
    const seen = new Set<string>();
    for (let i = 0; i + 1 < all.length; i++) {
      const key = `${all[i]},${all[i + 1]}`;
      assert.ok(!seen.has(key), `bigram ${key} repeats`);
      seen.add(key);
    }
  });

  test('repetition and frequency penalties change a greedy continuation', needsShared(STORIES), () => {
    const m = stories();
    const base = generate(m, 'Once upon a time', { temperature: 0, max_tokens: 40 }).samples[0]!.token_ids;
    const rep = generate(m, 'Once upon a time', { temperature: 0, max_tokens: 40, repetition_penalty: 1.5 }).samples[0]!.token_ids;
    const freq = generate(m, 'Once upon a time', { temperature: 0, max_tokens: 40, frequency_penalty: 1 }).samples[0]!.token_ids;
    assert.notDeepEqual(rep, base);
    assert.notDeepEqual(freq, base);
    const distinct = (ids: number[]) => new Set(ids).size;
    assert.ok(distinct(rep) > distinct(base) && distinct(freq) > distinct(base));
  });
});

test('min_new_tokens keeps EOS away until enough tokens are generated', () => {
  const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
  const loop = 'the cat sat on the mat and '.repeat(6);
  const free = generate(m, loop, { temperature: 0, max_tokens: 100 }).samples[0]!;
  assert.equal(free.finish_reason, 'eos');
  const held = generate(m, loop, { temperature: 0, max_tokens: 100, min_new_tokens: free.token_ids.length + 5 }).samples[0]!;
  assert.ok(held.token_ids.length >= free.token_ids.length + 5);
  assert.ok(!held.token_ids.slice(0, free.token_ids.length + 4).includes(2));
});

describe('CLI: traces and several samples', () => {
  const wander = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'wander.mjs'), ...args], { encoding: 'utf8' });

  test('--trace --json gives a trace for every step', needsShared(STORIES), () => {
    const r = wander('generate', '-m', sharedModel(STORIES)!, '-p', 'Once upon a time', '--max-tokens', '5', '--seed', '2', '--top-p', '0.8', '--trace', '3', '--json');
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout).samples[0];
    assert.equal(s.trace.length, 5);
    assert.deepEqual(s.trace[0].stages, ['top_p']);
    assert.equal(s.trace[0].candidates.length, 3);
    assert.equal(s.trace[0].chosen.token_id, s.token_ids[0]);
    for (const k of ['entropy_bits', 'final_entropy_bits', 'kept_count', 'kept_mass']) assert.ok(k in s.trace[0], k);
  });

  test('--n prints every sample whole, then a summary', needsShared(STORIES), () => {
    const r = wander('generate', '-m', sharedModel(STORIES)!, '-p', 'Once upon a time', '--max-tokens', '6', '--seed', '2', '--n', '3', '--max-batch-size', '2');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter((l) => l.startsWith('── sample')).map((l) => l.replace(/ ·.*/, '')), ['── sample 0', '── sample 1', '── sample 2']);
    assert.match(r.stderr, /^samples {3}3 samples, \d distinct · finish: max_tokens 3$/m);
    assert.match(r.stderr, /· n 3 \(batches of 2\)/);
  });
});
