import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gpt2Graph, ParameterSet, parameterLayout, type Gpt2Shape } from '../../src/train/gpt2.js';
import {
  attentionBackward, attentionForward, crossEntropyBackward, crossEntropyForward, encoderBackward, encoderForward, geluBackward, geluForward,
  layerNormBackward, layerNormForward, matmulBackward, matmulForward, residualBackward, residualForward, type Arr,
} from '../../src/train/layers.js';
import { Rng } from '../../src/sampling/rng.js';

// Gradient checks in float64: central differences with step 1e-6 agree with the analytic gradients to
// ~1e-8 relative; the tolerance below (2e-6 of the gradients' scale) leaves room and still catches any
// wrong term (those are off by O(1)).
const H = 1e-6;
const rng = new Rng(42);
const randn = (n: number, scale = 1) => Float64Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale * 1.7);

/** Checks d(Σ r·f(x))/dx[i] for every i against central differences. */
function check(name: string, x: Arr, analytic: Arr, objective: () => number): void {
  let worst = 0, scale = 1e-12;
  for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(analytic[i]!));
  for (let i = 0; i < x.length; i++) {
    const keep = x[i]!;
    x[i] = keep + H; const up = objective();
    x[i] = keep - H; const down = objective();
    x[i] = keep;
    worst = Math.max(worst, Math.abs((up - down) / (2 * H) - analytic[i]!));
  }
  assert.ok(worst <= 2e-6 * scale, `${name}: worst |numeric − analytic| = ${worst.toExponential(2)} (gradient scale ${scale.toExponential(2)})`);
}

const dot = (a: Arr, b: Arr) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!; return s; };

describe('gradient checks, one layer at a time', () => {
  it('embedding (token + position)', () => {
    const N = 6, T = 3, C = 4, tokens = [2, 0, 2, 1, 1, 2];
    const wte = randn(3 * C), wpe = randn(T * C), r = randn(N * C), out = new Float64Array(N * C);
    const f = () => { encoderForward(out, tokens, wte, wpe, N, T, C); return dot(out, r); };
    const dwte = new Float64Array(wte.length), dwpe = new Float64Array(wpe.length);
    encoderBackward(dwte, dwpe, r, tokens, N, T, C);
    check('wte', wte, dwte, f);
    check('wpe', wpe, dwpe, f);
  });

  it('LayerNorm', () => {
    const N = 3, C = 7;
    const x = randn(N * C), w = randn(C), b = randn(C), r = randn(N * C);
    const out = new Float64Array(N * C), mean = new Float64Array(N), rstd = new Float64Array(N);
    const f = () => { layerNormForward(out, mean, rstd, x, w, b, N, C, 1e-5); return dot(out, r); };
    f();
    const dx = new Float64Array(x.length), dw = new Float64Array(C), db = new Float64Array(C);
    layerNormBackward(dx, dw, db, r, x, w, mean, rstd, N, C);
    check('x', x, dx, f);
    check('weight', w, dw, f);
    check('bias', b, db, f);
  });

  it('linear (matmul + bias)', () => {
    const N = 4, C = 5, OC = 3;
    const x = randn(N * C), w = randn(OC * C), b = randn(OC), r = randn(N * OC), out = new Float64Array(N * OC);
    const f = () => { matmulForward(out, x, w, b, N, C, OC); return dot(out, r); };
    const dx = new Float64Array(x.length), dw = new Float64Array(w.length), db = new Float64Array(OC);
    matmulBackward(dx, dw, db, r, x, w, N, C, OC);
    check('x', x, dx, f);
    check('weight', w, dw, f);
    check('bias', b, db, f);
  });

  it('causal multi-head attention', () => {
    const B = 2, T = 4, C = 6, NH = 2;
    const qkv = randn(B * T * 3 * C), r = randn(B * T * C);
    const out = new Float64Array(B * T * C), att = new Float64Array(B * NH * T * T);
    const f = () => { attentionForward(out, att, qkv, B, T, C, NH); return dot(out, r); };
    f();
    // Causal: every row sums to 1 and puts nothing on later positions.
    for (let row = 0; row < B * NH * T; row++) {
      const t = row % T;
      assert.ok(Math.abs(att.subarray(row * T, row * T + T).reduce((a, b) => a + b, 0) - 1) < 1e-12);
      for (let u = t + 1; u < T; u++) assert.equal(att[row * T + u], 0);
    }
    const dqkv = new Float64Array(qkv.length);
    attentionBackward(dqkv, r, qkv, att, B, T, C, NH);
    check('qkv', qkv, dqkv, f);
  });

  it('GELU (tanh)', () => {
    const n = 9, x = randn(n, 2), r = randn(n), out = new Float64Array(n);
    const f = () => { geluForward(out, x, n); return dot(out, r); };
    const dx = new Float64Array(n);
    geluBackward(dx, x, r, n);
    check('x', x, dx, f);
  });

  it('residual', () => {
    const n = 5, a = randn(n), b = randn(n), r = randn(n), out = new Float64Array(n);
    const f = () => { residualForward(out, a, b, n); return dot(out, r); };
    const da = new Float64Array(n), db = new Float64Array(n);
    residualBackward(da, db, r, n);
    check('a', a, da, f);
    check('b', b, db, f);
  });

  it('softmax + cross-entropy (an unscored row has no gradient)', () => {
    const N = 3, V = 5, targets = [4, -1, 0];
    const logits = randn(N * V, 2), r = Float64Array.of(0.7, 1.3, -0.4);
    const losses = new Float64Array(N), probs = new Float64Array(N * V);
    const f = () => { crossEntropyForward(losses, probs, logits, targets, N, V); return dot(losses, r); };
    f();
    assert.equal(losses[1], 0);
    const dl = new Float64Array(N * V);
    crossEntropyBackward(dl, r, probs, targets, N, V);
    check('logits', logits, dl, f);
    assert.ok(dl.subarray(V, 2 * V).every((v) => v === 0));
  });
});

