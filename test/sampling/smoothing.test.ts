import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Sampler } from '../../src/sampling/sampler.js';
import { applyStage, close } from './stage.js';
import { Smoothing } from '../../src/sampling/smoothing.js';


const apply = (s: Sampler, logits: ArrayLike<number>) => applyStage(s, logits);
const softmax = (xs: number[]) => { const z = xs.reduce((s, x) => s + Math.exp(x), 0); return xs.map((x) => Math.exp(x) / z); };

describe('smoothing (text-generation-webui quadratic sampling)', () => {
  test('curve 1 is quadratic: max − factor·d²', () => {
    // d = 0, −1, −2 with factor 0.5: 0, −0.5, −2.
    const r = apply(new Smoothing(0.5, 1), [0, -1, -2]);
    assert.deepEqual([...r.logits].sort(), [[0, 0], [1, -0.5], [2, -2]]);
    softmax([0, -0.5, -2]).forEach((p, id) => close(r.probs.get(id)!, p));
  });

  test('the best logit stays where it is; a small factor flattens, a large one sharpens', () => {
    // max 2: d = 0, −1, −2 → factor 2: 2, 0, −6; factor 0.25: 2, 1.75, 1.
    const sharp = apply(new Smoothing(2), [2, 1, 0]), flat = apply(new Smoothing(0.25), [2, 1, 0]);
    assert.deepEqual([sharp.logits.get(0), sharp.logits.get(1), sharp.logits.get(2)], [2, 0, -6]);
    assert.deepEqual([flat.logits.get(0), flat.logits.get(1), flat.logits.get(2)], [2, 1.75, 1]);
    const raw = softmax([2, 1, 0]);
    assert.ok(sharp.probs.get(0)! > raw[0]! && flat.probs.get(0)! < raw[0]!);
  });

  test('curve 2 adds the cubic term: k = s = 0.5', () => {
    // −0.5·0.5·d² + 0.5·0.5·d³: d = −1 → −0.5, d = −2 → −1 − 2 = −3.
    const r = apply(new Smoothing(0.5, 2), [0, -1, -2]);
    assert.deepEqual([r.logits.get(0), r.logits.get(1), r.logits.get(2)], [0, -0.5, -3]);
  });

  test('curve 3 is purely cubic: k = 0, s = 1', () => {
    // 0.5·d³: 0, −0.5, −4.
    const r = apply(new Smoothing(0.5, 3), [0, -1, -2]);
    assert.deepEqual([r.logits.get(0), r.logits.get(1), r.logits.get(2)], [0, -0.5, -4]);
  });

  test('−∞ stays −∞ (no NaN) for every curve, and factor 0 changes nothing', () => {
    const r = apply(new Smoothing(1, 1), [0, -Infinity, -1]);
    assert.equal(r.logits.get(1), -Infinity);
    assert.equal(r.probs.get(1), 0);
    assert.equal(r.logits.get(2), -1);
    for (const curve of [2, 3, 4]) assert.equal(apply(new Smoothing(1, curve), [0, -Infinity, -1]).logits.get(1), -Infinity, `curve ${curve}`);
    assert.deepEqual([...apply(new Smoothing(0), [0, -1, -2]).logits].sort(), [[0, 0], [1, -1], [2, -2]]);
  });
});
