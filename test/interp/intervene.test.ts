import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { generate } from '../../src/generate/generate.js';
import { nextTokenDistribution } from '../../src/generate/next.js';
import { parseSettings } from '../../src/generate/settings.js';
import { captureActivations, saveActivations } from '../../src/interp/cache.js';
import { parseAblation, parseNoise, parsePatchFrom, prepareInterventions, type InterventionSettings } from '../../src/interp/intervene.js';
import { logitLens } from '../../src/interp/lens.js';
import { scoreTokens } from '../../src/interp/score.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { fixture, SMALL, WIDE } from '../fixtures/models.js';
import { maxAbsDiff, needsShared, sharedModel, softmax, tempDir, userError } from '../helpers.js';
import { LONG_IDS, ReferenceModel, STORY, type Intervention } from './reference.js';
import { join } from 'node:path';

/** Every position's logits under the interventions, [pos, d_vocab]. */
function intervened(m: Model, ids: readonly number[], s: Partial<InterventionSettings>, seed = 0): Float32Array {
  const hooks = prepareInterventions(m, ids, s, seed)?.hooks([0]);
  return m.withScratch(() => m.forward(ids, m.newCache(ids.length), { allLogits: true, hooks }));
}

/** The reference's intervention for one head: z[:, h, :] set to 0 or to its mean over the clean positions. */
function refAblation(ref: ReferenceModel, ids: readonly number[], layer: number, head: number, mode: 'zero' | 'mean'): Map<string, Intervention> {
  const c = ref.config, hd = c.headDim, row = c.nHead * hd, name = `blocks.${layer}.attn.hook_z`;
  const mean = new Float64Array(hd);
  if (mode === 'mean') {
    const z = ref.run(ids).acts.get(name)!.data;
    for (let p = 0; p < ids.length; p++) for (let i = 0; i < hd; i++) mean[i]! += z[p * row + head * hd + i]! / ids.length;
  }
  return new Map([[name, (z: Float64Array) => {
    for (let p = 0; p < ids.length; p++) z.set(mean, p * row + head * hd);
  }]]);
}

const FAMILIES: [string, () => string][] = [
  ['GPT-2 fixture', () => fixture('gguf', SMALL.gpt2, DType.F32)],
  ['Llama fixture (grouped-query attention)', () => fixture('gguf', SMALL.llama, DType.F32)],
];

describe('head ablation agrees with the float64 reference', () => {
  for (const [name, path] of FAMILIES) {
    for (const mode of ['zero', 'mean'] as const) {
      test(`${name}: ${mode} ablation of head 1.1 over 90 positions, logits within 1e-4`, () => {
        const m = loadModel(path()), ref = new ReferenceModel(path());
        const got = intervened(m, LONG_IDS, { ablate: [`1.1:${mode}`] });
        const want = ref.run(LONG_IDS, refAblation(ref, LONG_IDS, 1, 1, mode)).logits;
        const d = maxAbsDiff(got, want);
        assert.ok(d < 1e-4, `max |Δlogit| = ${d}`);
        // And it changed something: the ablation is not a no-op.
        assert.ok(maxAbsDiff(got, intervened(m, LONG_IDS, {})) > 1e-3);
      });
    }
  }

  test('stories260K: mean-ablating head 2.5 (a query head of a shared KV head) matches, within 1e-4', needsShared('stories260K.gguf'), () => {
    const path = sharedModel('stories260K.gguf')!;
    const m = loadModel(path), ref = new ReferenceModel(path);
    const ids = m.tokenizer.encode(STORY);
    const d = maxAbsDiff(intervened(m, ids, { ablate: ['2.5:mean'] }), ref.run(ids, refAblation(ref, ids, 2, 5, 'mean')).logits);
    assert.ok(d < 1e-4, `max |Δlogit| = ${d}`);
  });

  test('L.* ablates every head of the layer; ablations compose', () => {
    const m = loadModel(FAMILIES[0]![1]());
    const heads = Array.from({ length: m.config.nHead }, (_, h) => `0.${h}`);
    assert.deepEqual(intervened(m, LONG_IDS, { ablate: ['0.*'] }), intervened(m, LONG_IDS, { ablate: heads }));
    assert.deepEqual(intervened(m, LONG_IDS, { ablate: ['0.*', '1.0:mean'] }), intervened(m, LONG_IDS, { ablate: [...heads, '1.0:mean'] }));
  });
});

