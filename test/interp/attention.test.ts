import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { attentionPatterns, type AttentionPatterns } from '../../src/interp/attention.js';
import { headScores, summarizeHead } from '../../src/interp/head-summary.js';
import type { Hooks } from '../../src/model/hooks.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { Rng } from '../../src/sampling/rng.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, userError } from '../helpers.js';

/** n token ids drawn uniformly from [lo, vocab), from a seeded stream. */
function randomIds(n: number, lo: number, vocab: number, seed: number): number[] {
  const rng = new Rng(seed, 0);
  return Array.from({ length: n }, () => lo + Math.floor(rng.uniform() * (vocab - lo)));
}

/**
 * The reference: softmax(q·k / √d_head) in float64 from the queries and keys the forward pass exposes
 * (after RoPE for the Llama family), query head h reading KV head ⌊h / (n_heads / n_kv_heads)⌋.
 * Returns [layer][head] → [pos, key_pos] row-major.
 */
function referencePatterns(model: Model, ids: number[]): Float64Array[][] {
  const c = model.config, T = ids.length, hd = c.headDim;
  const [qName, kName] = c.family === 'llama' ? ['attn.hook_rot_q', 'attn.hook_rot_k'] : ['attn.hook_q', 'attn.hook_k'];
  const q = Array.from({ length: c.nLayer }, () => new Float64Array(T * c.nHead * hd));
  const k = Array.from({ length: c.nLayer }, () => new Float64Array(T * c.nHeadKv * hd));
  const hooks: Hooks = new Map();
  for (let l = 0; l < c.nLayer; l++) {
    // Chunks of 64 positions: place each row at its absolute position.
    hooks.set(`blocks.${l}.${qName}`, (a, ctx) => ctx.positions.forEach((p, r) => q[l]!.set(a.subarray(r * c.nHead * hd, (r + 1) * c.nHead * hd), p * c.nHead * hd)));
    hooks.set(`blocks.${l}.${kName}`, (a, ctx) => ctx.positions.forEach((p, r) => k[l]!.set(a.subarray(r * c.nHeadKv * hd, (r + 1) * c.nHeadKv * hd), p * c.nHeadKv * hd)));
  }
  model.withScratch(() => model.forward(ids, model.newCache(T), { hooks }));
  const group = c.nHead / c.nHeadKv;
  return q.map((ql, l) => Array.from({ length: c.nHead }, (_, h) => {
    const kh = Math.floor(h / group), out = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += ql[(i * c.nHead + h) * hd + d]! * k[l]![(j * c.nHeadKv + kh) * hd + d]!;
        out[i * T + j] = s / Math.sqrt(hd);
        max = Math.max(max, out[i * T + j]!);
      }
      let z = 0;
      for (let j = 0; j <= i; j++) z += out[i * T + j] = Math.exp(out[i * T + j]! - max);
      for (let j = 0; j <= i; j++) out[i * T + j]! /= z;
    }
    return out;
  }));
}

/** Every row sums to 1, every entry above the diagonal is 0, and every entry matches the reference. */
function checkPatterns(model: Model, ids: number[]): { maxDiff: number; maxRowError: number } {
  const a = attentionPatterns(model, ids);
  const ref = referencePatterns(model, ids);
  const T = ids.length, c = model.config;
  assert.deepEqual(a.tokens.map((t) => t.token_id), ids);
  assert.deepEqual(a.layers.map((l) => l.layer), [...Array(c.nLayer).keys()]);
  let maxDiff = 0, maxRowError = 0;
  for (const { layer, heads } of a.layers) {
    assert.deepEqual(heads.map((h) => h.head), [...Array(c.nHead).keys()]);
    for (const { head, pattern } of heads) {
      assert.equal(pattern!.length, T);
      pattern!.forEach((row, i) => {
        assert.equal(row.length, T);
        let sum = 0;
        row.forEach((p, j) => {
          if (j > i) assert.equal(p, 0, `layer ${layer} head ${head}: [${i}][${j}] is above the diagonal`);
          sum += p;
          maxDiff = Math.max(maxDiff, Math.abs(p - ref[layer]![head]![i * T + j]!));
        });
        maxRowError = Math.max(maxRowError, Math.abs(sum - 1));
      });
    }
  }
  assert.ok(maxRowError < 1e-5, `a row sums to 1 ± ${maxRowError}`);
  assert.ok(maxDiff < 1e-5, `pattern differs from softmax(q·k/√d) by ${maxDiff}`);
  return { maxDiff, maxRowError };
}

