import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { generate } from '../../src/generate/generate.js';
import { parseSettings, resolveSettings, cliNaming } from '../../src/generate/settings.js';
import { TextStream } from '../../src/generate/text-stream.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, softmax, userError } from '../helpers.js';
import { Rng } from '../../src/sampling/rng.js';

const STORIES = 'stories260K.gguf';
const REFERENCE = ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw';

describe('generate on stories260K', () => {
  const model = () => loadModel(sharedModel(STORIES)!);

  test('greedy: the reference text, token counts, finish reason and the settings used', needsShared(STORIES), () => {
    const deltas: string[] = [];
    const run = generate(model(), 'Once upon a time', { temperature: 0, max_tokens: 32, seed: 7 }, { onText: (t) => deltas.push(t) });
    const s = run.samples[0]!;
    assert.equal(s.text, REFERENCE);
    assert.equal(deltas.join(''), REFERENCE);
    assert.equal(s.finish_reason, 'max_tokens');
    assert.deepEqual(run.prompt.token_ids, [1, 403, 407, 261, 378]);
    assert.deepEqual(run.usage, { prompt_tokens: 5, completion_tokens: 32, total_tokens: 37 });
    const { temperature, top_k, top_p, min_p, seed, max_tokens, stop, n, chain } = run.settings;
    assert.deepEqual({ temperature, top_k, top_p, min_p, seed, max_tokens, stop, n, chain }, { temperature: 0, top_k: 0, top_p: 1, min_p: 0, seed: 7, max_tokens: 32, stop: [], n: 1, chain: 'hf' });
    assert.deepEqual(run.settings.stages, []);
    assert.deepEqual([run.settings.sources.temperature, run.settings.sources.top_k, run.settings.sources.seed, run.settings.sources.max_tokens], ['flag', 'default', 'flag', 'flag']);
    assert.deepEqual(run.summary, { samples: 1, distinct_texts: 1, finish_reasons: { eos: 0, max_tokens: 1, stop_sequence: 0, context_full: 0, error: 0 } });
    assert.deepEqual(Object.keys(run.model).slice(0, 5), ['path', 'architecture', 'family', 'format', 'parameters']);
    assert.equal(run.model.parameters, 292800);
    assert.equal(run.model.context_length, 2048);
    assert.equal(run.model.vocab_size, 512);
    assert.ok(run.timings.prompt_ms >= 0 && run.timings.generate_ms > 0 && run.timings.tokens_per_second > 0);
  });

  test('a stop string ends the sample before it; streaming never shows it', needsShared(STORIES), () => {
    const deltas: string[] = [];
    const run = generate(model(), 'Once upon a time', { temperature: 0, max_tokens: 32, stop: ['Lily', 'zzz'] }, { onText: (t) => deltas.push(t) });
    const s = run.samples[0]!;
    assert.equal(s.finish_reason, 'stop_sequence');
    assert.equal(s.stop_sequence, 'Lily');
    assert.equal(s.text, ', there was a little girl named ');
    assert.equal(deltas.join(''), s.text);
    // Up to and including the token that completed "Lily".
    assert.deepEqual(s.token_ids, [432, 383, 286, 261, 376, 298, 315, 421, 395, 317]);
  });

  test('the same seed gives the same sample; another seed another one', needsShared(STORIES), () => {
    const m = model();
    const a = generate(m, 'Once upon a time', { temperature: 1, top_p: 0.9, seed: 123, max_tokens: 40 });
    const b = generate(m, 'Once upon a time', { temperature: 1, top_p: 0.9, seed: 123, max_tokens: 40 });
    const c = generate(m, 'Once upon a time', { temperature: 1, top_p: 0.9, seed: 124, max_tokens: 40 });
    assert.deepEqual(a.samples[0]!.token_ids, b.samples[0]!.token_ids);
    assert.notDeepEqual(a.samples[0]!.token_ids, c.samples[0]!.token_ids);
  });

  test('without a seed, a random one is chosen and reported', needsShared(STORIES), () => {
    const m = model();
    const a = generate(m, 'Once upon a time', { max_tokens: 20 });
    assert.equal(a.settings.sources.seed, 'random');
    const again = generate(m, 'Once upon a time', { max_tokens: 20, seed: a.settings.seed });
    assert.deepEqual(again.samples[0]!.token_ids, a.samples[0]!.token_ids);
  });

  test('top logprobs come from the unmodified distribution', needsShared(STORIES), () => {
    const m = model();
    const run = generate(m, 'Once upon a time', { temperature: 0, max_tokens: 3, top_logprobs: 4 });
    const lps = run.samples[0]!.logprobs!;
    assert.equal(lps.length, 3);
    assert.equal(lps[0]!.token_id, 432);
    assert.equal(lps[0]!.token, ',');
    assert.deepEqual(lps[0]!.top_logprobs.map((t) => t.token_id), [432, 383, 322, 353]);
    const p = softmax(m.withScratch(() => m.forward([1, 403, 407, 261, 378], m.newCache(8))));
    assert.ok(Math.abs(lps[0]!.logprob - Math.log(p[432]!)) < 1e-6);
    assert.ok(Math.abs(Math.exp(lps[0]!.top_logprobs[1]!.logprob) - p[383]!) < 1e-6);
  });
});

