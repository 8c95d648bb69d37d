import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { headAblationLogits, headAblationScan, type AblationMode } from '../../src/interp/heads.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { maxAbsDiff, needsShared, sharedModel, softmax, userError } from '../helpers.js';
import { LONG_IDS, ReferenceModel } from './reference.js';

const STORIES = () => sharedModel('stories260K.gguf')!;
const GPT2 = () => fixture('gguf', SMALL.gpt2, DType.F32);
const LLAMA = () => fixture('gguf', SMALL.llama, DType.F32);

const CASES: [string, () => string, string | number[], { skip: string | false }][] = [
  ['stories260K', STORIES, 'Lily was happy. One day,', needsShared('stories260K.gguf')],
  ['GPT-2 fixture', GPT2, LONG_IDS.slice(0, 20), { skip: false }],
  ['Llama fixture (grouped-query attention)', LLAMA, LONG_IDS.slice(0, 20), { skip: false }],
];
const MODES: AblationMode[] = ['zero', 'mean'];

function ids(m: Model, x: string | number[]): number[] {
  return typeof x === 'string' ? m.tokenizer.encode(x) : x;
}

/** The reference's last-position logits with head h of layer l set to 0 or to its mean z over the prompt, at every position. */
function referenceAblated(ref: ReferenceModel, tokens: number[], layer: number, head: number, mode: AblationMode): Float64Array {
  const c = ref.config, T = tokens.length, hd = c.headDim, H = c.nHead, V = c.vocabSize;
  const name = `blocks.${layer}.attn.hook_z`;
  const z = ref.run(tokens).acts.get(name)!.data;
  const mean = new Float64Array(hd);
  for (let p = 0; p < T; p++) for (let i = 0; i < hd; i++) mean[i]! += z[(p * H + head) * hd + i]! / T;
  const ablate = (a: Float64Array) => { for (let p = 0; p < T; p++) a.set(mode === 'zero' ? new Float64Array(hd) : mean, (p * H + head) * hd); };
  return ref.run(tokens, new Map([[name, ablate]])).logits.slice((T - 1) * V);
}

describe('head ablation matches the float64 reference', () => {
  for (const [name, path, prompt, skip] of CASES) {
    for (const mode of MODES) {
      test(`${name}, ${mode}: every head's ablated logits within 1e-4, and its KL`, skip, () => {
        const m = loadModel(path()), ref = new ReferenceModel(path()), tokens = ids(m, prompt);
        const runs = headAblationLogits(m, tokens, mode);
        const scan = headAblationScan(m, tokens, { mode });
        assert.equal(runs.cells.length, m.config.nLayer * m.config.nHead);
        const p = softmax(runs.clean);
        let worst = 0;
        runs.cells.forEach(({ layer, head }, i) => {
          const want = referenceAblated(ref, tokens, layer, head, mode);
          worst = Math.max(worst, maxAbsDiff(runs.ablated[i]!, want));
          const q = softmax(want);
          let kl = 0;
          for (let t = 0; t < p.length; t++) if (p[t]! > 0) kl += p[t]! * Math.log(p[t]! / q[t]!);
          const got = scan.heads.find((h) => h.layer === layer && h.head === head)!;
          assert.ok(Math.abs(got.kl_nats - kl) < 1e-5, `L${layer}H${head}: KL ${got.kl_nats} vs ${kl}`);
        });
        assert.ok(worst < 1e-4, `max |Δlogit| = ${worst}`);
      });
    }
  }
});