describe('attentionPatterns: whole patterns across 64-position chunks', () => {
  it('GPT-2 fixture, 100 tokens: causal, rows sum to 1, equal to softmax(q·k/√d) from hook_q/hook_k', (t) => {
    const model = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const r = checkPatterns(model, randomIds(100, 0, model.config.vocabSize - 1, 1));
    t.diagnostic(`max |Δ| ${r.maxDiff.toExponential(2)}, max |row sum − 1| ${r.maxRowError.toExponential(2)}`);
    model.close();
  });

  it('Llama fixture with grouped-query attention (4 query heads, 2 KV heads), 110 tokens, from hook_rot_q/hook_rot_k', (t) => {
    const model = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    assert.equal(model.config.nHead / model.config.nHeadKv, 2);
    const r = checkPatterns(model, [1, ...randomIds(109, 3, model.config.vocabSize, 2)]);
    t.diagnostic(`max |Δ| ${r.maxDiff.toExponential(2)}, max |row sum − 1| ${r.maxRowError.toExponential(2)}`);
    model.close();
  });

  it('stories260K (8 query heads, 4 KV heads), a story longer than two chunks', needsShared('stories260K.gguf'), (t) => {
    const model = loadModel(sharedModel('stories260K.gguf')!);
    const ids = model.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big red ball in the grass. She ran to it and kicked it as hard as she could. The ball flew over the fence and into the garden of an old man. Lily was sad, but the old man smiled and gave the ball back to her. They became good friends and played together every day.');
    assert.ok(ids.length > 128, `${ids.length} tokens`);
    const r = checkPatterns(model, ids);
    t.diagnostic(`${ids.length} tokens: max |Δ| ${r.maxDiff.toExponential(2)}, max |row sum − 1| ${r.maxRowError.toExponential(2)}`);
    model.close();
  });

  it('--layer and --head pick out the same numbers; --head alone gives that head in every layer', () => {
    const model = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    const prompt = 'The cat sat on the mat';
    const all = attentionPatterns(model, prompt);
    const one = attentionPatterns(model, prompt, { layer: 1, head: 3 });
    assert.deepEqual(one.tokens, all.tokens);
    assert.deepEqual(one.layers, [{ layer: 1, heads: [all.layers[1]!.heads[3]!] }]);
    const head = attentionPatterns(model, prompt, { head: 2 });
    assert.deepEqual(head.layers, all.layers.map((l) => ({ layer: l.layer, heads: [l.heads[2]!] })));
    assert.equal(all.tokens[0]!.token, '<bos>');
    model.close();
  });

  it('a layer or head outside the model is a UserError naming the allowed range', () => {
    const model = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    assert.throws(() => attentionPatterns(model, 'The cat', { layer: 2 }), userError('--layer must be an integer from 0 to 1 (this model has 2 layers), got 2', 'layer'));
    assert.throws(() => attentionPatterns(model, 'The cat', { layer: -1 }), userError('--layer must be an integer from 0 to 1 (this model has 2 layers), got -1', 'layer'));
    assert.throws(() => attentionPatterns(model, 'The cat', { head: 4 }), userError('--head must be an integer from 0 to 3 (this model has 4 query heads per layer), got 4', 'head'));
    assert.throws(() => attentionPatterns(model, 'The cat', { layer: 0, head: 1.5 }), userError('--head must be an integer from 0 to 3 (this model has 4 query heads per layer), got 1.5', 'head'));
    assert.throws(() => attentionPatterns(model, [1, 99999]), userError(`--prompt: token id 99999 is outside the vocabulary (0..${model.config.vocabSize - 1})`, 'prompt'));
    model.close();
  });
});

/** A causal pattern from unnormalised weights w(i, k) for k ≤ i, each row scaled to sum to 1. */
function pattern(T: number, w: (i: number, k: number) => number): number[][] {
  return Array.from({ length: T }, (_, i) => {
    const row = Array.from({ length: T }, (_, k) => (k <= i ? w(i, k) : 0));
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((x) => x / s);
  });
}

/** Row i puts `p` on key f(i) and spreads the rest evenly over the other keys 0…i. */
const focused = (T: number, p: number, f: (i: number) => number) => pattern(T, (i, k) => (i === 0 ? 1 : k === f(i) ? p : (1 - p) / i));

