import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { LlamaCppModel } from '../../src/backends/llama-cpp.js';
import { collectReports } from '../../src/experiments/report/collect.js';
import { parseExperiment } from '../../src/experiments/spec.js';
import { ResultsStore } from '../../src/experiments/store.js';
import { runSweep } from '../../src/experiments/sweep.js';
import { chatPrompt } from '../../src/generate/chat.js';
import { generate } from '../../src/generate/generate.js';
import { nextTokenDistribution } from '../../src/generate/next.js';
import { loadModel } from '../../src/model/load.js';
import { cliError, needsInstalled, needsShared, sharedModel, tempDir, wander } from '../helpers.js';
import { llamaCppMissing } from '../parity/llama-cpp.js';
import { withChatTemplate } from '../fixtures/models.js';
import { CHAT_TEMPLATE, chatSweepBeside } from './chat-sweep.js';
import { serve, stop, type Server } from '../server/process.js';

// llama.cpp in-process: llama.cpp computes each next-token distribution, Wander's chain picks the
// token. On the same file, greedy and seeded sampling must be Wander's own engine's, token for token
// (log p is the logits less a constant, so the chain's choices are the same away from near-ties).

const STORIES = 'stories260K.gguf';
const missing = await llamaCppMissing();

describe('the llama.cpp backend', () => {
  let model: LlamaCppModel | undefined;
  const skip = needsShared(STORIES).skip || needsInstalled(missing).skip;
  before(async () => { if (!skip) model = await LlamaCppModel.open(`llama.cpp:${sharedModel(STORIES)}`); });
  after(async () => { await model?.close(); });

  test('greedy, and seeded sampling with n samples, are Wander\'s engine\'s, token for token', { skip }, async () => {
    const native = loadModel(sharedModel(STORIES)!);
    for (const settings of [{ temperature: 0, max_tokens: 32 }, { temperature: 1, top_p: 0.9, seed: 3, n: 4, max_tokens: 24 }, { temperature: 0.8, top_k: 20, min_p: 0.05, seed: 11, n: 3, max_tokens: 16, top_logprobs: 3 }]) {
      const a = await model!.generate('Once upon a time', settings);
      const b = generate(native, 'Once upon a time', settings);
      assert.deepEqual(a.samples.map((s) => s.token_ids), b.samples.map((s) => s.token_ids), JSON.stringify(settings));
      assert.deepEqual(a.samples.map((s) => s.text), b.samples.map((s) => s.text));
      a.samples.forEach((s, i) => s.logprobs?.forEach((t, k) => assert.ok(Math.abs(t.logprob - b.samples[i]!.logprobs![k]!.logprob) < 1e-4)));
      assert.deepEqual(a.prompt.token_ids, b.prompt.token_ids);
      assert.equal(a.backend?.kind, 'llama.cpp');
      assert.equal(a.backend?.capabilities.batch_invariant, false);
      assert.match(a.backend!.version!, /^llama\.cpp v?\d/);
    }
    // llama.cpp is not batch-invariant, but one sequence at a time and four together choose the same tokens here.
    const settings = { temperature: 1, seed: 5, n: 4, max_tokens: 20, top_logprobs: 1 };
    const [one, four] = [await model!.generate('Once upon a time', { ...settings, max_batch_size: 1 }), await model!.generate('Once upon a time', { ...settings, max_batch_size: 4 })];
    assert.deepEqual(four.samples.map((s) => s.token_ids), one.samples.map((s) => s.token_ids));
    four.samples.forEach((s, i) => s.logprobs!.forEach((t, k) => assert.ok(Math.abs(t.logprob - one.samples[i]!.logprobs![k]!.logprob) < 1e-4)));
  });

  test('next: the same distribution and the same chain as on Wander\'s engine, within 1e-4', { skip }, async () => {
    const native = loadModel(sharedModel(STORIES)!);
    const settings = { top_p: 0.8, temperature: 0.7, seed: 2 };
    const a = await model!.next('Once upon a time', settings, { top: 10, draws: 100 });
    const b = nextTokenDistribution(native, 'Once upon a time', settings, { top: 10, draws: 100 });
    assert.deepEqual(a.candidates.map((c) => [c.token_id, c.removed_by]), b.candidates.map((c) => [c.token_id, c.removed_by]));
    a.candidates.forEach((c, i) => {
      assert.ok(Math.abs(c.prob - b.candidates[i]!.prob) < 1e-4, `raw p of candidate ${i}`);
      assert.ok(Math.abs(c.final_prob - b.candidates[i]!.final_prob) < 1e-4, `final p of candidate ${i}`);
    });
    assert.deepEqual(a.draws, b.draws);
    assert.deepEqual(a.stages, b.stages);
  });

  test('the CLI: generate runs on it; commands that need hook points say so', { skip }, () => {
    const r = wander('generate', '--model', `llama.cpp:${sharedModel(STORIES)}`, '-p', 'Once upon a time', '--max-tokens', '8', '--temperature', '0', '--json', '--threads', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).samples[0].text, generate(loadModel(sharedModel(STORIES)!), 'Once upon a time', { max_tokens: 8, temperature: 0 }).samples[0]!.text);
    const lens = wander('lens', '--model', `llama.cpp:${sharedModel(STORIES)}`, '-p', 'x');
    assert.equal(lens.code, 2);
    assert.match(lens.stderr, /only generate and next run on it so far; this command needs Wander's own engine\n$/);
  });

  test('--kv f16 and --context reach llama.cpp: the same greedy text as Wander\'s engine with an f16 cache; the report says so', { skip }, () => {
    const args = ['-p', 'Once upon a time', '--max-tokens', '200', '--temperature', '0', '--json', '--threads', '1', '--kv', 'f16', '--context', '24'];
    const mine = JSON.parse(wander('generate', '--model', sharedModel(STORIES)!, ...args).stdout);
    const r = wander('generate', '--model', `llama.cpp:${sharedModel(STORIES)}`, ...args);
    assert.equal(r.code, 0, r.stderr);
    const theirs = JSON.parse(r.stdout);
    assert.deepEqual([theirs.model.kv_cache, theirs.model.context_length, theirs.samples[0].finish_reason], ['f16', 24, 'context_full']);
    assert.equal(theirs.samples[0].text, mine.samples[0].text);
    assert.equal(cliError(wander('next', '--model', `llama.cpp:${sharedModel(STORIES)}`, '-p', 'x', '--context', '100000')), '--context must be an integer from 1 to 2048 (stories260K.gguf\'s context length), got 100000');
  });
});

