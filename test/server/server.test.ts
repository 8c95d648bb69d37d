import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { generate } from '../../src/generate/generate.js';
import { nextTokenDistribution, type NextTokenDistribution } from '../../src/generate/next.js';
import { cacheToJson, captureActivations } from '../../src/interp/cache.js';
import { attentionPatterns } from '../../src/interp/attention.js';
import { directLogitAttribution } from '../../src/interp/dla.js';
import { headAblationScan } from '../../src/interp/heads.js';
import { logitLens } from '../../src/interp/lens.js';
import { activationPatching } from '../../src/interp/patch.js';
import { scoreTokens } from '../../src/interp/score.js';
import { collectReports } from '../../src/experiments/report/collect.js';
import { jsonReport } from '../../src/experiments/report/tables.js';
import { parseExperiment } from '../../src/experiments/spec.js';
import { ResultsStore } from '../../src/experiments/store.js';
import { runSweep } from '../../src/experiments/sweep.js';
import { loadModel } from '../../src/model/load.js';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { tempDir } from '../helpers.js';
import { serve, stop, type Server } from './process.js';

// `wander serve` as a real process on a free loopback port, driven by the official openai client.

const M = 'ladder:medium';

/** A copy of the Llama fixture with a chat template, for /v1/chat/completions. */
function chatModel(): string {
  const dir = join(tempDir(), 'chat-model');
  cpSync(fixture('hf', SMALL.llama), dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({
    chat_template: "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
  }));
  return dir;
}