describe('noise', () => {
  const m = () => loadModel(FAMILIES[1]![1]());

  test('sigma 0 is the identity, bit for bit', () => {
    const model = m();
    assert.deepEqual(intervened(model, LONG_IDS, { noise: ['hook=blocks.*.hook_resid_post,sigma=0'] }), intervened(model, LONG_IDS, {}));
  });

  test('the same seed gives the same noise; another seed other noise; positions limit it', () => {
    const model = m();
    const a = intervened(model, LONG_IDS, { noise: ['hook=blocks.0.hook_resid_post,sigma=0.5'] }, 7);
    assert.deepEqual(intervened(model, LONG_IDS, { noise: ['hook=blocks.0.hook_resid_post,sigma=0.5'] }, 7), a);
    assert.ok(maxAbsDiff(a, intervened(model, LONG_IDS, { noise: ['hook=blocks.0.hook_resid_post,sigma=0.5'] }, 8)) > 1e-3);
    // Noise from position 10 on leaves positions 0–9 exactly as they were (attention is causal).
    const V = model.config.vocabSize, clean = intervened(model, LONG_IDS, {});
    const late = intervened(model, LONG_IDS, { noise: ['hook=blocks.0.hook_resid_post,sigma=0.5,positions=10-89'] }, 7);
    assert.deepEqual(late.subarray(0, 10 * V), clean.subarray(0, 10 * V));
    assert.ok(maxAbsDiff(late.subarray(10 * V), clean.subarray(10 * V)) > 1e-3);
  });

  test('added to the hook point as N(0, σ²): the difference it makes has the stated spread', () => {
    const model = m();
    const capture = (s: Partial<InterventionSettings>) => captureActivations(model, LONG_IDS, { hooks: ['blocks.1.hook_resid_pre'], interventions: s, seed: 3 }).activations[0]!.data;
    const clean = capture({}), noisy = capture({ noise: ['hook=blocks.1.hook_resid_pre,sigma=2'] });
    let sum = 0, sq = 0;
    for (let i = 0; i < clean.length; i++) { const d = noisy[i]! - clean[i]!; sum += d; sq += d * d; }
    const n = clean.length, mean = sum / n, sd = Math.sqrt(sq / n - mean * mean);
    // n = 90 × 64 draws: the sample mean is within 4 standard errors of 0, the spread within 5% of σ.
    assert.ok(Math.abs(mean) < 4 * 2 / Math.sqrt(n), `mean ${mean}`);
    assert.ok(Math.abs(sd - 2) < 0.1, `sd ${sd}`);
  });

  test('in generation, sample i gets the same noise whatever the batch size and number of samples', () => {
    const model = m();
    const settings = { temperature: 0.9, seed: 5, max_tokens: 12, noise: ['hook=blocks.0.hook_resid_post,sigma=0.3'] };
    const wide = generate(model, 'The cat', { ...settings, n: 4, max_batch_size: 4 });
    const narrow = generate(model, 'The cat', { ...settings, n: 4, max_batch_size: 1 });
    const alone = generate(model, 'The cat', { ...settings, n: 4 }, { indices: [2] });
    assert.deepEqual(narrow.samples.map((s) => s.token_ids), wide.samples.map((s) => s.token_ids));
    assert.deepEqual(alone.samples[0]!.token_ids, wide.samples[2]!.token_ids);
    // Each sample draws its own noise (on the prompt too), and the sampling draws are the clean run's streams.
    assert.ok(new Set(wide.samples.map((s) => s.token_ids.join())).size > 1);
  });
});