describe('a sweep on the llama.cpp backend', () => {
  const skip = needsShared(STORIES).skip || needsInstalled(missing).skip;
  test('beside Wander\'s engine on the same file: the same samples, the same metrics', { skip }, async () => {
    const file = sharedModel(STORIES)!;
    const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
    await runSweep(parseExperiment(`name: engines
models: [{ model: ${JSON.stringify(file)}, label: wander }, { model: ${JSON.stringify(`llama.cpp:${file}`)}, label: llama }]
prompts: [{ label: once, text: "Once upon a time" }]
presets: { greedy: { temperature: 0 }, t1: { temperature: 1, top_p: 0.9 } }
samples: 4
seed: 7
max_tokens: 16
`), store, { threads: 1 });
    const [report] = collectReports(store, 'engines');
    for (const preset of ['greedy', 't1']) {
      const [a, b] = ['wander', 'llama'].map((m) => report!.cells.find((c) => c.model === m && c.preset === preset)!);
      assert.deepEqual(b!.outputs, a!.outputs, preset);
      assert.deepEqual([a!.backend, b!.backend], ['wander', 'llama.cpp']);
      assert.ok(Math.abs(b!.metrics.mean_entropy_bits! - a!.metrics.mean_entropy_bits!) < 1e-4);
    }
    store.close();
  });
});

describe('chat on the llama.cpp backend', () => {
  const skip = needsShared(STORIES).skip || needsInstalled(missing).skip;

  test('the file\'s own chat template, applied as on Wander\'s engine: the same prompt tokens and the same reply; chat cells sweep', { skip }, async () => {
    const file = withChatTemplate(sharedModel(STORIES)!, CHAT_TEMPLATE);
    const model = await LlamaCppModel.open(`llama.cpp:${file}`);
    const native = loadModel(file);
    try {
      const messages = [{ role: 'user', content: 'Tell me a story' }];
      const a = await model.generate({ messages }, { temperature: 0, max_tokens: 16 });
      const b = generate(native, chatPrompt(native, messages), { temperature: 0, max_tokens: 16 });
      assert.ok(a.prompt.text.startsWith('<|user|>Tell me a story\n<|assistant|>'), a.prompt.text);
      assert.deepEqual(a.prompt.token_ids, b.prompt.token_ids);
      assert.deepEqual(a.samples[0]!.token_ids, b.samples[0]!.token_ids);

      const cells = await chatSweepBeside(file, `llama.cpp:${file}`);
      assert.equal(cells.other.resolved['chat_prompt'], cells.wander.resolved['chat_prompt']);
      assert.deepEqual(cells.other.token_ids, cells.wander.token_ids);
    } finally {
      await model.close();
      native.close();
    }
  });
});