describe('finish reasons and limits on the fixtures', () => {
  const LOOP = 'the cat sat on the mat and '.repeat(6);

  test('eos: the EOS token ends the sample and adds no text', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    const run = generate(m, LOOP, { temperature: 0, max_tokens: 100 });
    const s = run.samples[0]!;
    assert.equal(s.finish_reason, 'eos');
    assert.equal(s.token_ids[s.token_ids.length - 1], 2);
    assert.ok(s.token_ids.length > 1);
    assert.equal(s.text, m.tokenizer.decode(s.token_ids.slice(0, -1)));
    assert.equal(run.usage.completion_tokens, s.token_ids.length);
  });

  test('context_full: generation stops at the model\'s context length', () => {
    const m = loadModel(fixture('gguf', SMALL.gpt2, DType.F32));
    const P = m.tokenizer.encode(LOOP).length;
    assert.ok(P < 128);
    const run = generate(m, LOOP, { temperature: 0, max_tokens: 500 });
    assert.equal(run.samples[0]!.finish_reason, 'context_full');
    // The last position's prediction is the final token: it never enters the context itself.
    assert.equal(run.usage.completion_tokens, 128 - P + 1);
  });

  test('error: a failure mid-run ends the sample with its message and keeps what was generated', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    let calls = 0;
    const hooks = new Map([['hook_logits', () => { if (++calls === 4) throw new Error('sensor exploded'); }]]);
    const run = generate(m, 'The cat', { temperature: 0, max_tokens: 10 }, { hooks });
    const s = run.samples[0]!;
    assert.equal(s.finish_reason, 'error');
    assert.equal(s.error, 'sensor exploded');
    assert.equal(s.token_ids.length, 3);
    assert.equal(run.usage.completion_tokens, 3);
  });

  test('a prompt longer than the context is a UserError naming the prompt', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    const long = 'abc '.repeat(200);
    const n = m.tokenizer.encode(long).length;
    assert.throws(() => generate(m, long, {}), userError(`--prompt is ${n} tokens, longer than the model's context of 128 tokens`, 'prompt'));
  });

  test('generation_config.json supplies defaults, reported as such', () => {
    const m = loadModel(fixture('hf', SMALL.gpt2));
    const run = generate(m, 'The cat', { max_tokens: 2, seed: 1 });
    assert.equal(run.settings.top_k, 20);
    assert.equal(run.settings.sources.top_k, 'generation_config.json');
    assert.deepEqual(run.model.generation_config, { bos_token_id: m.config.vocabSize - 1, eos_token_id: m.config.vocabSize - 1, do_sample: true, top_k: 20 });
    const flag = generate(m, 'The cat', { max_tokens: 2, seed: 1, top_k: 5 });
    assert.equal(flag.settings.top_k, 5);
  });

  test('every format and family generates', () => {
    for (const arch of ['gpt2', 'llama', 'qwen2', 'qwen3'] as const) {
      for (const path of [fixture('hf', SMALL[arch]), ...[DType.F32, DType.F16, DType.Q8_0, DType.Q4_0].map((d) => fixture('gguf', SMALL[arch], d))]) {
        const run = generate(loadModel(path), 'The cat was', { temperature: 0, max_tokens: 5 });
        assert.equal(run.samples[0]!.token_ids.length, 5, path);
      }
    }
  });
});