describe('patching from a saved cache', () => {
  const path = () => fixture('gguf', SMALL.gpt2, DType.F32);

  test('every position of a layer\'s residual from another prompt gives that prompt\'s logits', () => {
    const m = loadModel(path()), dir = tempDir();
    const a = LONG_IDS.slice(0, 20), b = LONG_IDS.slice(30, 50);
    const file = join(dir, 'a.safetensors');
    saveActivations(file, captureActivations(m, a, { hooks: ['blocks.1.hook_resid_pre', 'blocks.0.hook_mlp_out'] }));
    // Setting layer 1's input to a's makes every later activation a's: the logits are a's, bit for bit.
    assert.deepEqual(intervened(m, b, { patch_from: [`${file}:blocks.1.hook_resid_pre`] }), intervened(m, a, {}));
    // Positions 5–9 only: before 5 nothing changes.
    const V = m.config.vocabSize;
    const part = intervened(m, b, { patch_from: [`${file}:blocks.1.hook_resid_pre,5-9`] });
    assert.deepEqual(part.subarray(0, 5 * V), intervened(m, b, {}).subarray(0, 5 * V));
    assert.ok(maxAbsDiff(part.subarray(5 * V), intervened(m, b, {}).subarray(5 * V)) > 1e-3);
    // A whole file patches every hook in it, in forward order.
    const both = intervened(m, b, { patch_from: [file] });
    assert.deepEqual(both, intervened(m, a, {}));
  });

  test('a whole default cache (patterns and all) patches every per-position hook: the donor\'s logits', () => {
    const m = loadModel(path()), file = join(tempDir(), 'all.safetensors');
    const a = LONG_IDS.slice(0, 12), b = LONG_IDS.slice(40, 52);
    saveActivations(file, captureActivations(m, a));
    assert.deepEqual(intervened(m, b, { patch_from: [file] }), intervened(m, a, {}));
  });

  test('a file that does not fit the model is one clear line', () => {
    const m = loadModel(path()), llama = loadModel(fixture('gguf', WIDE.llama, DType.F32)), dir = tempDir();
    const file = join(dir, 'llama.safetensors');
    saveActivations(file, captureActivations(llama, [1, 2, 3], { hooks: ['blocks.0.mlp.hook_post'] }));
    assert.throws(() => prepareInterventions(m, [1, 2, 3], { patch_from: [file] }, 0),
      userError(`--patch-from ${file}: blocks.0.mlp.hook_post in ${file} has shape [3, ${llama.config.nFf}], but this model's blocks.0.mlp.hook_post has ${m.config.nFf} F32 values per position`, 'patch_from'));
    const short = join(dir, 'short.safetensors');
    saveActivations(short, captureActivations(m, [1, 2, 3], { hooks: ['blocks.0.hook_resid_pre'] }));
    assert.throws(() => prepareInterventions(m, [1, 2, 3, 4, 5, 6], { patch_from: [`${short}:blocks.0.hook_resid_pre,4-5`] }, 0),
      userError(`--patch-from ${short}:blocks.0.hook_resid_pre,4-5: ${short} holds 3 positions of blocks.0.hook_resid_pre (0-2), not 4-5`, 'patch_from'));
    assert.throws(() => prepareInterventions(m, [1, 2, 3], { patch_from: [`${file}:blocks.0.hook_z`] }, 0),
      userError(`--patch-from ${file}:blocks.0.hook_z: ${file} has no tensor blocks.0.hook_z (it has blocks.0.mlp.hook_post)`, 'patch_from'));
  });
});

describe('every command runs the intervened model', () => {
  const path = () => fixture('gguf', SMALL.gpt2, DType.F32);

  test('next: probabilities are the intervened ones, with KL(clean ‖ intervened) and the clean top tokens', () => {
    const m = loadModel(path());
    const d = nextTokenDistribution(m, 'The cat sat', { ablate: ['1.*', '0.0'], seed: 1 }, { top: 5 });
    const ids = m.tokenizer.encode('The cat sat'), V = m.config.vocabSize;
    const clean = softmax(intervened(m, ids, {}).subarray((ids.length - 1) * V));
    const abl = softmax(intervened(m, ids, { ablate: ['1.*', '0.0'] }).subarray((ids.length - 1) * V));
    let kl = 0;
    for (let i = 0; i < V; i++) kl += clean[i]! * Math.log(clean[i]! / abl[i]!);
    assert.ok(Math.abs(d.intervention!.kl_nats - kl) < 1e-6, `${d.intervention!.kl_nats} vs ${kl}`);
    assert.ok(kl > 1e-4);
    assert.ok(Math.abs(d.candidates[0]!.prob - Math.max(...abl)) < 1e-6);
    assert.ok(Math.abs(d.intervention!.clean_top[0]!.prob - Math.max(...clean)) < 1e-6);
    assert.equal(d.intervention!.top1_changed, clean.indexOf(Math.max(...clean)) !== abl.indexOf(Math.max(...abl)));
    assert.equal(nextTokenDistribution(m, 'The cat sat', { seed: 1 }).intervention, undefined);
  });

  test('lens and score read the intervened pass; the lens\'s last layer is its output', () => {
    const m = loadModel(path());
    const s = { ablate: ['0.1:mean'], noise: ['hook=blocks.0.hook_mlp_out,sigma=0.2'] };
    const ids = LONG_IDS.slice(0, 12), V = m.config.vocabSize;
    const logits = intervened(m, ids, s, 4);
    const lens = logitLens(m, ids, { top: 1, interventions: s, seed: 4 });
    const last = lens.layers[lens.layers.length - 1]!;
    for (const cell of last.positions) {
      const p = softmax(logits.subarray(cell.position * V, (cell.position + 1) * V));
      assert.ok(Math.abs(cell.top[0]!.prob - Math.max(...p)) < 1e-6);
    }
    const scored = scoreTokens(m, ids, 'ids', { interventions: s, seed: 4 });
    for (const t of scored.tokens.slice(1)) {
      const p = softmax(logits.subarray((t.position - 1) * V, t.position * V));
      assert.ok(Math.abs(t.logprob! - Math.log(p[t.token_id]!)) < 1e-5);
    }
  });

  test('generate: compareClean adds the same samples without the interventions', () => {
    const m = loadModel(path());
    const run = generate(m, 'The cat', { temperature: 0.8, seed: 2, n: 2, max_tokens: 10, ablate: ['0.*', '1.*'] }, { compareClean: true });
    const clean = generate(m, 'The cat', { temperature: 0.8, seed: 2, n: 2, max_tokens: 10 });
    assert.deepEqual(run.clean!.samples.map((s) => s.token_ids), clean.samples.map((s) => s.token_ids));
    assert.deepEqual(run.settings.ablate, ['0.*', '1.*']);
    assert.deepEqual(run.clean!.settings.ablate, []);
    assert.notDeepEqual(run.samples.map((s) => s.token_ids), clean.samples.map((s) => s.token_ids));
  });
});