describe('--chat on the command line', () => {
  const skip = needsShared(STORIES).skip || needsInstalled(missing).skip;

  test('generate and next --chat --system: the same rendered prompt, reply and distribution on Wander\'s engine and llama.cpp; the messages recorded', { skip }, () => {
    const file = withChatTemplate(sharedModel(STORIES)!, CHAT_TEMPLATE);
    const args = ['--chat', '--system', 'Be kind', '-p', 'Tell me a story', '--threads', '1', '--json'];
    const gen = (model: string) => {
      const r = wander('generate', '--model', model, ...args, '--max-tokens', '10', '--temperature', '0');
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { prompt: { text: string; token_ids: number[]; messages: unknown }; samples: { token_ids: number[] }[] };
    };
    const [native, llama] = [gen(file), gen(`llama.cpp:${file}`)];
    assert.equal(native.prompt.text, '<|system|>Be kind\n<|user|>Tell me a story\n<|assistant|>');
    assert.deepEqual(native.prompt.messages, [{ role: 'system', content: 'Be kind' }, { role: 'user', content: 'Tell me a story' }]);
    assert.deepEqual(llama.prompt, native.prompt);
    assert.deepEqual(llama.samples[0]!.token_ids, native.samples[0]!.token_ids);

    const next = (model: string) => {
      const r = wander('next', '--model', model, ...args, '--top', '5');
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { prompt: { token_ids: number[] }; candidates: { token_id: number; prob: number }[] };
    };
    const [a, b] = [next(file), next(`llama.cpp:${file}`)];
    assert.deepEqual(b.prompt.token_ids, a.prompt.token_ids);
    assert.deepEqual(b.candidates.map((c) => c.token_id), a.candidates.map((c) => c.token_id));
    b.candidates.forEach((c, i) => assert.ok(Math.abs(c.prob - a.candidates[i]!.prob) < 1e-4, `candidate ${i}`));
  });

  test('--system without --chat, and --chat on a model with no template: one line, exit 2', { skip: needsShared(STORIES).skip }, () => {
    assert.equal(cliError(wander('generate', '--model', sharedModel(STORIES)!, '--system', 'Be kind', '-p', 'x')), '--system needs --chat: a system message only goes through a chat template');
    assert.equal(cliError(wander('next', '--model', `llama.cpp:${sharedModel(STORIES)}`, '--chat', '-p', 'x')),
      `${sharedModel(STORIES)}: this model has no chat template (tokenizer.chat_template / chat_template); run the prompt without chat`);
  });
});

describe('wander serve with a llama.cpp model', () => {
  const skip = needsShared(STORIES).skip || needsInstalled(missing).skip;
  let server: Server | undefined;
  before(async () => { if (!skip) server = await serve('--model', `stories=llama.cpp:${sharedModel(STORIES)}`); });
  after(() => stop(server));
  const post = async (path: string, body: object) => {
    const res = await fetch(`${server!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };

  test('says it is not batch-invariant; completions are Wander\'s engine\'s on the same file; next runs, hook points are refused', { skip }, async () => {
    assert.match(server!.stderr(), /loaded stories \(.*stories260K\.gguf\) in \d+ ms — run by llama\.cpp .*, not batch-invariant/);
    const health = await (await fetch(`${server!.url}/health`)).json() as { queues: { backend: string; batch_invariant: boolean }[] };
    assert.deepEqual([health.queues[0]!.backend, health.queues[0]!.batch_invariant], ['llama.cpp', false]);

    const native = loadModel(sharedModel(STORIES)!);
    const client = new OpenAI({ baseURL: `${server!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const settings = { temperature: 0.9, top_p: 0.95, seed: 4, n: 3, max_tokens: 12 };
    const [got, greedy] = await Promise.all([
      client.completions.create({ model: 'stories', prompt: 'Once upon a time', temperature: 0.9, top_p: 0.95, seed: 4, n: 3, max_tokens: 12 }),
      client.completions.create({ model: 'stories', prompt: 'Once upon a time', temperature: 0, max_tokens: 12 }),
    ]);
    assert.deepEqual(got.choices.map((c) => c.text), generate(native, 'Once upon a time', settings).samples.map((x) => x.text));
    assert.equal(greedy.choices[0]!.text, generate(native, 'Once upon a time', { temperature: 0, max_tokens: 12 }).samples[0]!.text);
    assert.match(got.system_fingerprint!, /-llama\.cpp-/);

    const next = await post('/api/next', { prompt: 'Once upon a time', top: 5 });
    assert.equal(next.status, 200);
    const local = nextTokenDistribution(native, 'Once upon a time', {}, { top: 5 });
    assert.deepEqual((next.body['candidates'] as { token_id: number }[]).map((c) => c.token_id), local.candidates.map((c) => c.token_id));
    const lens = await post('/api/lens', { prompt: 'x' });
    assert.equal(lens.status, 400);
    assert.match((lens.body['error'] as { message: string }).message, /^wander lens needs hook points \(internals and interventions\), which the llama\.cpp backend \(.*\) does not give/);
    native.close();
  });

  test('a client that aborts its stream stops its samples at the next step', { skip }, async () => {
    const health = async () => (await (await fetch(`${server!.url}/health`)).json() as { queues: { batch: number; generated_tokens: number }[] }).queues[0]!;
    const before = (await health()).generated_tokens;
    const controller = new AbortController();
    const res = await fetch(`${server!.url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify({ model: 'stories', prompt: 'Once', n: 8, max_tokens: 400, min_tokens: 400, temperature: 1, seed: 1, stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    for (let i = 0; i < 200 && (await health()).batch > 0; i++) await new Promise((r) => setTimeout(r, 25));
    const after = await health();
    assert.equal(after.batch, 0);
    assert.ok(after.generated_tokens - before < 8 * 400, `${after.generated_tokens - before} of 3200 tokens generated after the abort`);
  });
});
