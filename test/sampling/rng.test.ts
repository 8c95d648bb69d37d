import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, rngFor } from '../../src/sampling/rng.js';

test('the stream for a seed is fixed forever (these numbers must never change)', () => {
  const r = new Rng(42);
  assert.deepEqual([r.nextU32(), r.nextU32(), r.nextU32()], [2837322924, 544945897, 479756282]);
  assert.equal(new Rng(42, 1).nextU32(), 174307258);
  assert.equal(new Rng(2 ** 40 + 5).uniform(), 0.14597140604676728);
});

test('streams differ by seed and by sample index; uniform() stays in [0, 1)', () => {
  assert.notEqual(rngFor(1, 0).nextU32(), rngFor(1, 1).nextU32());
  assert.notEqual(rngFor(1, 0).nextU32(), rngFor(2, 0).nextU32());
  const r = new Rng(7);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    sum += u;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01, 'mean near 1/2');
});