describe('settings', () => {
  test('validation messages name the flag and what is allowed', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ temperature: -1 }, '--temperature must be a number ≥ 0 (0 = greedy), got -1'],
      [{ top_p: 0 }, '--top-p must be in (0, 1] (1 = off), got 0'],
      [{ top_p: 1.5 }, '--top-p must be in (0, 1] (1 = off), got 1.5'],
      [{ top_k: -2 }, '--top-k must be an integer ≥ 0 (0 = off), got -2'],
      [{ max_tokens: 0 }, '--max-tokens must be an integer from 1 to 1000000, got 0'],
      [{ max_tokens: 2.5 }, '--max-tokens must be an integer from 1 to 1000000, got 2.5'],
      [{ temperature: 'hot' }, '--temperature must be a number ≥ 0 (0 = greedy), got "hot"'],
      [{ seed: -1 }, '--seed must be an integer from 0 to 2^53 − 1, got -1'],
      [{ min_p: 2 }, '--min-p must be in [0, 1] (0 = off), got 2'],
      [{ typical_p: 0 }, '--typical-p must be in (0, 1] (1 = off), got 0'],
      [{ n: 0 }, '--n must be an integer from 1 to 100000, got 0'],
      [{ max_batch_size: 0 }, '--max-batch-size must be an integer from 1 to 64, got 0'],
      [{ repetition_penalty: 0 }, '--repetition-penalty must be a number > 0 (1 = off), got 0'],
      [{ epsilon_cutoff: 1 }, '--epsilon must be in [0, 1) (0 = off), got 1'],
      [{ min_new_tokens: 5, max_tokens: 3 }, '--min-new-tokens (5) must not exceed --max-tokens (3)'],
      [{ colour: 1 }, `unknown setting --colour (allowed: ${['--temperature', '--top-k', '--top-p', '--min-p', '--typical-p', '--epsilon', '--eta', '--top-n-sigma', '--repetition-penalty', '--frequency-penalty', '--presence-penalty', '--penalty-window', '--no-repeat-ngram', '--bias', '--ban', '--min-new-tokens', '--min-keep', '--dry-multiplier', '--dry-base', '--dry-allowed-length', '--dry-penalty-last-n', '--dry-sequence-breaker', '--xtc-probability', '--xtc-threshold', '--mirostat', '--mirostat-tau', '--mirostat-eta', '--dynatemp-range', '--dynatemp-exponent', '--smoothing-factor', '--smoothing-curve', '--top-h', '--num-beams', '--length-penalty', '--early-stopping', '--num-return-sequences', '--do-sample', '--num-beam-groups', '--diversity-penalty', '--penalty-alpha', '--chain', '--seed', '--max-tokens', '--stop', '--top-logprobs', '--n', '--max-batch-size', '--trace', '--ablate', '--noise', '--patch-from'].join(', ')})`],
    ];
    for (const [input, message] of cases) assert.throws(() => parseSettings(input, cliNaming), userError(message), message);
    assert.throws(() => parseSettings({ top_p: 0 }), userError('top_p must be in (0, 1] (1 = off), got 0', 'top_p'));
  });

  test('user values beat the model\'s, which beat the defaults', () => {
    const r = resolveSettings({ temperature: 0.7 }, { temperature: 0.2, top_p: 0.9 });
    assert.equal(r.settings.temperature, 0.7);
    assert.equal(r.settings.top_p, 0.9);
    assert.equal(r.settings.top_k, 0);
    assert.deepEqual([r.sources.temperature, r.sources.top_p, r.sources.top_k], ['flag', 'generation_config.json', 'default']);
  });
});

describe('TextStream', () => {
  const pieces = ['Hel', 'lo', ' wor', 'ld', '!'];
  const decode = (ids: number[]) => ids.map((i) => pieces[i]).join('');

  test('holds back what may become a stop string', () => {
    const s = new TextStream(decode, ['world']);
    assert.equal(s.push(0), 'Hel');
    assert.equal(s.push(1), 'lo');
    assert.equal(s.push(2), ' '); // "wor" could start "world"
    assert.equal(s.push(3), '');
    assert.equal(s.stopped, 'world');
    assert.equal(s.text, 'Hello ');
  });

  test('releases held text once it cannot be a stop string', () => {
    const s = new TextStream(decode, ['word']);
    s.push(0); s.push(1);
    assert.equal(s.push(2), ' ');
    assert.equal(s.push(3), 'world');
    assert.equal(s.stopped, undefined);
  });

  test('never splits a UTF-8 character', () => {
    const s = new TextStream((ids) => (ids.length === 1 ? 'a\uFFFD' : 'aé'), []);
    assert.equal(s.push(0), 'a');
    assert.equal(s.push(1), 'é');
  });
});

describe('incremental decoding matches decoding everything at once', () => {
  const check = (name: string, path: () => string | undefined, needs = needsShared()) => {
    test(name, needs, () => {
      const tok = loadModel(path()!).tokenizer;
      const rng = new Rng(3);
      for (let trial = 0; trial < 5; trial++) {
        // Real text (with multi-byte characters) plus random tokens, 80 tokens long.
        const ids = tok.encode('Once upon a time — naïve 日本 🦙 story\nThe end. ').filter((id) => id !== tok.bosId);
        while (ids.length < 80) ids.push(rng.nextU32() % tok.vocabSize);
        const stream = new TextStream((x) => tok.decode(x), []);
        let shown = '';
        for (const id of ids) shown += stream.push(id);
        shown += stream.flush();
        assert.equal(stream.text, tok.decode(ids));
        assert.equal(shown, stream.text);
      }
    });
  };
  check('GGUF byte-level BPE (GPT-2 vocabulary)', () => sharedModel('llamacpp-tiny-gpt2.gguf'), needsShared('llamacpp-tiny-gpt2.gguf'));
  check('GGUF SentencePiece (stories260K)', () => sharedModel(STORIES), needsShared(STORIES));
  check('tokenizer.json with a Strip decoder (Llama-style fixture)', () => fixture('hf', SMALL.llama));
});

test('generation_config values outside the allowed ranges are ignored, not used', () => {
  const r = resolveSettings({}, { top_p: 0, temperature: 0.7 });
  assert.equal(r.settings.top_p, 1);
  assert.equal(r.sources.top_p, 'default');
  assert.equal(r.settings.temperature, 0.7);
});
