import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { attribute, differentiable } from '../../src/interp/attribute.js';
import { loadModel } from '../../src/model/load.js';
import { gpt2Parameters } from '../../src/train/from-model.js';
import { Gpt2Graph } from '../../src/train/gpt2.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { maxAbsDiff, needsShared, ROOT, sharedModel, softmax, userError } from '../helpers.js';

describe('the differentiable GPT-2 matches the engine', () => {
  for (const [name, path] of [['fixture GPT-2 (F32)', () => fixture('gguf', SMALL.gpt2, DType.F32)], ['fixture GPT-2 (F16)', () => fixture('gguf', SMALL.gpt2, DType.F16)]] as const) {
    it(`${name}: same logits at every position`, () => {
      const model = loadModel(path());
      const ids = model.tokenizer.encode('The cat sat on the mat');
      const engine = model.withScratch(() => {
        const cache = model.newCache(ids.length);
        return ids.map((_, t) => Float32Array.from(model.forward([ids[t]!], cache)));
      });
      const g = new Gpt2Graph(gpt2Parameters(model, 'f64'));
      g.forward(ids, ids.map(() => -1), 1, ids.length);
      const V = model.config.vocabSize;
      // The graph runs the (dequantized) weights in f64; the engine in f32. (With Q8_0 the engine also
      // quantizes activations, as llama.cpp does, so logits differ by ~0.1 on these random weights.)
      const tol = 2e-4;
      ids.forEach((_, t) => { const d = maxAbsDiff(g.logits.subarray(t * V, (t + 1) * V), engine[t]!); assert.ok(d < tol, `position ${t}: ${d}`); });
      model.close();
    });
  }
});

describe('the differentiable Llama family matches the engine, and its input gradient is right', () => {
  for (const arch of ['llama', 'qwen2', 'qwen3'] as const) {
    it(`${arch} fixture (${arch === 'qwen2' ? 'QKV biases, NeoX RoPE' : arch === 'qwen3' ? 'QK-norm' : 'GQA, RoPE, SwiGLU'})`, () => {
      const model = loadModel(fixture('gguf', SMALL[arch], DType.F32));
      const ids = model.tokenizer.encode('The cat sat on the mat');
      const engine = model.withScratch(() => {
        const cache = model.newCache(ids.length);
        return ids.map((_, t) => Float32Array.from(model.forward([ids[t]!], cache)));
      });
      const g = differentiable(model, 'f64');
      const T = ids.length, V = model.config.vocabSize, C = model.config.nEmbd;
      g.forward(ids, ids.map(() => -1), 1, T);
      ids.forEach((_, t) => { const d = maxAbsDiff(g.logits.subarray(t * V, (t + 1) * V), engine[t]!); assert.ok(d < 2e-4, `position ${t}: ${d}`); });
      // d loss / d embedding at position t, against central differences on that position's embedding.
      const targets = ids.map((_, i) => (i === T - 1 ? 7 : -1));
      g.forward(ids, targets, 1, T);
      g.backward();
      const analytic = Float64Array.from(g.dEncoded!);
      // A position whose token occurs once, so perturbing its embedding row moves that position only.
      const t = ids.findIndex((x, i) => i > 0 && ids.indexOf(x) === ids.lastIndexOf(x));
      assert.ok(t > 0);
      const e = g.embedding(ids[t]!);
      for (const c of [0, 3, C - 1]) {
        const keep = e[c]!;
        e[c] = keep + 1e-5; const up = g.forward(ids, targets, 1, T);
        e[c] = keep - 1e-5; const down = g.forward(ids, targets, 1, T);
        e[c] = keep;
        const numeric = (up - down) / 2e-5;
        assert.ok(Math.abs(numeric - analytic[t * C + c]!) < 1e-6 + 1e-5 * Math.abs(numeric), `dim ${c}: ${numeric} vs ${analytic[t * C + c]}`);
      }
      model.close();
    });
  }
});

