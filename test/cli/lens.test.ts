import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { logitLens } from '../../src/interp/lens.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, wander } from '../helpers.js';


describe('wander lens', () => {
  test('a table of each layer\'s top-1 token at each position; --target follows one token', needsShared('stories260K.gguf'), () => {
    const m = sharedModel('stories260K.gguf')!;
    const r = wander('lens', '-m', m, '-p', 'Once upon a time');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[2], '  pos  token    layer 0       layer 1       layer 2       layer 3       layer 4');
    assert.equal(lines[7], '    4  " time"  " time" 1.00  " time" 1.00  "," 0.66      "," 0.89      "," 0.97');
    const t = wander('lens', '-m', m, '-p', 'Once upon a time', '--target', ',');
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout.split('\n')[0], 'target    "," (#432): its probability and rank (1 = top) after each layer, predicting the token after each position');
    assert.ok(t.stdout.includes('\n    4  " time"  0.0000 #39   0.0001 #3   0.6643 #1   0.8874 #1   0.9688 #1\n'), t.stdout);
  });

  test('--json is the library\'s LensResult', () => {
    const path = fixture('gguf', SMALL.gpt2, DType.F32);
    const r = wander('lens', '-m', path, '-p', 'The cat sat', '--top', '3', '--target', '#9', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(JSON.stringify(logitLens(loadModel(path), 'The cat sat', { top: 3, target: '#9' }))));
  });

  test('bad input: one line on stderr, exit 2', () => {
    const path = fixture('gguf', SMALL.gpt2, DType.F32);
    const model = loadModel(path);
    const ids = model.tokenizer.encode('cat sat'), two = ids.map((i) => JSON.stringify(model.tokenizer.tokenText(i))).join(' ');
    for (const [args, message] of [
      [['--target', 'cat sat'], `--target "cat sat" is ${ids.length} tokens (${two}); give exactly one token, or #id`],
      [['--target', '#100000'], `--target #100000: token ids go from 0 to ${model.config.vocabSize - 1}`],
      [['--top', 'many'], '--top must be an integer from 1 to 1000, got "many"'],
      [['--top', '0'], '--top must be an integer from 1 to 1000, got 0'],
    ] as const) {
      const r = wander('lens', '-m', path, '-p', 'The cat', ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, `wander: ${message}\n`);
      assert.equal(r.stdout, '');
    }
  });
});