describe('summarizeHead on hand-built patterns', () => {
  const ids = [1, 10, 11, 12, 13, 14, 15, 16];
  const T = ids.length;

  it('previous: 0.9 on i−1 in every row', () => {
    const s = summarizeHead(focused(T, 0.9, (i) => i - 1), ids);
    assert.equal(s.kind, 'previous');
    assert.ok(Math.abs(s.score - 0.9) < 1e-12);
  });

  it('first: 0.8 on position 0 (BOS)', () => {
    const s = summarizeHead(focused(T, 0.8, () => 0), ids);
    assert.equal(s.kind, 'first');
    assert.ok(Math.abs(s.score - 0.8) < 1e-12);
  });

  it('self: 0.7 on i', () => {
    const s = summarizeHead(focused(T, 0.7, (i) => i), ids);
    assert.equal(s.kind, 'self');
    assert.ok(Math.abs(s.score - 0.7) < 1e-12);
  });

  it('induction: on a repeated sequence, 0.9 on the token after the earlier copy of the current token', () => {
    const seq = [20, 21, 22, 23, 24, 25];
    const rep = [1, ...seq, ...seq]; // BOS, then the sequence twice: position i ≥ 7 copies position i − 6
    const p = pattern(rep.length, (i, k) => (i >= 7 ? (k === i - 5 ? 0.9 : 0.1 / i) : 1));
    const s = summarizeHead(p, rep);
    assert.equal(s.kind, 'induction');
    assert.ok(Math.abs(s.score - 0.9) < 1e-12, String(s.score));
    // The same pattern on a prompt without repeats has no induction score at all.
    assert.equal(headScores(p, [1, ...seq, 30, 31, 32, 33, 34, 35]).induction, null);
  });

  it('diffuse: uniform attention scores 1 (entropy equals uniform attention\'s)', () => {
    const s = summarizeHead(pattern(T, () => 1), ids);
    assert.equal(s.kind, 'diffuse');
    assert.ok(Math.abs(s.score - 1) < 1e-12);
  });

  it('the exact scores: previous and first average rows 2…T−1, self rows 1…T−1', () => {
    // T = 4, 0.9 on i−1: first gets (1 − 0.9)/i in rows 2 and 3; self likewise, plus row 1's 0.1.
    const s = headScores(focused(4, 0.9, (i) => i - 1), [1, 2, 3, 4]);
    assert.ok(Math.abs(s.previous! - 0.9) < 1e-12);
    assert.ok(Math.abs(s.first! - (0.1 / 2 + 0.1 / 3) / 2) < 1e-12);
    assert.ok(Math.abs(s.self! - (0.1 + 0.1 / 2 + 0.1 / 3) / 3) < 1e-12);
    assert.equal(s.induction, null);
    assert.deepEqual(headScores([[1], [0.5, 0.5]], [1, 2]), { previous: null, first: null, self: 0.5, induction: null, diffuse: 1 });
  });

  it('the highest score above the threshold wins; below every threshold the head is diffuse', () => {
    // 0.5 on i−1 and 0.45 on position 0 (rows ≥ 2): both pass 0.4, previous is higher.
    const both = pattern(T, (i, k) => (i < 2 ? 1 : k === i - 1 ? 0.5 : k === 0 ? 0.45 : 0.05 / (i - 1)));
    assert.equal(summarizeHead(both, ids).kind, 'previous');
    // 0.35 on i−1: under 0.4, so diffuse, with the entropy score below 1.
    const weak = summarizeHead(focused(T, 0.35, (i) => i - 1), ids);
    assert.equal(weak.kind, 'diffuse');
    assert.ok(weak.score > 0.5 && weak.score < 1, String(weak.score));
  });
});

describe('induction on a real model', () => {
  it('stories260K, 20 random tokens repeated twice: no head attends like an induction head', needsShared('stories260K.gguf'), (t) => {
    const model = loadModel(sharedModel('stories260K.gguf')!);
    let best = { score: 0, layer: -1, head: -1, seed: 0 };
    for (const seed of [1, 2, 3, 4]) {
      const seq = randomIds(20, 3, model.config.vocabSize, seed);
      const ids = [model.tokenizer.bosId!, ...seq, ...seq];
      const a: AttentionPatterns = attentionPatterns(model, ids);
      for (const { layer, heads } of a.layers) {
        for (const h of heads) {
          const score = headScores(h.pattern!, ids).induction!;
          assert.notEqual(h.summary.kind, 'induction');
          if (score > best.score) best = { score, layer, head: h.head, seed };
        }
      }
    }
    // Uniform attention would put ≈ 1/30 on the induction key; the best head here puts ≈ 0.1 there.
    t.diagnostic(`highest induction score ${best.score.toFixed(3)} (layer ${best.layer}, head ${best.head}, seed ${best.seed})`);
    assert.ok(best.score < 0.2, String(best.score));
    model.close();
  });

  it('stories260K has previous-token heads on a story', needsShared('stories260K.gguf'), (t) => {
    const model = loadModel(sharedModel('stories260K.gguf')!);
    const a = attentionPatterns(model, 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.');
    const prev = a.layers.flatMap((l) => l.heads.filter((h) => h.summary.kind === 'previous').map((h) => `${l.layer}.${h.head} ${h.summary.score.toFixed(2)}`));
    t.diagnostic(`previous-token heads: ${prev.join(', ')}`);
    assert.ok(prev.length >= 3, prev.join(', '));
    model.close();
  });
});

it('summaries only (patterns: false) are the summaries of the full patterns, without the matrices', () => {
  const model = loadModel(fixture('gguf', SMALL.llama, DType.F32));
  const ids = Array.from({ length: 100 }, (_, i) => (i * 13) % 50 + 3);
  const full = attentionPatterns(model, ids);
  const lean = attentionPatterns(model, ids, { patterns: false });
  assert.deepEqual(lean.layers.map((l) => l.heads.map((h) => h.summary)), full.layers.map((l) => l.heads.map((h) => h.summary)));
  assert.ok(lean.layers.every((l) => l.heads.every((h) => h.pattern === undefined)));
});
