import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import type { HookFn } from '../../src/model/hooks.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { maxAbsDiff, needsShared, sharedModel } from '../helpers.js';
import { LONG_IDS, ReferenceModel, STORY, type Intervention } from './reference.js';

function engineLogits(m: Model, ids: number[], hooks?: Map<string, HookFn>): Float32Array {
  return m.withScratch(() => m.forward(ids, m.newCache(ids.length), { allLogits: true, hooks }));
}

const MODELS: [string, () => string][] = [
  ['GPT-2 fixture (learned positions, LayerNorm, fused QKV, GELU, tied head)', () => fixture('gguf', SMALL.gpt2, DType.F32)],
  ['GPT-2 fixture as a Hugging Face folder (Conv1D weights stored transposed)', () => fixture('hf', SMALL.gpt2)],
  ['Llama fixture (RMSNorm, RoPE, GQA, SwiGLU, untied head)', () => fixture('gguf', SMALL.llama, DType.F32)],
  ['Qwen2 fixture (QKV biases, NeoX RoPE)', () => fixture('gguf', SMALL.qwen2, DType.F32)],
  ['Qwen3 fixture (QK-norm)', () => fixture('gguf', SMALL.qwen3, DType.F32)],
];

describe('the float64 reference forward pass agrees with the engine', () => {
  for (const [name, path] of MODELS) {
    test(`${name}: logits within 1e-4 at all 90 positions`, () => {
      const m = loadModel(path()), ref = new ReferenceModel(path());
      const d = maxAbsDiff(ref.run(LONG_IDS).logits, engineLogits(m, LONG_IDS));
      assert.ok(d < 1e-4, `max |Δlogit| = ${d}`);
    });
  }

  test('stories260K: logits within 1e-4 over a 76-token story', needsShared('stories260K.gguf'), () => {
    const m = loadModel(sharedModel('stories260K.gguf')!), ref = new ReferenceModel(sharedModel('stories260K.gguf')!);
    const ids = m.tokenizer.encode(STORY);
    assert.equal(ids.length, 76);
    const d = maxAbsDiff(ref.run(ids).logits, engineLogits(m, ids));
    assert.ok(d < 1e-4, `max |Δlogit| = ${d}`);
  });

  test('every hook point is recorded with the documented shape', () => {
    const ref = new ReferenceModel(fixture('gguf', SMALL.llama, DType.F32));
    const c = ref.config, { acts } = ref.run([1, 5, 9]);
    assert.deepEqual(acts.get('blocks.1.attn.hook_pattern')!.shape, [c.nHead, 3, 3]);
    assert.deepEqual(acts.get('blocks.0.attn.hook_k')!.shape, [3, c.nHeadKv, c.headDim]);
    assert.deepEqual(acts.get('blocks.0.attn.hook_rot_q')!.shape, [3, c.nHead, c.headDim]);
    assert.deepEqual(acts.get('hook_logits')!.shape, [3, c.vocabSize]);
    // Causal: nothing above the diagonal; each row sums to 1.
    const p = acts.get('blocks.0.attn.hook_pattern')!.data;
    assert.equal(p[1], 0);
    assert.ok(Math.abs(p[3]! + p[4]! - 1) < 1e-12);
  });
});

describe('interventions change the reference exactly as hooks change the engine', () => {
  for (const [name, path] of [MODELS[0]!, MODELS[2]!]) {
    test(`${name}: ablate head 1 at position 2, scale the residual before block 1`, () => {
      const m = loadModel(path()), ref = new ReferenceModel(path());
      const c = m.config, hd = c.headDim, ids = LONG_IDS.slice(0, 20);
      // The engine's hook sees one chunk (all 20 positions here); the reference's sees every position.
      const ablate = (z: Float64Array | Float32Array) => z.fill(0, (2 * c.nHead + 1) * hd, (2 * c.nHead + 2) * hd);
      const scale = (x: Float64Array | Float32Array) => { for (let i = 0; i < x.length; i++) x[i]! *= 0.5; };
      const hooks = new Map<string, HookFn>([['blocks.0.attn.hook_z', (z) => { ablate(z); }], ['blocks.1.hook_resid_pre', (x) => { scale(x); }]]);
      const interventions = new Map<string, Intervention>([['blocks.0.attn.hook_z', ablate], ['blocks.1.hook_resid_pre', scale]]);
      const clean = engineLogits(m, ids), engine = engineLogits(m, ids, hooks);
      const r = ref.run(ids, interventions);
      assert.ok(maxAbsDiff(engine, clean) > 0.01, 'the intervention matters');
      assert.ok(maxAbsDiff(r.logits, engine) < 1e-4);
      // What is recorded is the activation after the intervention.
      assert.equal(r.acts.get('blocks.0.attn.hook_z')!.data[(2 * c.nHead + 1) * hd], 0);
    });
  }
});
