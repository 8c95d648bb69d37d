import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Candidates } from '../../src/sampling/candidates.js';
import { DynaTemp } from '../../src/sampling/dynatemp.js';
import type { Sampler } from '../../src/sampling/sampler.js';
import { applyStage, close } from './stage.js';

// p = 1/16, 1/4, 1/2, 1/16, 1/8: H = 1.875 bits = 1.875·ln 2 nats, over 5 candidates.
const P = [0.0625, 0.25, 0.5, 0.0625, 0.125];
const LOGITS = Float32Array.from(P, Math.log);

const apply = (s: Sampler, logits: ArrayLike<number>) => applyStage(s, logits);
/** p^(1/T), renormalized: the distribution at temperature T. */
const atT = (t: number) => { const q = P.map((p) => p ** (1 / t)); const z = q.reduce((a, b) => a + b, 0); return q.map((x) => x / z); };

describe('dynatemp (llama.cpp temp-ext)', () => {
  test('the temperature follows the normalized entropy: min + (max − min)·(H / ln n)^exponent', () => {
    const norm = (1.875 * Math.LN2) / Math.log(5); // 0.80757…
    const linear = new DynaTemp(1, 0.5, 1);
    close(linear.temperatureFor(new Candidates(LOGITS)), 0.5 + norm);
    const r = apply(linear, LOGITS);
    atT(0.5 + norm).forEach((p, id) => close(r.probs.get(id)!, p));
    // Exponent 2 pulls the temperature toward the low end for the same entropy.
    close(new DynaTemp(1, 0.5, 2).temperatureFor(new Candidates(LOGITS)), 0.5 + norm ** 2);
    // T 0.8 ∓ 0.3: from 0.5 to 1.1.
    close(new DynaTemp(0.8, 0.3, 1).temperatureFor(new Candidates(LOGITS)), 0.5 + 0.6 * norm);
  });

  test('maximal entropy (uniform) gives T + range; the uniform distribution stays uniform', () => {
    close(new DynaTemp(1, 0.5).temperatureFor(new Candidates([0, 0, 0, 0])), 1.5);
    const r = apply(new DynaTemp(1, 0.5), [0, 0, 0, 0]);
    for (let id = 0; id < 4; id++) close(r.probs.get(id)!, 0.25);
  });

  test('zero entropy gives max(0, T − range): 0.5 divides the logits by 0.5; 0 keeps only the best', () => {
    // exp(−200) is 0 in f32: all the mass is on token 0, H = 0.
    const r = apply(new DynaTemp(1, 0.5), [0, -200, -200]);
    assert.deepEqual([r.logits.get(0), r.logits.get(1), r.logits.get(2)], [0, -400, -400]);
    assert.deepEqual(apply(new DynaTemp(0.5, 0.5), [-200, 0, -200]).ids, [1]);
    assert.deepEqual(apply(new DynaTemp(0.3, 0.5), [-200, 0, -200]).ids, [1]); // T − range < 0 counts as 0
  });

  test('one candidate, or range 0, changes nothing', () => {
    assert.deepEqual([...apply(new DynaTemp(1, 0.5), [3]).logits], [[0, 3]]);
    const r = apply(new DynaTemp(2, 0), LOGITS);
    P.forEach((p, id) => close(r.probs.get(id)!, p));
  });
});
