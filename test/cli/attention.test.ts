import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { attentionPatterns } from '../../src/interp/attention.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, wander } from '../helpers.js';



const LLAMA = () => fixture('gguf', SMALL.llama, DType.F32);
const PROMPT = 'The cat sat on the mat';

describe('wander attention', () => {
  it('--json is { tokens, layers: [ { layer, heads: [ { head, pattern, summary: { kind, score } } ] } ] }, the library\'s numbers', () => {
    const r = wander('attention', '-m', LLAMA(), '-p', PROMPT, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(out), ['tokens', 'layers']);
    assert.deepEqual(Object.keys(out.tokens[0]), ['token_id', 'token']);
    assert.deepEqual(out.tokens[0], { token_id: 1, token: '<bos>' });
    assert.deepEqual(out.layers.map((l: { layer: number }) => l.layer), [0, 1]);
    for (const l of out.layers) {
      assert.deepEqual(Object.keys(l), ['layer', 'heads']);
      assert.deepEqual(l.heads.map((h: { head: number }) => h.head), [0, 1, 2, 3]);
      for (const h of l.heads) {
        assert.deepEqual(Object.keys(h), ['head', 'pattern', 'summary']);
        assert.deepEqual(Object.keys(h.summary), ['kind', 'score']);
        assert.ok(['previous', 'first', 'self', 'induction', 'diffuse'].includes(h.summary.kind));
        assert.equal(h.pattern.length, out.tokens.length);
      }
    }
    const model = loadModel(LLAMA());
    assert.deepEqual(out, JSON.parse(JSON.stringify(attentionPatterns(model, PROMPT))));
    model.close();
  });

  it('--layer L --head H gives that head only; --head alone gives it in every layer', () => {
    const one = JSON.parse(wander('attention', '-m', LLAMA(), '-p', PROMPT, '--layer', '1', '--head', '2', '--json').stdout);
    assert.deepEqual(one.layers.map((l: { layer: number; heads: { head: number }[] }) => [l.layer, l.heads.map((h) => h.head)]), [[1, [2]]]);
    const head = JSON.parse(wander('attention', '-m', LLAMA(), '-p', PROMPT, '--head', '3', '--json').stdout);
    assert.deepEqual(head.layers.map((l: { layer: number; heads: { head: number }[] }) => [l.layer, l.heads.map((h) => h.head)]), [[0, [3]], [1, [3]]]);
  });

  it('prints a grid of head summaries per layer', () => {
    const r = wander('attention', '-m', LLAMA(), '-p', PROMPT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tokens {4}\d+: "<bos>" /m);
    assert.match(r.stdout, /^ {9}head 0 {10}head 1 {10}head 2 {10}head 3$/m);
    for (const l of [0, 1]) assert.match(r.stdout, new RegExp(`^layer ${l}  ((previous|first|self|induction|diffuse) +\\d\\.\\d\\d *){4}$`, 'm'));
    assert.match(r.stdout, /^score {5}mean attention on that key per query row \(row 0 left out\); a kind needs ≥ 0\.4/m);
    assert.doesNotMatch(r.stdout, /rows: query tokens/);
  });

  it('with --layer and --head, the pattern as a heat map: one row per token, nothing above the diagonal', () => {
    const r = wander('attention', '-m', LLAMA(), '-p', PROMPT, '--layer', '0', '--head', '1');
    assert.equal(r.code, 0, r.stderr);
    const T = Number(/^tokens {4}(\d+):/m.exec(r.stdout)![1]);
    assert.match(r.stdout, /^layer 0, head 1: \w+ \d\.\d\d {4}rows: query tokens, columns: key tokens;/m);
    const rows = r.stdout.split('\n').filter((l) => /^ *\d+ {2}"/.test(l));
    assert.equal(rows.length, T);
    rows.forEach((line, i) => {
      const cells = line.slice(line.indexOf('"', line.indexOf('"') + 1) + 1).trimStart().split("  →")[0]!.trimEnd();
      assert.equal(cells.length, 2 * (i + 1), line); // two characters per key 0…i, none after
      assert.match(cells, /^[·░▒▓█]+$/);
      assert.match(line, /→ \d+ ".*" [01]\.\d\d$/);
    });
  });

  it('a long prompt\'s heat map shows position 0 and the last 39 positions', () => {
    const long = Array(7).fill('The cat sat on the mat.').join(' ');
    const r = wander('attention', '-m', LLAMA(), '-p', long, '--layer', '1', '--head', '0');
    assert.equal(r.code, 0, r.stderr);
    const T = Number(/^tokens {4}(\d+):/m.exec(r.stdout)![1]);
    assert.ok(T > 64, String(T));
    assert.match(r.stdout, new RegExp(`^\\(${T} tokens: showing position 0 and the last 39;`, 'm'));
    const rows = r.stdout.split('\n').filter((l) => /^ *\d+ {2}"/.test(l)).map((l) => Number(l.trim().split(' ')[0]));
    assert.deepEqual(rows, [0, ...Array.from({ length: 39 }, (_, i) => T - 39 + i)]);
  });

  it('a layer or head outside the model: one line naming the allowed range, exit 2', () => {
    const cases: [string[], string][] = [
      [['--layer', '2'], '--layer must be an integer from 0 to 1 (this model has 2 layers), got 2'],
      [['--layer', '-1'], '--layer must be an integer from 0 to 1 (this model has 2 layers), got -1'],
      [['--layer', 'one'], '--layer must be an integer from 0 to 1 (this model has 2 layers), got "one"'],
      [['--layer', '0', '--head', '4'], '--head must be an integer from 0 to 3 (this model has 4 query heads per layer), got 4'],
      [['--head', '9'], '--head must be an integer from 0 to 3 (this model has 4 query heads per layer), got 9'],
    ];
    for (const [flags, message] of cases) {
      const r = wander('attention', '-m', LLAMA(), '-p', PROMPT, ...flags);
      assert.equal(r.code, 2, flags.join(' '));
      assert.equal(r.stderr, `wander: ${message}\n`);
      assert.equal(r.stdout, '');
    }
  });

  it('stories260K: 5 layers × 8 heads in two tables of 4 heads', needsShared('stories260K.gguf'), () => {
    const r = wander('attention', '-m', sharedModel('stories260K.gguf')!, '-p', 'Once upon a time, there was a little girl named Lily.');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {9}head 0 {10}head 1 {10}head 2 {10}head 3$/m);
    assert.match(r.stdout, /^ {9}head 4 {10}head 5 {10}head 6 {10}head 7$/m);
    assert.equal(r.stdout.split('\n').filter((l) => /^layer \d/.test(l)).length, 10);
    const stderr = wander('attention', '-m', sharedModel('stories260K.gguf')!, '-p', 'Once', '--layer', '5').stderr;
    assert.equal(stderr, 'wander: --layer must be an integer from 0 to 4 (this model has 5 layers), got 5\n');
  });

  it('the default model (GPT-2 family, 4 layers × 4 heads) without --model', () => {
    const r = wander('attention', '-p', 'In the beginning God created the heaven and the earth.', '--layer', '3', '--head', '0');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^layer 3  (previous|first|self|induction|diffuse) +\d\.\d\d$/m);
    assert.match(r.stdout, /^layer 3, head 0: /m);
  });
});
