import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Candidates } from '../../src/sampling/candidates.js';
import { Rng } from '../../src/sampling/rng.js';
import type { RandomSource } from '../../src/sampling/sampler.js';
import { Xtc } from '../../src/sampling/xtc.js';
import { applyStage, close, EMPTY } from './stage.js';

// p = 1/16, 1/4, 1/2, 1/16, 1/8 for ids 0..4.
const P = [0.0625, 0.25, 0.5, 0.0625, 0.125];
const LOGITS = Float32Array.from(P, Math.log);

/** A coin that returns the given values in turn and counts how often it was asked. */
function coin(...values: number[]): RandomSource & { calls: number } {
  const c = { calls: 0, uniform: () => values[c.calls++ % values.length]! };
  return c;
}

const apply = (s: Xtc, rng: RandomSource, logits: ArrayLike<number> = LOGITS) => applyStage(s, logits, EMPTY, rng);

describe('xtc (exclude top choices)', () => {
  test('removes every token at or above the threshold but the least likely of them', () => {
    // Threshold 0.1: 1/2, 1/4 and 1/8 reach it; 1/8 (id 4) stays, renormalized over 1/16 + 1/16 + 1/8.
    const r = apply(new Xtc(1, 0.1), coin(0.5));
    assert.deepEqual(r.ids, [0, 3, 4]);
    close(r.probs.get(0)!, 0.25);
    close(r.probs.get(3)!, 0.25);
    close(r.probs.get(4)!, 0.5);
    // Threshold 0.2: 1/2 and 1/4 reach it; only id 2 goes.
    const q = apply(new Xtc(1, 0.2), coin(0.5));
    assert.deepEqual(q.ids, [0, 1, 3, 4]);
    close(q.probs.get(1)!, 0.5);
  });

  test('with one token above the threshold nothing is removed', () => {
    assert.deepEqual(apply(new Xtc(1, 0.3), coin(0)).ids, [0, 1, 2, 3, 4]);
  });

  test('the coin: it acts when the uniform is at most the probability', () => {
    const s = new Xtc(0.5, 0.1);
    assert.deepEqual(apply(s, coin(0.7)).ids, [0, 1, 2, 3, 4]);
    assert.deepEqual(apply(s, coin(0.5)).ids, [0, 3, 4]);
    assert.deepEqual(apply(s, coin(0.3)).ids, [0, 3, 4]);
  });

  test('probability 1 always acts and probability 0 never does; each step asks the coin once', () => {
    const always = coin(0.999999), never = coin(0);
    assert.deepEqual(apply(new Xtc(1, 0.1), always).ids, [0, 3, 4]);
    assert.equal(always.calls, 1);
    assert.deepEqual(apply(new Xtc(0, 0.1), never).ids, [0, 1, 2, 3, 4]);
    assert.equal(never.calls, 0);
  });

  test('a threshold above 0.5 disables it, and so does a single candidate: no coin is drawn', () => {
    const c1 = coin(0), c2 = coin(0);
    assert.deepEqual(apply(new Xtc(1, 0.51), c1).ids, [0, 1, 2, 3, 4]);
    assert.deepEqual(apply(new Xtc(1, 0.1), c2, [0]).ids, [0]);
    assert.equal(c1.calls + c2.calls, 0);
  });

  test('min_keep: nothing is removed when fewer would be left', () => {
    assert.deepEqual(apply(new Xtc(1, 0.1, 3), coin(0)).ids, [0, 3, 4]); // 3 left: allowed
    assert.deepEqual(apply(new Xtc(1, 0.1, 4), coin(0)).ids, [0, 1, 2, 3, 4]);
  });

  test('ties: of equally likely tokens above the threshold, the highest id is the one kept', () => {
    // Three at e^0 and one far below: each of the three has p ≈ 1/3.
    assert.deepEqual(apply(new Xtc(1, 0.1), coin(0), [0, 0, 0, -10]).ids, [2, 3]);
  });

  test('the coin comes from the rng it is given: the same seed, the same outcome', () => {
    const outcomes = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 40 }, () => apply(new Xtc(0.5, 0.1), rng).ids.length);
    };
    assert.deepEqual(outcomes(3), outcomes(3));
    // The outcome is exactly "uniform ≤ 0.5" on that rng's stream.
    const stream = new Rng(3);
    assert.deepEqual(outcomes(3), Array.from({ length: 40 }, () => (stream.uniform() <= 0.5 ? 3 : 5)));
    assert.ok(outcomes(3).includes(3) && outcomes(3).includes(5));
  });

  test('without an rng it refuses to guess', () => {
    assert.throws(() => new Xtc(1, 0.1).apply(new Candidates(LOGITS), EMPTY), /xtc needs the sample's rng/);
  });
});