describe('wander serve: the OpenAI API, through the openai client', () => {
  let server: Server;
  let client: OpenAI;
  const model = loadModel(DEFAULT_MODEL);
  let chatDir: string;

  before(async () => {
    chatDir = chatModel();
    server = await serve('--model', 'ladder:medium', '--model', `chat=${chatDir}`);
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => stop(server));

  test('lists the models; /health answers', async () => {
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['ladder:medium', 'chat']);
    const health = await (await fetch(`${server.url}/health`)).json() as { status: string; models: string[] };
    assert.deepEqual([health.status, health.models], ['ok', ['ladder:medium', 'chat']]);
  });

  test('a completion is what wander generate gives for the same settings and seed', async () => {
    const r = await client.completions.create({ model: 'ladder:medium', prompt: 'And God said', max_tokens: 12, temperature: 0.8, n: 3, seed: 7 });
    const local = generate(model, 'And God said', { max_tokens: 12, temperature: 0.8, n: 3, seed: 7 });
    assert.deepEqual(r.choices.map((c) => c.text), local.samples.map((s) => s.text));
    assert.deepEqual(r.choices.map((c) => c.finish_reason), ['length', 'length', 'length']);
    assert.deepEqual(r.usage, { prompt_tokens: 3, completion_tokens: 36, total_tokens: 39 });
    assert.match(r.system_fingerprint!, /^wander-\d+\.\d+\.\d+-wasm-simd-[0-9a-f]{12}$/);
    assert.equal((r as unknown as { seed: number }).seed, 7);
  });

  test('token-id prompts, echo, stop, logit_bias and the legacy logprobs', async () => {
    const ids = model.tokenizer.encode('And God said');
    const byIds = await client.completions.create({ model: M, prompt: ids, max_tokens: 6, temperature: 0 });
    const byText = await client.completions.create({ model: M, prompt: 'And God said', max_tokens: 6, temperature: 0 });
    assert.equal(byIds.choices[0]!.text, byText.choices[0]!.text);
    const echo = await client.completions.create({ model: M, prompt: 'And God said', max_tokens: 6, temperature: 0, echo: true });
    assert.equal(echo.choices[0]!.text, 'And God said' + byText.choices[0]!.text);
    const stopped = await client.completions.create({ model: M, prompt: 'And God said', max_tokens: 20, temperature: 0, stop: ',' });
    assert.equal(stopped.choices[0]!.finish_reason, 'stop');
    assert.ok(!stopped.choices[0]!.text.includes(','));
    // Banning the greedy first token (" unto") changes it.
    const unto = model.tokenizer.encode(' unto')[0]!;
    const banned = await client.completions.create({ model: M, prompt: 'And God said', max_tokens: 1, temperature: 0, logit_bias: { [unto]: -100 } });
    assert.notEqual(banned.choices[0]!.text, ' unto');
    const lp = await client.completions.create({ model: M, prompt: 'And God said', max_tokens: 4, temperature: 0, logprobs: 3 });
    const local = generate(model, 'And God said', { max_tokens: 4, temperature: 0, top_logprobs: 3 });
    const l = lp.choices[0]!.logprobs!;
    assert.deepEqual(l.tokens, local.samples[0]!.logprobs!.map((t) => t.token));
    assert.deepEqual(l.token_logprobs, local.samples[0]!.logprobs!.map((t) => t.logprob));
    assert.equal(Object.keys(l.top_logprobs![0]!).length, 3);
    assert.deepEqual(l.text_offset!.slice(0, 2), [0, l.tokens![0]!.length]);
  });

  test('streaming sends the same text as one response, then the usage, then [DONE]', async () => {
    const stream = await client.completions.create({ model: M, prompt: 'And it came to pass', max_tokens: 16, temperature: 0.7, seed: 3, n: 2, stream: true, stream_options: { include_usage: true } });
    const text = ['', ''];
    let usage: OpenAI.CompletionUsage | undefined, finishes = 0;
    for await (const chunk of stream) {
      for (const c of chunk.choices) { text[c.index] += c.text; if (c.finish_reason) finishes++; }
      if (chunk.usage) usage = chunk.usage;
    }
    const whole = await client.completions.create({ model: M, prompt: 'And it came to pass', max_tokens: 16, temperature: 0.7, seed: 3, n: 2 });
    assert.deepEqual(text, whole.choices.map((c) => c.text));
    assert.equal(finishes, 2);
    assert.deepEqual(usage, whole.usage);
    // echo: the stream starts with the prompt, as the whole response's text does.
    const echoed = await client.completions.create({ model: M, prompt: 'And God said', max_tokens: 5, temperature: 0, echo: true, stream: true });
    let streamed = '';
    for await (const chunk of echoed) streamed += chunk.choices.map((c) => c.text).join('');
    assert.equal(streamed, (await client.completions.create({ model: M, prompt: 'And God said', max_tokens: 5, temperature: 0, echo: true })).choices[0]!.text);
  });

  test('chat: the model\'s template, logprobs per token, streaming deltas', async () => {
    const messages = [{ role: 'user' as const, content: 'The cat' }];
    const r = await client.chat.completions.create({ model: 'chat', messages, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 2 });
    const chat = loadModel(chatDir);
    const local = generate(chat, '<user>The cat\n<assistant>', { max_tokens: 6, temperature: 0, top_logprobs: 2 });
    assert.equal(r.choices[0]!.message.content, local.samples[0]!.text);
    const content = r.choices[0]!.logprobs!.content!;
    assert.deepEqual(content.map((t) => t.logprob), local.samples[0]!.logprobs!.map((t) => t.logprob));
    assert.equal(content[0]!.top_logprobs.length, 2);
    assert.deepEqual(content[0]!.bytes, [...Buffer.from(content[0]!.token)]);
    const stream = await client.chat.completions.create({ model: 'chat', messages, max_completion_tokens: 6, temperature: 0, stream: true });
    let text = '', role = '';
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta;
      if (d?.role) role = d.role;
      text += d?.content ?? '';
    }
    assert.deepEqual([role, text], ['assistant', r.choices[0]!.message.content]);
  });

  test('errors in OpenAI\'s shape, as the client\'s error classes', async () => {
    const bad = async (p: Promise<unknown>, cls: abstract new (...args: never[]) => InstanceType<typeof OpenAI.APIError>, status: number, message: string, param: string | null) => {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
        const err = e as InstanceType<typeof OpenAI.APIError>;
        assert.deepEqual([err.status, (err.error as { message: string }).message, err.param ?? null], [status, message, param]);
        return true;
      });
    };
    await bad(client.completions.create({ model: M, prompt: 'x', temperature: -1 }), OpenAI.BadRequestError, 400, 'temperature must be a number ≥ 0 (0 = greedy), got -1', 'temperature');
    await bad(client.completions.create({ model: M, prompt: 'x', top_p: 1.5 }), OpenAI.BadRequestError, 400, 'top_p must be in (0, 1] (1 = off), got 1.5', 'top_p');
    await bad(client.completions.create({ model: M, prompt: 'x', n: 65 }), OpenAI.BadRequestError, 400, 'n must be an integer from 1 to 64 on the server, got 65', 'n');
    await bad(client.completions.create({ model: M, prompt: 'x', logprobs: 21 }), OpenAI.BadRequestError, 400, 'logprobs must be an integer from 0 to 20, got 21', 'logprobs');
    await bad(client.completions.create({ model: M, prompt: 'x', logit_bias: { 5: 101 } }), OpenAI.BadRequestError, 400, 'logit_bias[5] must be a number from -100 to 100, got 101', 'logit_bias');
    await bad(client.completions.create({ model: M, prompt: 'x', patch_from: ['/etc/passwd.safetensors'] } as never), OpenAI.BadRequestError, 400,
      'patch_from reads a file, and the server reads no file a request names: run patching with the CLI', 'patch_from');
    await bad(client.completions.create({ model: M, prompt: 'x', colour: 1 } as never), OpenAI.BadRequestError, 400,
      `unknown setting colour (allowed: temperature, top_k, top_p, min_p, typical_p, epsilon_cutoff, eta_cutoff, top_n_sigma, repetition_penalty, frequency_penalty, presence_penalty, penalty_window, no_repeat_ngram_size, logit_bias, banned_strings, min_new_tokens, min_tokens_to_keep, dry_multiplier, dry_base, dry_allowed_length, dry_penalty_last_n, dry_sequence_breakers, xtc_probability, xtc_threshold, mirostat, mirostat_tau, mirostat_eta, dynatemp_range, dynatemp_exponent, smoothing_factor, smoothing_curve, top_h, num_beams, length_penalty, early_stopping, num_return_sequences, do_sample, num_beam_groups, diversity_penalty, penalty_alpha, chain, seed, max_tokens, stop, top_logprobs, n, max_batch_size, trace, ablate, noise, patch_from)`, 'colour');
    await bad(client.completions.create({ model: M, prompt: 'abc '.repeat(200) }), OpenAI.BadRequestError, 400, "prompt is 401 tokens, longer than the model's context of 128 tokens", 'prompt');
    await bad(client.completions.create({ model: 'gpt-4', prompt: 'x' }), OpenAI.NotFoundError, 404, 'model "gpt-4" is not served here (served: ladder:medium, chat)', 'model');
    await bad(client.chat.completions.create({ model: M, messages: [{ role: 'user', content: 'hi' }] }), OpenAI.BadRequestError, 400,
      `${DEFAULT_MODEL}: this model has no chat template (tokenizer.chat_template / chat_template); run the prompt without chat`, 'chat');
    const big = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x'.repeat(2 << 20) }) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
  });

  test('bad input: each field out of range is a 400 naming it, before any model work', async () => {
    const cases: [object, string, string][] = [
      [{ max_tokens: 0 }, 'max_tokens', 'max_tokens must be an integer from 1 to 1000000, got 0'],
      [{ max_tokens: 500 }, 'max_tokens', "max_tokens must be at most the model's context of 128 tokens, got 500"],
      [{ n: 0 }, 'n', 'n must be an integer from 1 to 64 on the server, got 0'],
      [{ temperature: 'hot' }, 'temperature', 'temperature must be a number ≥ 0 (0 = greedy), got "hot"'],
      [{ top_k: 1.5 }, 'top_k', 'top_k must be an integer ≥ 0 (0 = off), got 1.5'],
      [{ min_p: 2 }, 'min_p', 'min_p must be in [0, 1] (0 = off), got 2'],
      [{ typical_p: 0 }, 'typical_p', 'typical_p must be in (0, 1] (1 = off), got 0'],
      [{ repetition_penalty: 0 }, 'repetition_penalty', 'repetition_penalty must be a number > 0 (1 = off), got 0'],
      [{ presence_penalty: 3 }, 'presence_penalty', 'presence_penalty must be in [-2, 2] (0 = off), got 3'],
      [{ frequency_penalty: -3 }, 'frequency_penalty', 'frequency_penalty must be in [-2, 2] (0 = off), got -3'],
      [{ seed: -1 }, 'seed', 'seed must be an integer from 0 to 2^53 − 1, got -1'],
      [{ stop: 'abcdefghijklmnopq'.split('') }, 'stop', `stop takes at most 16 strings, got ${JSON.stringify('abcdefghijklmnopq'.split(''))}`],
      [{ logit_bias: { x: 1 } }, 'logit_bias', 'logit_bias keys must be token ids, got "x"'],
      [{ min_tokens: -1 }, 'min_tokens', 'min_tokens must be an integer ≥ 0, got -1'],
      [{ echo: 'yes' }, 'echo', 'echo must be true or false, got "yes"'],
      [{ stream: 'yes' }, 'stream', 'stream must be true or false, got "yes"'],
      [{ user: 5 }, 'user', 'user must be a string, got 5'],
      [{ stream_options: 5 }, 'stream_options', 'stream_options must be an object such as { "include_usage": true }, got 5'],
      [{ prompt: [] }, 'prompt', 'prompt must be a string, a list of strings, a list of token ids, or a list of such lists'],
      [{ prompt: [1, 2, 99999] }, 'prompt', 'prompt: token id 99999 is outside the vocabulary (0..2047)'],
      [{ model: 5 }, 'model', 'model must be a string, got 5'],
    ];
    for (const [fields, param, message] of cases) {
      const r = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x', ...fields }) });
      assert.deepEqual([r.status, await r.json()], [400, { error: { message, type: 'invalid_request_error', param, code: null } }], JSON.stringify(fields));
    }
    const chat = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 0 }) });
    assert.equal(((await chat.json()) as { error: { message: string } }).error.message, 'max_completion_tokens must be an integer from 1 to 1000000, got 0');
  });

  test('/api/next returns what wander next --json prints', async () => {
    const res = await fetch(`${server.url}/api/next`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'And the', top: 5, top_p: 0.9, seed: 1 }) });
    const got = await res.json() as ReturnType<typeof nextTokenDistribution>;
    const want = JSON.parse(JSON.stringify(nextTokenDistribution(model, 'And the', { top_p: 0.9, seed: 1 }, { top: 5 })));
    want.model.threads = got.model.threads;
    assert.deepEqual(got, want);
  });
});

