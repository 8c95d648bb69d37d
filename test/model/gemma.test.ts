import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL, type FixtureSpec } from '../fixtures/models.js';
import { directLogitAttribution, isLayerLevel } from '../../src/interp/dla.js';
import { modelHookNames } from '../../src/interp/hook-select.js';
import { chatPrompt } from '../../src/generate/chat.js';
import { generate } from '../../src/generate/generate.js';
import type { HookFn } from '../../src/model/hooks.js';
import { argmax, cliError, maxAbsDiff, needsInstalled, softmax, wander } from '../helpers.js';
import { llamaCppGreedy, llamaCppMissing } from '../parity/llama-cpp.js';

// Gemma 1/2/3 in Wander's engine against llama.cpp (node-llama-cpp's bundled build, which runs all
// three), on the fixture generator's tiny random Gemma models: F32 weights, heads wider than
// d_model/n_heads, Gemma 2/3 with a sliding window of 5 keys (the prompt and the 32 steps run far past
// it), Gemma 2's soft-capping at 2 (scores) and 3 (logits) so it bends, Gemma 3's QK-norm, local RoPE
// base and linearly scaled global RoPE. Measured max |Δp| ≈ 1e-6; required ≤ 1e-4.
const STEPS = 32;
const PROMPT = 'The cat was sitting on the mat and the dog was in the garden';
const llamaCpp = needsInstalled(await llamaCppMissing());
const GEMMAS: [string, FixtureSpec][] = [['Gemma', SMALL.gemma], ['Gemma 2', SMALL.gemma2], ['Gemma 3', SMALL.gemma3]];

describe('Gemma in the engine', () => {
  for (const [name, spec] of GEMMAS) {
    test(`${name}: the same greedy tokens and probabilities as llama.cpp over ${STEPS} steps, past the sliding window`, { skip: llamaCpp.skip }, async (t) => {
      const path = fixture('gguf', spec, DType.F32);
      const model = loadModel(path);
      try {
        const prompt = model.tokenizer.encode(PROMPT);
        assert.ok(prompt.length > (spec.window ?? 0) + 5, 'the prompt is longer than the window');
        const ref = await llamaCppGreedy(path, prompt, STEPS);
        let worst = 0;
        model.withScratch(() => {
          const cache = model.newCache(prompt.length + STEPS);
          let logits = model.forward(prompt, cache);
          for (let step = 0; step < STEPS; step++) {
            const r = ref[step]!;
            assert.equal(argmax(logits), r.chosen, `greedy token at step ${step}`);
            const p = softmax(logits);
            for (let id = 0; id < p.length; id++) worst = Math.max(worst, Math.abs(p[id]! - (r.probs.get(id) ?? 0)));
            logits = model.forward([r.chosen], cache);
          }
        });
        t.diagnostic(`max |Δp| ${worst.toExponential(2)}`);
        assert.ok(worst <= 1e-4, `max probability difference ${worst.toExponential(2)} > 1e-4`);
      } finally {
        model.close();
      }
    });

    test(`${name}: a Hugging Face folder of the same weights (norms stored as w, config as transformers writes it) gives the GGUF's logits`, () => {
      const gguf = loadModel(fixture('gguf', spec, DType.F32)), hf = loadModel(fixture('hf', spec));
      try {
        assert.deepEqual(hf.config.gemma, gguf.config.gemma);
        const ids = gguf.tokenizer.encode(PROMPT);
        assert.deepEqual(hf.tokenizer.encode(PROMPT), ids);
        const a = gguf.withScratch(() => gguf.forward(ids, gguf.newCache(ids.length), { allLogits: true }));
        const b = hf.withScratch(() => hf.forward(ids, hf.newCache(ids.length), { allLogits: true }));
        assert.ok(maxAbsDiff(a, b) <= 1e-5, `max |Δlogit| ${maxAbsDiff(a, b)}`);
      } finally {
        gguf.close();
        hf.close();
      }
    });
  }

  test('the sliding window matters: Gemma 2 with its window widened to the whole context gives other logits past the window', () => {
    const windowed = loadModel(fixture('gguf', SMALL.gemma2, DType.F32)), wide = loadModel(fixture('gguf', { ...SMALL.gemma2, window: 128 }, DType.F32));
    try {
      const ids = windowed.tokenizer.encode(PROMPT);
      const logits = (m: typeof windowed) => m.withScratch(() => m.forward(ids, m.newCache(ids.length), { allLogits: true }));
      const [a, b] = [logits(windowed), logits(wide)];
      const V = windowed.config.vocabSize, w = SMALL.gemma2.window!;
      assert.ok(maxAbsDiff(a.subarray(0, w * V), b.subarray(0, w * V)) === 0, 'identical while every key is in the window');
      assert.ok(maxAbsDiff(a.subarray(w * V), b.subarray(w * V)) > 1e-3, 'different once keys fall out of it');
    } finally {
      windowed.close();
      wide.close();
    }
  });
});

