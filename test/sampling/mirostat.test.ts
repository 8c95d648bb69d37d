import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Candidates } from '../../src/sampling/candidates.js';
import { Mirostat, MIROSTAT_MU } from '../../src/sampling/mirostat.js';
import type { SamplingContext } from '../../src/sampling/sampler.js';

// p = 1/16, 1/4, 1/2, 1/16, 1/8 for ids 0..4; a vocabulary of N = 5.
const P = [0.0625, 0.25, 0.5, 0.0625, 0.125];
const LOGITS = Float32Array.from(P, Math.log);
const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) < tol, `${a} ≠ ${b}`);

/**
 * One step as the chain runs it: apply, check which ids are kept, then accept `token` (as if the
 * chain had drawn it). Returns μ after the step.
 */
function step(s: Mirostat, ctx: SamplingContext, token: number, kept: number[], logits: ArrayLike<number> = LOGITS): number {
  const c = new Candidates(logits);
  s.apply(c, ctx);
  assert.deepEqual(Array.from(c.ids.subarray(0, c.size)).sort((a, b) => a - b), kept);
  s.accept(token, c, ctx);
  return ctx.state![MIROSTAT_MU]!;
}
const fresh = (): SamplingContext => ({ tokens: [], promptLength: 0, text: '', state: {} });

describe('mirostat v2', () => {
  test('keeps tokens with surprise −log2 p ≤ μ; μ starts at 2τ and moves by η·(surprise − τ) after each draw', () => {
    const s = new Mirostat(2, 1.6, 0.1), ctx = fresh();
    // μ0 = 3.2: keeps p ≥ 2^−3.2 = 0.109, i.e. 1/4, 1/2, 1/8 → renormalized 2/7, 4/7, 1/7.
    let mu = 3.2;
    // Draw id 2: surprise log2(7/4).
    mu -= 0.1 * (Math.log2(7 / 4) - 1.6);
    close(step(s, ctx, 2, [1, 2, 4]), mu); // 3.2792645
    // Draw id 4: surprise log2 7.
    mu -= 0.1 * (Math.log2(7) - 1.6);
    close(step(s, ctx, 4, [1, 2, 4]), mu); // 3.1585290
    // Draw id 1: surprise log2(7/2).
    mu -= 0.1 * (Math.log2(7 / 2) - 1.6);
    close(step(s, ctx, 1, [1, 2, 4]), mu); // 3.1377935
  });

  test('a falling μ truncates harder, down to one token (whose surprise is 0), and then recovers', () => {
    const s = new Mirostat(2, 1.6, 1), ctx = fresh();
    // Draw id 4 (surprise log2 7): μ1 = 3.2 − (2.807355 − 1.6) = 1.992645, so only p ≥ 0.2513 is left: id 2.
    const mu1 = step(s, ctx, 4, [1, 2, 4]);
    close(mu1, 3.2 - (Math.log2(7) - 1.6));
    // Alone, id 2 has p = 1: surprise 0, μ2 = μ1 + 1.6, which lets 1/4 and 1/8 back in (2^−3.59 = 0.083).
    const mu2 = step(s, ctx, 2, [2]);
    close(mu2, mu1 + 1.6);
    step(s, ctx, 2, [1, 2, 4]);
  });

  test('keeps at least one token, or min_keep', () => {
    const ctx: SamplingContext = { tokens: [], promptLength: 0, text: '', state: { [MIROSTAT_MU]: 0.1 } };
    step(new Mirostat(2, 5, 0.1), ctx, 2, [2]);
    ctx.state![MIROSTAT_MU] = 0.1;
    step(new Mirostat(2, 5, 0.1, 2), ctx, 2, [1, 2]);
  });
});