describe('head scans: batching, identities, ranking', () => {
  for (const [name, path, prompt, skip] of CASES) {
    test(`${name}: batched logits are the one-pass-per-head logits, bit for bit (zero and mean; one group and groups of one)`, skip, () => {
      const m = loadModel(path()), tokens = ids(m, prompt);
      for (const mode of MODES) {
        const one = headAblationLogits(m, tokens, mode, { batched: false });
        for (const opts of [{}, { memory: 1 }]) {
          const many = headAblationLogits(m, tokens, mode, opts);
          assert.ok(Buffer.from(many.clean.buffer).equals(Buffer.from(one.clean.buffer)));
          many.ablated.forEach((l, i) => assert.ok(Buffer.from(l.buffer).equals(Buffer.from(one.ablated[i]!.buffer)), `${mode}: head ${i}`));
        }
      }
    });
  }

  test('GPT-2 fixture, 90 positions (each sequence spans two chunks): batched = one pass per head', () => {
    const m = loadModel(GPT2());
    const one = headAblationLogits(m, LONG_IDS, 'mean', { batched: false }), many = headAblationLogits(m, LONG_IDS, 'mean');
    many.ablated.forEach((l, i) => assert.ok(Buffer.from(l.buffer).equals(Buffer.from(one.ablated[i]!.buffer)), `head ${i}`));
  });

  for (const [name, path] of [['GPT-2 fixture', GPT2], ['Llama fixture', LLAMA]] as const) {
    test(`${name}: a head whose output-projection columns are zero changes nothing when ablated (KL exactly 0)`, () => {
      const m = loadModel(path()), c = m.config, hd = c.headDim;
      // Zero head 2 of layer 1: its columns of W_O ([d_model, n_heads·d_head], F32 in the heap).
      const W = m.transformer.weights.layers[1]!.out;
      const w = m.heap.f32(W.ptr, W.rows * W.cols);
      for (let r = 0; r < W.rows; r++) w.fill(0, r * W.cols + 2 * hd, r * W.cols + 3 * hd);
      for (const mode of MODES) {
        const scan = headAblationScan(m, LONG_IDS.slice(0, 20), { mode });
        const dead = scan.heads.find((h) => h.layer === 1 && h.head === 2)!;
        assert.equal(dead.kl_nats, 0, mode);
        assert.equal(dead.top1_changed, false);
        assert.ok(scan.heads.filter((h) => h.kl_nats > 0).length === c.nLayer * c.nHead - 1, 'every other head matters a little');
        assert.deepEqual(scan.heads.at(-1), dead, 'ranked last');
      }
    });
  }

  test('mean ablation on a one-token prompt is no ablation: every KL is exactly 0', () => {
    const m = loadModel(LLAMA());
    for (const h of headAblationScan(m, [1], { mode: 'mean' }).heads) assert.equal(h.kl_nats, 0);
  });

  test('ranked by KL, largest first; the JSON has exactly the documented keys', () => {
    const m = loadModel(GPT2());
    const scan = JSON.parse(JSON.stringify(headAblationScan(m, LONG_IDS.slice(0, 20))));
    assert.deepEqual(Object.keys(scan), ['mode', 'heads']);
    assert.equal(scan.mode, 'zero');
    assert.deepEqual(Object.keys(scan.heads[0]), ['layer', 'head', 'kl_nats', 'top1_changed', 'top']);
    assert.deepEqual(Object.keys(scan.heads[0].top[0]), ['token_id', 'token', 'prob']);
    assert.equal(scan.heads[0].top.length, 5);
    const kls = scan.heads.map((h: { kl_nats: number }) => h.kl_nats);
    assert.deepEqual(kls, [...kls].sort((a, b) => b - a));
    assert.equal(new Set(scan.heads.map((h: { layer: number; head: number }) => `${h.layer}.${h.head}`)).size, 8);
  });

  test('stories260K: on "Lily was happy. One day," no single head changes the top token " she"; layer 2 heads 6 and 4 matter most', needsShared('stories260K.gguf'), () => {
    const scan = headAblationScan(loadModel(STORIES()), 'Lily was happy. One day,');
    assert.ok(scan.heads.every((h) => !h.top1_changed && h.top[0]!.token === ' she'));
    assert.deepEqual(scan.heads.slice(0, 2).map((h) => `L${h.layer}H${h.head}`), ['L2H6', 'L2H4']);
  });

  test('an unknown --mode is one clear error', () => {
    assert.throws(() => headAblationScan(loadModel(GPT2()), [1, 2], { mode: 'half' }), userError('--mode must be zero or mean, got "half"', 'mode'));
  });
});
