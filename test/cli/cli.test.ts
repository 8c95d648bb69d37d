import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, ROOT, sharedModel, wander } from '../helpers.js';

const BIN = join(ROOT, 'bin', 'wander.mjs');


describe('wander generate', () => {
  test('streams the text, then reports settings, tokens, finish reason and timings', needsShared('stories260K.gguf'), () => {
    const r = wander('generate', '--model', sharedModel('stories260K.gguf')!, '--prompt', 'Once upon a time', '--temperature', '0', '--max-tokens', '32');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw\n');
    assert.match(r.stderr, /^settings {2}greedy \(temperature 0\) · seed \d+ \(random\) · max_tokens 32$/m);
    assert.match(r.stderr, /^tokens {4}prompt 5 · generated 32 · total 37$/m);
    assert.match(r.stderr, /^finish {4}max_tokens$/m);
    assert.match(r.stderr, /^timings {3}load \d+ ms · prompt [\d.]+ ms \(5 tokens\) · generate [\d.]+ ms \([\d.]+ tokens\/s\)$/m);
  });

  test('--json prints one object with the documented shape', () => {
    const r = wander('generate', '-m', fixture('gguf', SMALL.llama, DType.Q8_0), '-p', 'The cat', '--seed', '3', '--max-tokens', '4', '--top-logprobs', '2', '--stop', 'zz', '--json');
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(run), ['model', 'settings', 'prompt', 'samples', 'summary', 'usage', 'timings']);
    for (const k of ['path', 'architecture', 'parameters', 'context_length', 'vocab_size']) assert.ok(k in run.model, k);
    assert.deepEqual(run.settings.stop, ['zz']);
    assert.equal(run.settings.seed, 3);
    assert.equal(run.prompt.text, 'The cat');
    assert.equal(run.prompt.token_ids[0], 1);
    const s = run.samples[0];
    assert.equal(s.index, 0);
    assert.equal(s.token_ids.length, 4);
    assert.equal(s.finish_reason, 'max_tokens');
    assert.equal(s.logprobs.length, 4);
    assert.deepEqual(Object.keys(s.logprobs[0]), ['token_id', 'token', 'logprob', 'top_logprobs']);
    assert.equal(s.logprobs[0].top_logprobs.length, 2);
    assert.deepEqual(Object.keys(run.usage), ['prompt_tokens', 'completion_tokens', 'total_tokens']);
    assert.deepEqual(Object.keys(run.timings), ['load_ms', 'prompt_ms', 'generate_ms', 'tokens_per_second']);
    assert.equal(r.stderr, '');
  });

  test('--threads 2 gives the same tokens', () => {
    const path = fixture('gguf', SMALL.gpt2, DType.F32);
    const a = JSON.parse(wander('generate', '-m', path, '-p', 'The cat', '--seed', '9', '--max-tokens', '8', '--json').stdout);
    const b = JSON.parse(wander('generate', '-m', path, '-p', 'The cat', '--seed', '9', '--max-tokens', '8', '--threads', '2', '--json').stdout);
    assert.deepEqual(b.samples[0].token_ids, a.samples[0].token_ids);
    assert.equal(b.model.threads, 2);
  });

  test('--kv f16 and --context: the report says so, and the same seed gives the same tokens', () => {
    const path = fixture('gguf', SMALL.llama, DType.F32);
    const args = ['generate', '-m', path, '-p', 'The cat', '--seed', '9', '--max-tokens', '8', '--kv', 'f16', '--context', '64'];
    const a = JSON.parse(wander(...args, '--json').stdout), b = JSON.parse(wander(...args, '--threads', '2', '--json').stdout);
    assert.deepEqual(b.samples[0].token_ids, a.samples[0].token_ids);
    assert.deepEqual([a.model.kv_cache, a.model.context_length], ['f16', 64]);
    assert.match(wander(...args).stderr, /^model {5}.*, context 64, .*; f16 KV cache$/m);
  });
});

describe('the embedded default model', () => {
  test('every command runs without --model on wander-ladder-medium', () => {
    const r = wander('generate', '--prompt', 'And God said', '--temperature', '0', '--max-tokens', '12', '--json');
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout);
    assert.match(run.model.path, /models\/ladder\/medium\/wander-ladder-medium\.gguf$/);
    assert.equal(run.model.architecture, 'gpt2');
    assert.equal(run.samples[0].token_ids.length, 12);
    const next = wander('next', '-p', 'And God said', '--top', '3');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /^rank {2}token/m);
  });
});

