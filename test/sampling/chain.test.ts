import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allCandidates, candidateProbs, sortCandidates } from '../../src/sampling/candidates.js';
import { argmax, SamplingChain } from '../../src/sampling/chain.js';
import { stepLogprobs } from '../../src/sampling/logprobs.js';
import { Rng } from '../../src/sampling/rng.js';
import { TemperatureSampler } from '../../src/sampling/temperature.js';
import { TopKSampler } from '../../src/sampling/top-k.js';
import { TopPSampler } from '../../src/sampling/top-p.js';

// Probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 as logits (ids shuffled to test ordering).
const probs = [0.0625, 0.25, 0.5, 0.0625, 0.125];
const logits = Float32Array.from(probs, Math.log);

const kept = (c: ReturnType<typeof allCandidates>) => [...c.ids.subarray(0, c.size)];

describe('samplers', () => {
  test('candidates sort by logit descending, ties by lower id', () => {
    const c = allCandidates(logits);
    sortCandidates(c);
    assert.deepEqual(kept(c), [2, 1, 4, 0, 3]);
    assert.deepEqual([...candidateProbs(c)].map((p) => +p.toFixed(6)), [0.5, 0.25, 0.125, 0.0625, 0.0625]);
  });

  test('temperature divides logits: T = 0.5 squares and renormalizes the probabilities', () => {
    const c = allCandidates(logits);
    new TemperatureSampler(0.5).apply(c);
    sortCandidates(c);
    const sq = [0.25, 0.0625, 0.015625, 0.00390625, 0.00390625];
    const z = sq.reduce((a, b) => a + b);
    assert.deepEqual([...candidateProbs(c)].map((p) => +p.toFixed(6)), sq.map((p) => +(p / z).toFixed(6)));
  });

  test('top-k keeps exactly k, ties broken by lower id', () => {
    const c = allCandidates(logits);
    new TopKSampler(4).apply(c);
    assert.deepEqual(kept(c), [2, 1, 4, 0]);
    const off = allCandidates(logits);
    new TopKSampler(0).apply(off);
    assert.equal(off.size, 5);
  });

  test('top-p keeps the smallest set reaching p (Hugging Face semantics)', () => {
    const run = (p: number) => { const c = allCandidates(logits); new TopPSampler(p).apply(c); return kept(c); };
    assert.deepEqual(run(0.5), [2]); // 0.5 reaches 0.5 exactly
    assert.deepEqual(run(0.6), [2, 1]);
    assert.deepEqual(run(0.75), [2, 1]);
    assert.deepEqual(run(0.8), [2, 1, 4]);
    assert.deepEqual(run(0.01), [2]); // always at least one
    assert.equal(run(1).length, 5);
  });
});

describe('the chain', () => {
  test('temperature 0 is greedy: the argmax, lowest id on ties, whatever the filters', () => {
    const chain = new SamplingChain({ temperature: 0, top_k: 3, top_p: 0.1 });
    assert.equal(chain.sample(logits, new Rng(1)), 2);
    assert.equal(argmax(Float32Array.of(1, 3, 3, 2)), 1);
  });

  test('draws follow the filtered distribution', () => {
    const chain = new SamplingChain({ temperature: 1, top_k: 0, top_p: 0.8 });
    const rng = new Rng(5);
    const counts = new Map<number, number>();
    const N = 20000;
    for (let i = 0; i < N; i++) { const t = chain.sample(logits, rng); counts.set(t, (counts.get(t) ?? 0) + 1); }
    assert.deepEqual([...counts.keys()].sort(), [1, 2, 4]);
    // Renormalized over {0.5, 0.25, 0.125}: 4/7, 2/7, 1/7; 3σ ≈ 0.011 at N = 20000.
    assert.ok(Math.abs(counts.get(2)! / N - 4 / 7) < 0.012);
    assert.ok(Math.abs(counts.get(1)! / N - 2 / 7) < 0.012);
    assert.ok(Math.abs(counts.get(4)! / N - 1 / 7) < 0.012);
  });

  test('same seed, same draws', () => {
    const chain = new SamplingChain({ temperature: 1.3, top_k: 4, top_p: 0.95 });
    const a = new Rng(9), b = new Rng(9);
    const xs = Array.from({ length: 50 }, () => chain.sample(logits, a));
    const ys = Array.from({ length: 50 }, () => chain.sample(logits, b));
    assert.deepEqual(xs, ys);
  });
});

test('logprobs: chosen token and top-N from the unmodified distribution, ties by lower id', () => {
  const lp = stepLogprobs(logits, 3, 3, (id) => `t${id}`);
  assert.equal(lp.token_id, 3);
  assert.equal(lp.token, 't3');
  assert.ok(Math.abs(lp.logprob - Math.log(0.0625)) < 1e-6);
  assert.deepEqual(lp.top_logprobs.map((t) => t.token_id), [2, 1, 4]);
  assert.ok(Math.abs(lp.top_logprobs[0]!.logprob - Math.log(0.5)) < 1e-6);
  const tie = stepLogprobs(Float32Array.of(0, 5, 0, 5), 0, 4, String);
  assert.deepEqual(tie.top_logprobs.map((t) => t.token_id), [1, 3, 0, 2]);
});