describe('intervention settings: one schema, one message per mistake', () => {
  test('the parsers', () => {
    assert.deepEqual(parseAblation('3.1'), { layer: 3, head: 1, mode: 'zero' });
    assert.deepEqual(parseAblation('0.*:mean'), { layer: 0, head: '*', mode: 'mean' });
    assert.deepEqual(parseNoise('hook=blocks.3.hook_resid_post,sigma=0.5,positions=0-3'), { hook: 'blocks.3.hook_resid_post', sigma: 0.5, positions: [0, 3] });
    assert.deepEqual(parsePatchFrom('run/a.safetensors:blocks.1.hook_z,4'), { file: 'run/a.safetensors', hook: 'blocks.1.hook_z', positions: [4, 4] });
  });

  test('bad strings name the setting, the entry and the syntax', () => {
    assert.throws(() => parseSettings({ ablate: ['3'] }), userError('ablate entry "3": must be L.H, L.H:zero, L.H:mean or L.* (layer and head numbers from 0)', 'ablate'));
    assert.throws(() => parseSettings({ noise: ['hook=x,sigma=-1'] }), userError('noise entry "hook=x,sigma=-1": sigma must be a number from 0 to 1e6, got "-1"', 'noise'));
    assert.throws(() => parseSettings({ noise: ['hook=x,sigma='] }), userError('noise entry "hook=x,sigma=": sigma must be a number from 0 to 1e6, got ""', 'noise'));
    assert.throws(() => parseSettings({ noise: ['hook=x,sigma=0x10'] }), userError('noise entry "hook=x,sigma=0x10": sigma must be a number from 0 to 1e6, got "0x10"', 'noise'));
    assert.throws(() => parseSettings({ noise: ['sigma=1'] }), userError('noise entry "sigma=1": must be hook=NAME,sigma=S[,positions=A-B]', 'noise'));
    assert.throws(() => parseSettings({ patch_from: ['a.bin'] }), userError('patch_from entry "a.bin": must be FILE.safetensors[:HOOK[,A-B]]', 'patch_from'));
    assert.throws(() => parseSettings({ noise: ['hook=x,sigma=1,positions=5-2'] }), userError('noise entry "hook=x,sigma=1,positions=5-2": positions 5-2 ends before it starts', 'noise'));
  });

  test('against the model: layers, heads and hook names', () => {
    const m = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const c = m.config;
    assert.throws(() => prepareInterventions(m, [1], { ablate: [`${c.nLayer}.0`] }, 0), userError(`--ablate ${c.nLayer}.0: layer must be from 0 to ${c.nLayer - 1} (this model has ${c.nLayer} layers)`, 'ablate'));
    assert.throws(() => prepareInterventions(m, [1], { ablate: [`0.${c.nHead}`] }, 0), userError(`--ablate 0.${c.nHead}: head must be from 0 to ${c.nHead - 1} (this model has ${c.nHead} query heads per layer)`, 'ablate'));
    assert.throws(() => prepareInterventions(m, [1], { noise: ['hook=blocks.0.attn.hook_pattern,sigma=1'] }, 0),
      userError('--noise hook=blocks.0.attn.hook_pattern,sigma=1: blocks.0.attn.hook_pattern is a probability distribution over keys; intervene on attn.hook_z or hook_attn_out instead', 'noise'));
  });
});