describe('wander serve: every /api endpoint returns what its command\'s --json prints', () => {
  let server: Server;
  const model = loadModel(DEFAULT_MODEL);
  before(async () => { server = await serve(); });
  after(() => stop(server));
  const post = async (path: string, body: object) => {
    const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json() as Record<string, unknown> };
  };

  test('lens, score, attention, heads, patch, dla', async () => {
    const p = 'And the LORD spake unto Moses, saying';
    assert.deepEqual((await post('/api/lens', { prompt: p, target: ',', top: 2 })).body, same(logitLens(model, p, { target: ',', top: 2 })));
    assert.deepEqual((await post('/api/score', { text: p })).body, same(scoreTokens(model, p)));
    assert.deepEqual((await post('/api/attention', { prompt: p, layer: 1 })).body, same(attentionPatterns(model, p, { layer: 1 })));
    assert.deepEqual((await post('/api/heads', { prompt: p, mode: 'mean' })).body, same(headAblationScan(model, p, { mode: 'mean' })));
    assert.deepEqual((await post('/api/patch', { clean: 'And the king said unto', corrupted: 'And the king went unto' })).body,
      same(activationPatching(model, 'And the king said unto', 'And the king went unto')));
    assert.deepEqual((await post('/api/dla', { prompt: p })).body, same(directLogitAttribution(model, p)));
  });

  test('interventions as JSON settings; bad ones are 400 naming the field', async () => {
    const got = await post('/api/next', { prompt: 'And the', top: 3, seed: 1, ablate: ['0.*'] });
    assert.ok((got.body['intervention'] as { kl_nats: number }).kl_nats > 0);
    const bad = await post('/api/lens', { prompt: 'x', ablate: ['9.0'] });
    assert.deepEqual([bad.status, bad.body], [400, { error: { message: 'ablate 9.0: layer must be from 0 to 3 (this model has 4 layers)', type: 'invalid_request_error', param: 'ablate', code: null } }]);
  });

  test('/api/next takes token ids and returns the raw logits; /api/vocab; /api/cache', async () => {
    const ids = model.tokenizer.encode('And the');
    const got = (await post('/api/next', { prompt_ids: ids, top: 3, logits: true, seed: 1 })).body as unknown as NextTokenDistribution;
    const want = same(nextTokenDistribution(model, ids, { seed: 1 }, { top: 3, logits: true }));
    want.model.threads = got.model.threads;
    assert.deepEqual(got, want);
    const bytes = Buffer.from(got.logits!.data, 'base64');
    const logits = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    assert.equal(logits.length, model.config.vocabSize);
    // The page's softmax of the raw logits gives the reported probabilities.
    const max = Math.max(...logits), z = logits.reduce((a, x) => a + Math.exp(x - max), 0);
    for (const c of got.candidates) assert.ok(Math.abs(Math.exp(logits[c.token_id]! - max) / z - c.prob) < 1e-6);
    assert.deepEqual(got.logits!.eos_ids, model.tokenizer.eosIds);
    assert.equal((await post('/api/next', { prompt: 'x', logits: 'yes' })).body['error'] !== undefined, true);

    const vocab = await (await fetch(`${server.url}/api/vocab`)).json() as { vocab_size: number; tokens: string[]; eos_ids: number[] };
    assert.equal(vocab.tokens.length, model.config.vocabSize);
    assert.deepEqual(ids.map((id) => vocab.tokens[id]), ids.map((id) => model.tokenizer.tokenText(id)));

    const hooks = ['blocks.0.hook_resid_post', 'blocks.1.attn.hook_pattern'];
    assert.deepEqual((await post('/api/cache', { prompt: 'And the', hooks })).body, same(cacheToJson(captureActivations(model, 'And the', { hooks }))));
    const bad = await post('/api/cache', { prompt: 'x', hooks: 'all' });
    assert.deepEqual([bad.status, (bad.body['error'] as { param: string }).param], [400, 'hooks']);
  });

  test('tokenize and detokenize', async () => {
    const t = await post('/tokenize', { prompt: 'And God said' });
    assert.deepEqual(t.body, { tokens: model.tokenizer.encode('And God said'), count: 3, max_model_len: 128 });
    assert.deepEqual((await post('/detokenize', { tokens: t.body['tokens'] })).body, { prompt: 'And God said' });
    assert.equal((await post('/detokenize', { tokens: [99999] })).status, 400);
  });
});

