import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, tempDir, wander } from '../helpers.js';


describe('wander score', () => {
  test('the text, a summary, and a row per token; colour only when asked (stdout here is not a terminal)', needsShared('stories260K.gguf'), () => {
    const m = sharedModel('stories260K.gguf')!;
    const r = wander('score', '-m', m, '--ids', '1,403,407,261,378');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('\x1b['), 'plain when not a terminal');
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '<bos> Once upon a time');
    assert.equal(lines[2], 'scored    4 of 5 tokens (the first has nothing before it) · buckets by rank: top10 4 · top100 0 · top1000 0 · beyond 0');
    assert.equal(lines[3], 'mean NLL  0.0685 nats/token (0.099 bits) · perplexity 1.071');
    assert.equal(lines[7], '    0  "<bos>"          —          —        —  —               —');
    assert.equal(lines[8], '    1  " Once"    -0.2437      0.352        1  top10       1.159');
    const colored = wander('score', '-m', m, '--ids', '1,403,407,261,378', '--color');
    assert.ok(colored.stdout.startsWith('<bos>\x1b[30;42m Once\x1b[0m\x1b[30;42m upon\x1b[0m'), JSON.stringify(colored.stdout.slice(0, 60)));
    assert.ok(!wander('score', '-m', m, '--ids', '1,403', '--no-color').stdout.includes('\x1b['));
  });

  test('--text, --file and --ids agree; --json has the documented shape', needsShared('stories260K.gguf'), () => {
    const m = sharedModel('stories260K.gguf')!;
    const file = join(tempDir(), 'story.txt');
    writeFileSync(file, 'Once upon a time, there was a cat.');
    const byText = JSON.parse(wander('score', '-m', m, '--text', 'Once upon a time, there was a cat.', '--json').stdout);
    const byFile = JSON.parse(wander('score', '-m', m, '--file', file, '--json').stdout);
    const byIds = JSON.parse(wander('score', '-m', m, '--ids', byText.token_ids.join(','), '--json').stdout);
    assert.deepEqual(byFile, byText);
    assert.deepEqual(byIds, byText);
    assert.equal(byText.token_ids[0], 1, 'text gets the BOS the model adds');
    assert.deepEqual(Object.keys(byText), ['token_ids', 'tokens', 'mean_nll', 'perplexity']);
    assert.deepEqual(byText.tokens[0], { position: 0, token_id: 1, token: '<bos>', logprob: null, rank: null, bucket: null, entropy_bits: null });
    assert.deepEqual(Object.keys(byText.tokens[3]), ['position', 'token_id', 'token', 'logprob', 'rank', 'bucket', 'entropy_bits']);
  });

  test('bad input: one line on stderr, exit 2', () => {
    const path = fixture('gguf', SMALL.gpt2, DType.F32);
    for (const [args, message] of [
      [[], 'give what to score: one of --text, --ids or --file'],
      [['--text', 'a', '--ids', '1'], 'give only one of --text, --ids and --file (got --text and --ids)'],
      [['--ids', '1,99999'], '--ids: token id 99999 is outside the vocabulary (0..287)'],
      [['--ids', '1, x'], '--ids must be comma-separated token ids (e.g. 1,403,407), got "1, x"'],
      [['--ids', Array(129).fill(3).join(',')], '--ids is 129 tokens, longer than the model\'s context of 128 tokens'],
    ] as const) {
      const r = wander('score', '-m', path, ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, `wander: ${message}\n`);
    }
    const missing = join(tempDir(), 'nope.txt');
    const r = wander('score', '-m', path, '--file', missing);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `wander: --file ${missing}: no such file\n`);
  });
});