describe('gradient check of the whole GPT-2', () => {
  for (const tied of [true, false]) {
    it(`${tied ? 'tied' : 'separate'} unembedding: every parameter`, () => {
      const shape: Gpt2Shape = { vocab: 11, context: 6, embd: 8, layers: 2, heads: 2, ff: 12, eps: 1e-5, tied };
      const params = new ParameterSet(shape, undefined, 'f64');
      params.data.set(randn(params.count, 0.5));
      // LayerNorm gains near 1, as in a real model.
      for (const { name } of parameterLayout(shape)) {
        if (!/norm\.weight$/.test(name)) continue;
        const v = params.get(name);
        for (let i = 0; i < v.length; i++) v[i] = 1 + 0.3 * (rng.uniform() - 0.5);
      }
      const g = new Gpt2Graph(params);
      const B = 2, T = 5;
      const tokens = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3], targets = [1, 4, 1, 5, -1, 2, 6, 5, 3, 5];
      g.forward(tokens, targets, B, T);
      g.zeroGrad();
      g.backward();
      for (const { name } of parameterLayout(shape)) check(name, params.get(name), g.grads.get(name), () => g.forward(tokens, targets, B, T));
      // The input-embedding gradient: what attribution reads, with or without parameter gradients.
      const dEncoded = Float64Array.from(g.dEncoded!);
      g.forward(tokens, targets, B, T);
      g.backward({ parameters: false });
      assert.deepEqual(Array.from(g.dEncoded!), Array.from(dEncoded));
      const dwpe = g.grads.get('position_embd.weight');
      for (let t = 0; t < T; t++) for (let c = 0; c < 8; c++) {
        assert.ok(Math.abs(dEncoded[t * 8 + c]! + dEncoded[(T + t) * 8 + c]! - dwpe[t * 8 + c]!) < 1e-12);
      }
    });
  }
});