describe('mirostat v1', () => {
  // The Zipf fit over the sorted p = 1/2, 1/4, 1/8, 1/16, 1/16: t_i = ln((i + 2)/(i + 1)) and
  // b_i = ln(p_i / p_{i+1}) = ln 2, ln 2, ln 2, 0, so ŝ = Σ t·b / Σ t² = 2 (ln 2)² / Σ t² = 1.2360367.
  const t = [1, 2, 3, 4].map((i) => Math.log((i + 1) / i));
  const sHat = (2 * Math.LN2 ** 2) / t.reduce((a, x) => a + x * x, 0);
  const k = (mu: number) => (((sHat - 1) * 2 ** mu) / (1 - 5 ** -(sHat - 1))) ** (1 / sHat);

  test('the fitted exponent and k by hand', () => {
    close(sHat, 1.236036685661197, 1e-12);
    close(k(2), 2.4238749942831044, 1e-9); // τ = 1: keep 2
    close(k(3), 4.2467311341573275, 1e-9); // τ = 1.5: keep 4
  });

  test('keeps the k most likely (ties by lower id), μ over several steps', () => {
    const s = new Mirostat(1, 1, 1), ctx = fresh();
    // μ0 = 2, k = 2.42: ids 2 and 1 (p 2/3, 1/3). Draw id 1: surprise log2 3, μ1 = 2 − (1.585 − 1) = 1.415.
    const mu1 = step(s, ctx, 1, [1, 2]);
    close(mu1, 2 - (Math.log2(3) - 1));
    // k(1.415) = 1.75: id 2 alone, surprise 0: μ2 = μ1 + 1 = 2.415.
    assert.equal(Math.trunc(k(mu1)), 1);
    const mu2 = step(s, ctx, 2, [2]);
    close(mu2, mu1 + 1);
    // k(2.415) = 3.13: ids 2, 1, 4 (p 4/7, 2/7, 1/7). Draw id 4: surprise log2 7.
    assert.equal(Math.trunc(k(mu2)), 3);
    close(step(s, ctx, 4, [1, 2, 4]), mu2 - (Math.log2(7) - 1));
    // τ = 1.5: μ0 = 3, k = 4.25 keeps four; of the 1/16 pair, id 0 (the lower id).
    step(new Mirostat(1, 1.5, 0.1), fresh(), 2, [0, 1, 2, 4]);
  });

  test('the fit uses the 100 most likely tokens and N is the whole vocabulary', () => {
    // An exact Zipf distribution p_i ∝ (i + 1)^−1.5 over 1000 tokens: ŝ = 1.5, so at μ = 10
    // k = (0.5 · 2^10 / (1 − 1000^−0.5))^(1/1.5) = 65.39: the 65 most likely, ids 0..64.
    const zipf = Float32Array.from({ length: 1000 }, (_, i) => -1.5 * Math.log(i + 1));
    const kept = Array.from({ length: 65 }, (_, i) => i);
    step(new Mirostat(1, 5, 0.1), fresh(), 0, kept, zipf);
  });

  test('past the 100 it ranked, k is found by counting (no sort): ids 0..1032 of a 5000-token Zipf', () => {
    // ŝ = 1.5 again, N = 5000, μ = 16: k = (0.5 · 2^16 / (1 − 5000^−0.5))^(1/1.5) = 1033.77.
    const zipf = Float32Array.from({ length: 5000 }, (_, i) => -1.5 * Math.log(i + 1));
    const ctx: SamplingContext = { tokens: [], promptLength: 0, text: '', state: { [MIROSTAT_MU]: 16 } };
    step(new Mirostat(1, 5, 0.1), ctx, 0, Array.from({ length: 1033 }, (_, i) => i), zipf);
  });

  test('one candidate (no fit possible) keeps it', () => {
    const c = new Candidates([-Infinity, 0.5]);
    c.dropBanned();
    new Mirostat(1, 5, 0.1).apply(c, fresh());
    assert.deepEqual(Array.from(c.ids.subarray(0, c.size)), [1]);
  });
});

test('without state (a one-off step) μ starts at 2τ and nothing is kept', () => {
  const s = new Mirostat(2, 3, 0.1);
  const ctx: SamplingContext = { tokens: [], promptLength: 0, text: '' };
  assert.equal(s.mu(ctx), 6);
  const c = new Candidates(LOGITS);
  s.apply(c, ctx);
  s.accept(2, c, ctx);
  assert.equal(ctx.state, undefined);
  assert.equal(s.mu(ctx), 6);
  // What μ would become: id 2 among everything (μ = 6 keeps p ≥ 1/64: all five): surprise 1 bit.
  close(s.nextMu(2, c, ctx), 6 - 0.1 * (1 - 3));
});