describe('wander attribute', () => {
  it('explains the most likely token; input × gradient is the directional derivative along the token embedding', () => {
    const model = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const prompt = 'The cat sat on';
    const a = attribute(model, prompt);
    const ids = model.tokenizer.encode(prompt);
    const logits = model.withScratch(() => model.forward(ids, model.newCache(ids.length)));
    const p = softmax(logits);
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
    assert.equal(a.target.token_id, best);
    assert.equal(a.target.rank, 1);
    assert.ok(Math.abs(a.target.prob - p[best]!) < 1e-5);
    assert.deepEqual(a.tokens.map((t) => t.token_id), ids);

    // d/dε log p(target | e_t + ε·wte[token_t]) at ε = 0, by central differences in float64.
    const params = gpt2Parameters(model, 'f64');
    const g = new Gpt2Graph(params);
    const wpe = params.get('position_embd.weight'), wte = params.get('token_embd.weight'), C = model.config.nEmbd;
    const targets = ids.map((_, i) => (i === ids.length - 1 ? best : -1));
    for (const t of [0, ids.length - 1]) {
      const logp = (eps: number) => {
        const keep = Float64Array.from(wpe.subarray(t * C, (t + 1) * C));
        for (let c = 0; c < C; c++) wpe[t * C + c]! += eps * wte[ids[t]! * C + c]!;
        const lp = -g.forward(ids, targets, 1, ids.length);
        wpe.set(keep, t * C);
        return lp;
      };
      const numeric = (logp(1e-5) - logp(-1e-5)) / 2e-5;
      assert.ok(Math.abs(numeric - a.tokens[t]!.input_x_gradient) < 1e-4 * Math.max(1, Math.abs(numeric)), `position ${t}: ${numeric} vs ${a.tokens[t]!.input_x_gradient}`);
      assert.ok(a.tokens[t]!.gradient_norm > 0);
    }
    model.close();
  });

  it('takes a target token as text or #id, and refuses what it cannot explain', () => {
    const model = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const byId = attribute(model, 'The cat', '#5');
    assert.equal(byId.target.token_id, 5);
    assert.equal(byId.target.chosen_by, 'flag');
    const text = model.tokenizer.tokenText(byId.target.token_id);
    assert.equal(attribute(model, 'The cat', text).target.token_id, 5);
    assert.throws(() => attribute(model, 'The cat', `#${model.config.vocabSize}`), userError(`--target #${model.config.vocabSize}: token ids go from 0 to ${model.config.vocabSize - 1}`, 'target'));
    const two = model.tokenizer.encode('cat sat');
    assert.throws(() => attribute(model, 'The cat', 'cat sat'), userError(`--target "cat sat" is ${two.length} tokens (${two.map((i) => JSON.stringify(model.tokenizer.tokenText(i))).join(' ')}); give exactly one token, or #id`, 'target'));
    model.close();
  });

  it('explains a pretrained Llama-family model (stories260K)', needsShared('stories260K.gguf'), () => {
    const model = loadModel(sharedModel('stories260K.gguf')!);
    const a = attribute(model, 'Once upon a time, there was a little girl named');
    assert.equal(a.target.token, ' Lily'); // the story model's favourite name
    assert.equal(a.target.rank, 1);
    assert.equal(a.tokens.length, model.tokenizer.encode('Once upon a time, there was a little girl named').length);
    // The last word ("named") matters most to what comes next.
    const norms = a.tokens.map((t) => t.gradient_norm);
    assert.equal(norms.indexOf(Math.max(...norms)), a.tokens.length - 1);
    model.close();
  });

  it('prints a table, or JSON', needsShared('llamacpp-tiny-gpt2.gguf'), () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'wander.mjs'), 'attribute', '-m', sharedModel('llamacpp-tiny-gpt2.gguf')!, '-p', 'The capital of France is', ...args], { encoding: 'utf8' });
    const text = run();
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^target {4}"isting" \(#9665, rank 1, p = 0\.18\d\d, the most likely next token\)$/m);
    assert.ok(text.stdout.includes('\n    4  " is"          -3.2036  ████████████|                45.7621 ████████████\n'), text.stdout);
    const json = JSON.parse(run('--target', ' Paris', '--json').stdout);
    assert.equal(json.target.token_id, 6342);
    assert.deepEqual(json.prompt.token_ids, [464, 3139, 286, 4881, 318]);
    assert.equal(json.tokens.length, 5);
  });
});