describe('bad input: one line on stderr, exit code 2, no stack trace', () => {
  const model = () => fixture('gguf', SMALL.llama, DType.F32);
  const cases: [string, () => string[], string][] = [
    ['missing --prompt', () => ['generate', '-m', model()], 'wander: --prompt is required: the text for the model to continue'],
    ['missing file', () => ['generate', '-m', '/no/such/model.gguf', '-p', 'x'], 'wander: /no/such/model.gguf: no such file or folder (pass a .gguf file, a model folder, ladder:<size>, or hf:<owner>/<repo>)'],
    ['not a model', () => ['generate', '-m', BIN, '-p', 'x'], 'wander: wander.mjs: not a GGUF file (bad magic) and not a Hugging Face model folder'],
    ['unknown flag', () => ['generate', '-m', model(), '-p', 'x', '--colour'], "wander: unknown option '--colour' (see wander --help)"],
    ['negative temperature', () => ['generate', '-m', model(), '-p', 'x', '--temperature', '-1'], 'wander: --temperature must be a number ≥ 0 (0 = greedy), got -1'],
    ['top-p out of range', () => ['generate', '-m', model(), '-p', 'x', '--top-p', '1.2'], 'wander: --top-p must be in (0, 1] (1 = off), got 1.2'],
    ['negative top-k', () => ['generate', '-m', model(), '-p', 'x', '--top-k', '-3'], 'wander: --top-k must be an integer ≥ 0 (0 = off), got -3'],
    ['zero max-tokens', () => ['generate', '-m', model(), '-p', 'x', '--max-tokens', '0'], 'wander: --max-tokens must be an integer from 1 to 1000000, got 0'],
    ['fractional max-tokens', () => ['generate', '-m', model(), '-p', 'x', '--max-tokens', '2.5'], 'wander: --max-tokens must be an integer from 1 to 1000000, got 2.5'],
    ['non-numeric max-tokens', () => ['generate', '-m', model(), '-p', 'x', '--max-tokens', 'lots'], 'wander: --max-tokens must be an integer from 1 to 1000000, got "lots"'],
    ['bad threads', () => ['generate', '-m', model(), '-p', 'x', '--threads', '0'], 'wander: --threads must be an integer from 1 to 64, got "0"'],
    ['prompt longer than the context', () => ['generate', '-m', model(), '-p', 'abc '.repeat(200)], "wander: --prompt is 602 tokens, longer than the model's context of 128 tokens"],
    ['bad --kv', () => ['generate', '-m', model(), '-p', 'x', '--kv', 'q8_0'], 'wander: --kv must be f32 or f16, got "q8_0"'],
    ['zero --context', () => ['next', '-m', model(), '-p', 'x', '--context', '0'], 'wander: --context must be an integer from 1 to the model\'s context length, got "0"'],
    ['--context past the model\'s', () => ['lens', '-m', model(), '-p', 'x', '--context', '4096'], `wander: --context must be an integer from 1 to 128 (${model().split('/').pop()}'s context length), got 4096`],
    ['prompt longer than --context', () => ['generate', '-m', model(), '-p', 'abc '.repeat(5), '--context', '8'], "wander: --prompt is 17 tokens, longer than the model's context of 8 tokens"],
    ['--kv on a server', () => ['generate', '-m', 'openai:http://127.0.0.1:9/v1', '-p', 'x', '--kv', 'f16'], "wander: --kv: openai:http://127.0.0.1:9/v1 is a server that manages its own KV cache; these flags size Wander's engine's or llama.cpp's (configure the server instead)"],
  ];
  for (const [name, args, message] of cases) {
    test(name, () => {
      const r = wander(...args());
      assert.equal(r.code, 2);
      assert.equal(r.stderr, message + '\n');
      assert.equal(r.stdout, '');
    });
  }

  test('--verbose adds the stack', () => {
    const r = wander('generate', '-m', model(), '--verbose');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^wander: --prompt is required/);
    assert.match(r.stderr, /\n {4}at /);
  });
});