describe('wander serve --kv f16 --context 40', () => {
  let server: Server;
  before(async () => { server = await serve('--model', M, '--kv', 'f16', '--context', '40'); });
  after(() => stop(server));

  test('completions are what generate gives with the same cache, stop at the context, and the fingerprint names the f16 cache', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.completions.create({ model: M, prompt: 'And God said', max_tokens: 40, temperature: 0.8, n: 2, seed: 7 });
    const local = generate(loadModel(DEFAULT_MODEL, { kv: 'f16', context: 40 }), 'And God said', { max_tokens: 40, temperature: 0.8, n: 2, seed: 7 });
    assert.deepEqual(r.choices.map((c) => c.text), local.samples.map((s) => s.text));
    // 3 prompt tokens fill the 40 positions after 37 more; the 38th token drawn needs no position.
    assert.deepEqual(r.usage, { prompt_tokens: 3, completion_tokens: 76, total_tokens: 79 });
    assert.deepEqual(r.choices.map((c) => c.finish_reason), ['length', 'length']);
    assert.match(r.system_fingerprint!, /^wander-\d+\.\d+\.\d+-wasm-simd-kvf16-[0-9a-f]{12}$/);
  });
});

describe('wander serve with an API key', () => {
  let server: Server;
  before(async () => { server = await serve('--api-key', 'sesame'); });
  after(() => stop(server));

  test('a missing or wrong key is 401; the right one works; /health needs none', async () => {
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'guess', maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    const right = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sesame', maxRetries: 0 });
    assert.equal((await right.models.list()).data[0]!.id, 'ladder:medium');
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  });
});

