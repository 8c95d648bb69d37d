import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { directLogitAttribution, DLA_CONVENTION, isLayerLevel, type DlaResult } from '../../src/interp/dla.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { fixture, SMALL, WIDE } from '../fixtures/models.js';
import { needsShared, sharedModel, userError } from '../helpers.js';
import { LONG_IDS, ReferenceModel } from './reference.js';

const STORIES = () => sharedModel('stories260K.gguf')!;

const CASES: [string, () => string, string | number[], { skip: string | false }][] = [
  ['stories260K', STORIES, 'Lily was happy. One day,', needsShared('stories260K.gguf')],
  ['ladder:medium (the default model)', () => DEFAULT_MODEL, 'And God said, Let there be light: and there was', { skip: false }],
  ['GPT-2 fixture', () => fixture('gguf', SMALL.gpt2, DType.F32), LONG_IDS.slice(0, 70), { skip: false }],
  ['Llama fixture', () => fixture('gguf', SMALL.llama, DType.F32), LONG_IDS.slice(0, 70), { skip: false }],
  ['Qwen2 fixture (attention biases)', () => fixture('gguf', SMALL.qwen2, DType.F32), LONG_IDS.slice(0, 20), { skip: false }],
  // F16 and BF16 weights are widened to f32 in the engine too, so the float64 sums stay exact. (Quantized
  // weights — Q8_0 and Q4_0, and the k-quants — multiply activations rounded to 8 bits (Q8_0 / Q8_K), as
  // llama.cpp does: the sums then agree only to ~1e-2.)
  ['GPT-2 fixture, F16 weights (W_O, W_U rows widened)', () => fixture('gguf', WIDE.gpt2, DType.F16), LONG_IDS.slice(0, 30), { skip: false }],
  ['Llama fixture, BF16 weights', () => fixture('gguf', WIDE.llama, DType.BF16), LONG_IDS.slice(0, 30), { skip: false }],
];

function ids(m: Model, x: string | number[]): number[] {
  return typeof x === 'string' ? m.tokenizer.encode(x) : x;
}

function sum(r: DlaResult, pick: (c: DlaResult['components'][number]) => boolean): number {
  return r.components.filter(pick).reduce((s, c) => s + c.logit, 0);
}

/**
 * The reference's own direct logit attribution of a vector v at the last position, from its unembedding
 * alone: the final norm rescales v by v's own scale, so unembed(v)[t] (less the norm bias's part, which
 * is unembed(0)[t]) times scale(v) / scale(x) is v read with the full residual x's scale.
 */
function referenceDla(ref: ReferenceModel, v: Float64Array, x: Float64Array, target: number): number {
  const c = ref.config, gpt2 = c.family === 'gpt2';
  const scale = (a: Float64Array) => {
    const mean = gpt2 ? a.reduce((s, y) => s + y, 0) / a.length : 0;
    return Math.sqrt(a.reduce((s, y) => s + (y - mean) ** 2, 0) / a.length + c.normEps);
  };
  const bias = gpt2 ? ref.unembed(new Float64Array(c.nEmbd))[target]! : 0;
  return (ref.unembed(v)[target]! - bias) * scale(v) / scale(x);
}