describe('every Wander feature on Gemma', () => {
  const G2 = () => fixture('gguf', SMALL.gemma2, DType.F32), G3 = () => fixture('gguf', SMALL.gemma3, DType.F32);

  test('hooks: every hook point fires with its shape, ln1_post/ln2_post among them; hook_attn_out is the post norm of ln1_post.hook_in', () => {
    const m = loadModel(G2()), c = m.config, d = c.nEmbd;
    const names = modelHookNames(c);
    assert.ok(names.includes('blocks.1.ln1_post.hook_in') && names.includes('blocks.1.ln2_post.hook_in') && names.includes('blocks.1.attn.hook_rot_q'));
    const seen = new Map<string, Float32Array>();
    const hooks = new Map<string, HookFn>(names.map((n) => [n, (a, ctx) => {
      assert.equal(a.length, ctx.shape.reduce((x, y) => x * y, 1), n);
      if (!n.includes('pattern')) seen.set(n, a.slice());
    }]));
    const ids = m.tokenizer.encode(PROMPT);
    m.withScratch(() => m.forward(ids, m.newCache(ids.length), { hooks }));
    assert.equal(seen.size, names.filter((n) => !n.includes('pattern')).length);
    const raw = seen.get('blocks.0.ln1_post.hook_in')!, out = seen.get('blocks.0.hook_attn_out')!;
    const gain = m.heap.f32(m.transformer.weights.layers[0]!.attnPostNorm, d);
    for (let t = 0; t < ids.length; t++) {
      const row = raw.subarray(t * d, (t + 1) * d), rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / d + c.normEps);
      for (let i = 0; i < d; i += 7) assert.ok(Math.abs(out[t * d + i]! - (row[i]! / rms) * gain[i]!) < 1e-5);
    }
    m.close();
  });

  for (const [name, path] of [['Gemma 2', G2], ['Gemma 3', G3]] as const) {
    test(`${name}: direct logit attribution adds up to the (uncapped) logit, and each layer's heads to its attn_out through the frozen post norm`, () => {
      const m = loadModel(path());
      const r = directLogitAttribution(m, PROMPT);
      assert.ok(Math.abs(r.total - r.logit) < 1e-4, `total ${r.total} vs logit ${r.logit}`);
      assert.ok(Math.abs(r.total - r.components.filter(isLayerLevel).reduce((s, x) => s + x.logit, 0)) < 1e-9);
      for (let l = 0; l < m.config.nLayer; l++) {
        const attn = r.components.find((x) => x.name === 'attn_out' && x.layer === l)!.logit;
        const heads = r.components.filter((x) => x.name === 'head' && x.layer === l).reduce((s, x) => s + x.logit, 0);
        assert.ok(Math.abs(attn - heads) < 1e-4, `layer ${l}: ${attn} vs heads ${heads}`);
      }
      assert.match(r.convention, /frozen at this run/);
      m.close();
    });
  }

  test('the chat template from the file: <start_of_turn> and <end_of_turn> are single control tokens, and <end_of_turn> ends a sample', () => {
    const m = loadModel(G3());
    const text = chatPrompt(m, [{ role: 'user', content: 'Hi' }]);
    assert.equal(text, '<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n');
    const [start, end] = ['<start_of_turn>', '<end_of_turn>'].map((t) => m.tokenizer.encode(t).at(-1)!);
    assert.ok(m.tokenizer.eosIds.includes(end!), '<end_of_turn> counts as an end of sequence');
    const ids = m.tokenizer.encode(text);
    assert.equal(ids[0], m.tokenizer.bosId);
    assert.equal(ids.filter((i) => i === start).length, 2);
    const run = generate(m, text, { temperature: 0, max_tokens: 20, logit_bias: [{ token_id: end!, bias: 100 }] });
    assert.equal(run.samples[0]!.finish_reason, 'eos');
    assert.equal(run.samples[0]!.text, '');
    m.close();
  });

  test('the command line: generate, next, lens, attention, heads, patch, dla, cache and score run on Gemma 2; attribute says why it cannot', () => {
    const m = G2();
    const ok = (...args: string[]) => {
      const r = wander(...args, '-m', m);
      assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
      return r.stdout;
    };
    assert.match(ok('generate', '-p', PROMPT, '--max-tokens', '4', '--temperature', '0', '--trace', '3'), /The cat/);
    assert.match(ok('next', '-p', PROMPT, '--top', '3', '--chat'), /<start_of_turn>/);
    ok('lens', '-p', PROMPT);
    ok('attention', '-p', PROMPT, '--layer', '0');
    ok('heads', '-p', PROMPT);
    ok('patch', '--clean', 'The cat was on the mat', '--corrupted', 'The bat was on the mat', '--hook', 'attn_out', '--target', '#324', '--foil', '#325');
    ok('dla', '-p', PROMPT);
    assert.match(ok('cache', '-p', 'The cat', '--hooks', 'blocks.0.ln1_post.*'), /blocks\.0\.ln1_post\.hook_in/);
    ok('score', '--text', PROMPT);
    ok('generate', '-p', PROMPT, '--max-tokens', '4', '--ablate', '0.1', '--noise', 'hook=blocks.*.ln2_post.hook_in,sigma=0.5', '--seed', '1');
    assert.equal(cliError(wander('attribute', '-m', m, '-p', PROMPT)), `${m}: gradients and attribution cover the GPT-2 and Llama families; this is a gemma2 model (Gemma), whose layers the differentiable graph does not have yet`);
  });
});
