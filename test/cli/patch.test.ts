import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { directLogitAttribution } from '../../src/interp/dla.js';
import { headAblationScan } from '../../src/interp/heads.js';
import { activationPatching } from '../../src/interp/patch.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, wander } from '../helpers.js';

const GPT2 = () => fixture('gguf', SMALL.gpt2, DType.F32);
const json = (x: unknown) => JSON.parse(JSON.stringify(x));

describe('wander patch', () => {
  test('a grid of positions × layers; --hook z: one table per layer, heads as columns', needsShared('stories260K.gguf'), () => {
    const m = sharedModel('stories260K.gguf')!;
    const r = wander('patch', '-m', m, '--clean', 'Lily was happy. One day,', '--corrupted', 'Tim was happy. One day,');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'clean      8 tokens: "<bos>" " Lily" " was" " happy" "." " One" " day" ","');
    assert.equal(lines[2], 'metric     logit " she" (#358) − logit " he" (#281) at the last position: clean 4.2272, corrupted -1.9962');
    assert.equal(lines[6], '  pos  token             layer 0  layer 1  layer 2  layer 3  layer 4');
    assert.equal(lines[8], '    1  " Lily" → " Tim"  █  1.00  █  1.00  █  0.96  ▓  0.65  ▓  0.65');
    const z = wander('patch', '-m', m, '--clean', 'Lily was happy. One day,', '--corrupted', 'Tim was happy. One day,', '--hook', 'z');
    assert.equal(z.code, 0, z.stderr);
    assert.match(z.stdout, /\nlayer 4 \(blocks\.4\.attn\.hook_z\): one column per head\n {2}pos {2}token {14}head 0 {3}head 1 {3}head 2/);
    assert.ok(z.stdout.includes('\n    7  ","               ▒  0.28  · -0.04  ▓  0.53  ·  0.02  ·  0.04  · -0.01  · -0.02  ·  0.00\n'), z.stdout);
  });

  test('--json is the library\'s PatchResult', () => {
    const r = wander('patch', '-m', GPT2(), '--clean', 'The cat sat', '--corrupted', 'The mat sat', '--target', '#3', '--foil', '#5', '--hook', 'mlp_out', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), json(activationPatching(loadModel(GPT2()), 'The cat sat', 'The mat sat', { target: '#3', foil: '#5', hook: 'mlp_out' })));
  });

  test('bad input: one line on stderr, exit 2', () => {
    const path = GPT2();
    for (const [args, message] of [
      [['--clean', 'The cat sat', '--corrupted', 'The dog sat'], '--clean and --corrupted must tokenize to the same length: --clean is 6 tokens ("T" "he" " c" "at" " s" "at"), --corrupted is 7 tokens ("T" "he" " d" "o" "g" " s" "at")'],
      [['--clean', 'The cat sat', '--corrupted', 'The mat sat', '--hook', 'resid_post'], '--hook must be resid_pre, attn_out, mlp_out or z, got "resid_post"'],
      [['--clean', 'The cat sat', '--corrupted', 'The mat sat', '--target', 'cat sat'], '--target "cat sat" is 4 tokens ("c" "at" " s" "at"); give exactly one token, or #id'],
      [['--clean', 'the', '--corrupted', 'the'], 'the clean and the corrupted prompt both make " an" (#283) the top next token, so there is no difference to patch; choose the two tokens to compare with --target and --foil'],
      [['--clean', 'The cat sat', '--corrupted', 'The mat sat', '--target', '#3', '--foil', '#3'], '--target and --foil are the same token ("\\u0003", #3); give two different tokens'],
      [['--corrupted', 'The mat sat'], '--clean is required: the prompt whose activations are patched in'],
      [['--clean', 'The cat sat'], '--corrupted is required: the prompt the patched runs start from'],
    ] as const) {
      const r = wander('patch', '-m', path, ...args);
      assert.equal(r.stderr, `wander: ${message}\n`, args.join(' '));
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
    }
  });
});

describe('wander heads', () => {
  test('a layers × heads grid of KL and the top 10', needsShared('stories260K.gguf'), () => {
    const r = wander('heads', '-m', sharedModel('stories260K.gguf')!, '-p', 'Lily was happy. One day,');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[3], '             head 0    head 1    head 2    head 3    head 4    head 5    head 6    head 7');
    assert.equal(lines[6], 'layer 2    · 0.0035  ░ 0.0222  ░ 0.0220  ░ 0.0237  █ 0.1007  ░ 0.0243  █ 0.1053  ▓ 0.0545');
    assert.ok(r.stdout.includes('\n  rank  head       KL (nats)  top-1      ablated run\'s top tokens\n     1  L2H6         0.1053  kept       " she" 0.47  " Lily" 0.17  " a" 0.07\n'), r.stdout);
  });

  test('--json is the library\'s HeadScan (mean mode)', () => {
    const r = wander('heads', '-m', GPT2(), '-p', 'The cat sat', '--mode', 'mean', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), json(headAblationScan(loadModel(GPT2()), 'The cat sat', { mode: 'mean' })));
  });

  test('an unknown --mode: one line on stderr, exit 2', () => {
    const r = wander('heads', '-m', GPT2(), '-p', 'The cat', '--mode', 'random');
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wander: --mode must be zero or mean, got "random"\n');
    assert.equal(r.stdout, '');
  });
});

describe('wander dla', () => {
  test('ranked bars: the layer-level components, then the top heads', needsShared('stories260K.gguf'), () => {
    const r = wander('dla', '-m', sharedModel('stories260K.gguf')!, '-p', 'Lily was happy. One day,');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'target      " she" (#358, rank 1, p = 0.6162)');
    assert.equal(lines[1], 'logit       17.3859; the layer-level components below add up to 17.3859');
    assert.equal(lines[5], '  L4 mlp_out       2.2514                  |████████████████');
    assert.ok(r.stdout.includes('\n  top 10 heads by size (each layer\'s attn_out = its heads)\n  L4H2             1.2153                  |████████▋\n'), r.stdout);
  });

  test('--json is the library\'s DlaResult', () => {
    const r = wander('dla', '-m', GPT2(), '-p', 'The cat sat', '--target', '#3', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), json(directLogitAttribution(loadModel(GPT2()), 'The cat sat', { target: '#3' })));
  });

  test('a target that is not one token: one line on stderr, exit 2', () => {
    const r = wander('dla', '-m', GPT2(), '-p', 'The cat', '--target', 'cat sat');
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wander: --target "cat sat" is 4 tokens ("c" "at" " s" "at"); give exactly one token, or #id\n');
  });
});