describe('direct logit attribution', () => {
  for (const [name, path, prompt, skip] of CASES) {
    test(`${name}: the components add up to the target's logit (1e-4); each layer's heads (+ bias) add up to its attn_out`, skip, () => {
      const m = loadModel(path());
      const r = directLogitAttribution(m, prompt);
      assert.ok(Math.abs(r.total - r.logit) < 1e-4, `total ${r.total} vs logit ${r.logit}`);
      assert.equal(r.total, sum(r, isLayerLevel));
      for (let l = 0; l < m.config.nLayer; l++) {
        const attn = r.components.find((c) => c.name === 'attn_out' && c.layer === l)!.logit;
        const parts = sum(r, (c) => (c.name === 'head' || c.name === 'attn_bias') && c.layer === l);
        assert.ok(Math.abs(attn - parts) < 1e-4, `layer ${l}: ${attn} vs heads ${parts}`);
        assert.equal(r.components.filter((c) => c.name === 'head' && c.layer === l).length, m.config.nHead);
      }
      assert.equal(r.convention, DLA_CONVENTION[m.config.family]);
    });

    test(`${name}: every component agrees with the float64 reference read through its own unembedding (1e-4)`, skip, () => {
      const m = loadModel(path()), ref = new ReferenceModel(path()), tokens = ids(m, prompt), c = m.config;
      const T = tokens.length, d = c.nEmbd, hd = c.headDim, H = c.nHead;
      const r = directLogitAttribution(m, tokens, { target: '#7' });
      assert.equal(r.target.token_id, 7);
      const run = ref.run(tokens);
      const last = (name: string, acts = run.acts) => { const a = acts.get(name)!.data, n = a.length / T; return a.slice((T - 1) * n, T * n); };
      const x = last(`blocks.${c.nLayer - 1}.hook_resid_post`);
      const dla = (v: Float64Array) => referenceDla(ref, v, x, 7);
      const got = (name: string, layer?: number, head?: number) => r.components.find((k) => k.name === name && k.layer === layer && k.head === head)!.logit;
      const check = (what: string, a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-4, `${what}: ${a} vs reference ${b}`);
      check('embeddings', got('embed') + (c.family === 'gpt2' ? got('pos_embed') : 0), dla(last('hook_embed')));
      for (let l = 0; l < c.nLayer; l++) {
        check(`L${l} attn_out`, got('attn_out', l), dla(last(`blocks.${l}.hook_attn_out`)));
        check(`L${l} mlp_out`, got('mlp_out', l), dla(last(`blocks.${l}.hook_mlp_out`)));
      }
      // Head h's output alone: every layer's z replaced by the clean z of head h only (others 0); the
      // output projection of that, less the projection of all zeros (the bias), is head h's piece.
      const z = (l: number) => run.acts.get(`blocks.${l}.attn.hook_z`)!.data;
      const only = (h: number | undefined) => ref.run(tokens, new Map(Array.from({ length: c.nLayer }, (_, l) => [`blocks.${l}.attn.hook_z`, (a: Float64Array) => {
        for (let i = 0; i < a.length; i++) a[i] = h !== undefined && Math.floor(i / hd) % H === h ? z(l)[i]! : 0;
      }])));
      const none = only(undefined);
      for (let h = 0; h < H; h++) {
        const one = only(h);
        for (let l = 0; l < c.nLayer; l++) {
          const a = last(`blocks.${l}.hook_attn_out`, one.acts), b = last(`blocks.${l}.hook_attn_out`, none.acts);
          check(`L${l}H${h}`, got('head', l, h), dla(a.map((v, i) => v - b[i]!)));
        }
      }
      if (c.family === 'gpt2') {
        check('ln_final_bias', got('ln_final_bias'), ref.unembed(new Float64Array(d))[7]!);
        for (let l = 0; l < c.nLayer; l++) check(`L${l} attn_bias`, got('attn_bias', l), dla(last(`blocks.${l}.hook_attn_out`, none.acts)));
      }
    });
  }

  test('the JSON: components in residual order, with layer and head only where they apply', () => {
    const m = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const r = JSON.parse(JSON.stringify(directLogitAttribution(m, [84, 257, 273])));
    assert.deepEqual(Object.keys(r), ['target', 'convention', 'components', 'total', 'logit']);
    assert.deepEqual(Object.keys(r.target), ['token_id', 'token', 'prob', 'rank']);
    assert.equal(r.target.rank, 1);
    assert.deepEqual(r.components.map((c: { name: string; layer?: number; head?: number }) => [c.name, c.layer, c.head].filter((x) => x !== undefined).join(' ')), [
      'embed', 'pos_embed',
      'attn_out 0', 'head 0 0', 'head 0 1', 'head 0 2', 'head 0 3', 'attn_bias 0', 'mlp_out 0',
      'attn_out 1', 'head 1 0', 'head 1 1', 'head 1 2', 'head 1 3', 'attn_bias 1', 'mlp_out 1',
      'ln_final_bias',
    ]);
    assert.deepEqual(Object.keys(r.components[3]), ['name', 'layer', 'head', 'logit']);
    assert.deepEqual(Object.keys(r.components[0]), ['name', 'logit']);
  });

  test('a target that is not one token is the same error as everywhere', () => {
    const m = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    assert.throws(() => directLogitAttribution(m, 'The cat', { target: 'cat sat' }), userError('--target "cat sat" is 4 tokens ("c" "at" " s" "at"); give exactly one token, or #id', 'target'));
  });
});
