import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TopH } from '../../src/sampling/top-h.js';
import { applyStage, close } from './stage.js';

// p = 1/16, 1/4, 1/2, 1/16, 1/8 for ids 0..4. H = 1.875·ln 2 = 1.29966 nats. In order of probability
// (ids 2, 1, 4, 0, 3 — the 1/16 tie goes to id 0 first) the terms −p ln p are 0.34657, 0.34657,
// 0.25993, 0.17329, 0.17329, so the running entropy is 0.34657, 0.69315, 0.95308, 1.12637, 1.29966.
const P = [0.0625, 0.25, 0.5, 0.0625, 0.125];
const LOGITS = Float32Array.from(P, Math.log);

const apply = (s: TopH, logits: ArrayLike<number> = LOGITS) => applyStage(s, logits);

describe('top_h (Hugging Face TopHLogitsWarper)', () => {
  test('keeps tokens while the running entropy is at most top_h × H', () => {
    assert.deepEqual(apply(new TopH(0.5)).ids, [2]); // τ = 0.64983: the second term already passes it
    assert.deepEqual(apply(new TopH(0.6)).ids, [1, 2]); // τ = 0.77980
    const r = apply(new TopH(0.8)); // τ = 1.03973
    assert.deepEqual(r.ids, [1, 2, 4]);
    close(r.probs.get(2)!, 0.5 / 0.875);
    close(r.probs.get(4)!, 0.125 / 0.875);
  });

  test('ties at the cut: the lower id is taken first', () => {
    // τ = 0.9·H = 1.16970: the fourth term (id 0) fits, the fifth (id 3, tied with it) does not.
    const r = apply(new TopH(0.9));
    assert.deepEqual(r.ids, [0, 1, 2, 4]);
    close(r.probs.get(0)!, 0.0625 / 0.9375);
  });

  test('small top_h keeps only the most likely token; top_h 1 keeps all (of at most 100)', () => {
    assert.deepEqual(apply(new TopH(0.01)).ids, [2]);
    const all = apply(new TopH(1));
    assert.deepEqual(all.ids, [0, 1, 2, 3, 4]);
    P.forEach((p, id) => close(all.probs.get(id)!, p));
  });

  test('only the 100 most likely tokens are considered; their entropy sets τ', () => {
    // 150 equal logits: the top 100 by id are renormalized to 1/100 each; top_h 1 keeps exactly them.
    const flat = new Float32Array(150);
    const r = apply(new TopH(1), flat);
    assert.equal(r.ids.length, 100);
    assert.equal(r.ids[99], 99);
    close(r.probs.get(0)!, 0.01);
    // Over a uniform 100 each term is ln(100)/100, so top_h 0.505 (τ = 50.5 terms' worth) keeps 50.
    assert.equal(apply(new TopH(0.505), flat).ids.length, 50);
  });

  test('min_keep raises the floor', () => {
    assert.deepEqual(apply(new TopH(0.01, 3)).ids, [1, 2, 4]);
    assert.deepEqual(apply(new TopH(0.8, 2)).ids, [1, 2, 4]); // already 3
  });

  test('top_h 0 is off', () => {
    assert.equal(apply(new TopH(0)).ids.length, 5);
  });
});