describe('wander serve --db: the experiments in a results database', () => {
  let server: Server;
  let db: string;
  before(async () => {
    db = join(tempDir(), 'results.sqlite');
    const store = ResultsStore.open(db);
    await runSweep(parseExperiment(`name: tiny
models: [{ model: ${JSON.stringify(fixture('gguf', SMALL.gpt2))}, label: gpt2 }]
prompts: [{ label: cat, text: "The cat" }]
presets: { t1: { temperature: 1 } }
samples: 4
seed: 3
max_tokens: 6
`), store);
    store.close();
    server = await serve('--db', db);
  });
  after(() => stop(server));

  test('/api/sweeps lists them; /api/sweeps/NAME/report is what wander report --json prints', async () => {
    const list = await (await fetch(`${server.url}/api/sweeps`)).json() as { experiments: { name: string; cells: number; finished_at: string | null }[] };
    assert.deepEqual(list.experiments.map((e) => [e.name, e.cells, e.finished_at !== null]), [['tiny', 1, true]]);
    const report = await (await fetch(`${server.url}/api/sweeps/tiny/report`)).json();
    const store = ResultsStore.open(db, { readonly: true });
    assert.deepEqual(report, same(jsonReport(collectReports(store, 'tiny'))));
    store.close();
    const missing = await fetch(`${server.url}/api/sweeps/nope/report`);
    assert.deepEqual([missing.status, await missing.json()], [404, { error: { message: 'no experiment "nope" in the results database (it has: tiny)', type: 'not_found_error', param: 'name', code: 'experiment_not_found' } }]);
  });
});

const same = (x: unknown) => JSON.parse(JSON.stringify(x));
