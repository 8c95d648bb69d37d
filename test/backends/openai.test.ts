import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { OpenAIBackend, parseOpenAISpec, sampleSeed } from '../../src/backends/openai.js';
import { collectReports } from '../../src/experiments/report/collect.js';
import { markdownReport } from '../../src/experiments/report/tables.js';
import { parseExperiment } from '../../src/experiments/spec.js';
import { ResultsStore } from '../../src/experiments/store.js';
import { runSweep } from '../../src/experiments/sweep.js';
import { chatPrompt } from '../../src/generate/chat.js';
import { generate } from '../../src/generate/generate.js';
import { nextTokenDistribution } from '../../src/generate/next.js';
import { loadModel } from '../../src/model/load.js';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { cliError, needsShared, sharedModel, tempDir, wander, wanderAsync } from '../helpers.js';
import { freePort, LLAMA_SERVER, llamaServe, serve, stop, type Server } from '../server/process.js';
import { existsSync } from 'node:fs';
import { withChatTemplate } from '../fixtures/models.js';
import { CHAT_TEMPLATE, chatSweepBeside } from './chat-sweep.js';

// The OpenAI-compatible backend against real servers on loopback: `wander serve` and llama.cpp's
// llama-server. The server samples; greedy output must be the native engine's.

describe('the openai backend against wander serve', () => {
  let server: Server;
  const model = loadModel(DEFAULT_MODEL);
  before(async () => { server = await serve(); });
  after(() => stop(server));

  test('greedy text, token ids and logprobs are the native engine\'s', async () => {
    const backend = await OpenAIBackend.connect(`openai:${server.url}/v1`);
    assert.equal(backend.model, 'ladder:medium');
    const run = await backend.generate('And God said', { temperature: 0, max_tokens: 10, top_logprobs: 3 });
    const local = generate(model, 'And God said', { temperature: 0, max_tokens: 10, top_logprobs: 3 });
    assert.equal(run.samples[0]!.text, local.samples[0]!.text);
    assert.deepEqual(run.samples[0]!.token_ids, local.samples[0]!.token_ids);
    assert.deepEqual(run.samples[0]!.logprobs!.map((t) => t.logprob), local.samples[0]!.logprobs!.map((t) => t.logprob));
    assert.deepEqual(run.usage, local.usage);
    assert.equal(run.backend?.kind, 'openai');
    assert.equal(run.backend?.capabilities.full_logits, false);
  });

  test('sample i is the server\'s sample for seed sampleSeed(seed, i): reproducible, and independent of n', async () => {
    const backend = await OpenAIBackend.connect(`openai:${server.url}/v1#ladder:medium`, { concurrency: 3 });
    const three = await backend.generate('And God said', { seed: 5, max_tokens: 8, n: 3 });
    const again = await backend.generate('And God said', { seed: 5, max_tokens: 8, n: 2 });
    assert.deepEqual(again.samples.map((s) => s.text), three.samples.slice(0, 2).map((s) => s.text));
    // What the server gives for that seed alone is what wander generate gives locally with it.
    assert.equal(three.samples[2]!.text, generate(model, 'And God said', { seed: sampleSeed(5, 2), max_tokens: 8 }).samples[0]!.text);
    assert.ok(new Set(three.samples.map((s) => s.text)).size > 1);
  });

  test('next: the server\'s top alternatives are the native distribution\'s, and the tail is what they leave', async () => {
    const r = wander('next', '--model', `openai:${server.url}/v1`, '-p', 'And God said', '--top', '5', '--json');
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as { candidates: { token_id: number | null; prob: number }[]; tail_mass: number; listed: number };
    const local = nextTokenDistribution(model, 'And God said', {}, { top: 5 });
    assert.equal(d.listed, 5);
    d.candidates.forEach((c, i) => assert.ok(Math.abs(c.prob - local.candidates[i]!.prob) < 1e-6, `candidate ${i}`));
    assert.ok(Math.abs(d.tail_mass - (1 - local.candidates[4]!.cumulative_prob)) < 1e-6);
    assert.equal(cliError(wander('next', '--model', `openai:${server.url}/v1`, '-p', 'x', '--top-p', '0.5')),
      `wander next needs the full next-token distribution (top_p on the full distribution), which the openai backend (${server.url}/v1#ladder:medium) does not give; use a model Wander runs itself`);
  });

  test('the CLI: generate runs on it; commands that need the distribution, and bad specs, are one line', async () => {
    const closed = await freePort();
    const r = wander('generate', '--model', `openai:${server.url}/v1`, '-p', 'And God said', '--max-tokens', '6', '--temperature', '0', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).samples[0].text, generate(model, 'And God said', { temperature: 0, max_tokens: 6 }).samples[0]!.text);
    const trace = wander('generate', '--model', `openai:${server.url}/v1`, '-p', 'x', '--trace');
    assert.equal(cliError(trace), `wander generate needs Wander's own sampling chain (--trace), which the openai backend (${server.url}/v1#ladder:medium) does not give; use a model Wander runs itself`);
    const next = wander('next', '--model', `openai:${server.url}/v1`, '-p', 'x', '--top', '3');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /^ {6}\(all others\) {2}0\.\d{4} {2}\(the tokens the server does not list, together\)$/m);
    assert.match(cliError(wander('lens', '--model', `openai:${server.url}/v1`, '-p', 'x')), /only generate, next \(its top logprobs\) and sweep run on it; this command needs the full next-token distribution$/);
    assert.equal(cliError(wander('generate', '--model', `openai:${server.url}/v1#gpt-4`, '-p', 'x')), `--model openai:${server.url}/v1#gpt-4: the server does not serve gpt-4 (it serves: ladder:medium)`);
    assert.equal(cliError(wander('generate', '--model', 'openai:ftp://x/v1', '-p', 'x')), "--model openai:ftp://x/v1: the server's URL must be http:// or https://");
    assert.equal(cliError(wander('generate', '--model', `openai:http://127.0.0.1:${closed}/v1`, '-p', 'x')), `--model openai:http://127.0.0.1:${closed}/v1: cannot reach the server: ECONNREFUSED`);
    assert.equal(cliError(wander('generate', '--model', `openai:${server.url}/v1`, '-p', 'x', '--typical-p', '0.5', '--epsilon', '0.01')),
      'epsilon_cutoff cannot be sent to an OpenAI-compatible server: its own sampler runs there (sent: temperature, top_k, top_p, min_p, typical_p, repetition_penalty, frequency_penalty, presence_penalty, stop, max_tokens, seed, logit_bias, min_new_tokens, top_logprobs, n; forwarded when set: top_n_sigma, dry_multiplier, dry_base, dry_allowed_length, dry_penalty_last_n, dry_sequence_breakers, xtc_probability, xtc_threshold, mirostat, mirostat_tau, mirostat_eta, dynatemp_range, dynatemp_exponent, smoothing_factor, smoothing_curve, top_h)');
  });
});

describe('the openai backend against llama.cpp\'s llama-server', () => {
  const file = sharedModel('stories260K.gguf');
  const skip = needsShared('stories260K.gguf').skip || (existsSync(LLAMA_SERVER) ? false : `${LLAMA_SERVER} not found (the shared llama.cpp tools are absent)`);
  let server: Server | undefined;
  before(async () => { if (!skip) server = await llamaServe(file!); });
  after(() => stop(server));

  test('greedy text equals the native engine; logprobs come back with token ids', { skip }, async () => {
    const backend = await OpenAIBackend.connect(`openai:${server!.url}/v1`);
    const run = await backend.generate('Once upon a time', { temperature: 0, max_tokens: 16, top_logprobs: 3 });
    const local = generate(loadModel(file!), 'Once upon a time', { temperature: 0, max_tokens: 16, top_logprobs: 3 });
    assert.equal(run.samples[0]!.text, local.samples[0]!.text);
    assert.deepEqual(run.samples[0]!.token_ids, local.samples[0]!.token_ids);
    run.samples[0]!.logprobs!.forEach((t, i) => assert.ok(Math.abs(t.logprob - local.samples[0]!.logprobs![i]!.logprob) < 1e-4, `token ${i}`));
    assert.equal(run.samples[0]!.finish_reason, 'max_tokens');
  });
});

describe('the openai backend when the server misbehaves', () => {
  let busy: HttpServer, slow: HttpServer, fine: HttpServer, careless: HttpServer;
  let busyUrl = '', slowUrl = '', fineUrl = '', carelessUrl = '';
  let busyPosts = 0;
  const listen = (s: HttpServer) => new Promise<string>((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as { port: number }).port}/v1`)));
  const models = (res: import('node:http').ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 'm' }] }));
  before(async () => {
    busy = createServer((req, res) => { if (req.url === '/v1/models') return models(res); busyPosts++; res.writeHead(503).end(); });
    slow = createServer((req, res) => { if (req.url === '/v1/models') return models(res); /* never answers */ });
    fine = createServer((req, res) => {
      if (req.url === '/v1/models') return models(res);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ index: 0, text: 'ok', logprobs: null, finish_reason: 'length' }] }));
    });
    // Answers every request with " the" chosen where " a" was more likely: at temperature 0, proof that it ignored it.
    careless = createServer((req, res) => {
      if (req.url === '/v1/models') return models(res);
      const alt = (id: number, token: string, logprob: number) => ({ id, token, logprob, bytes: [...Buffer.from(token)] });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ index: 0, text: ' the', finish_reason: 'length',
        logprobs: { content: [{ ...alt(7, ' the', -1.5), top_logprobs: [alt(3, ' a', -0.4), alt(7, ' the', -1.5)] }] } }] }));
    });
    [busyUrl, slowUrl, fineUrl, carelessUrl] = await Promise.all([listen(busy), listen(slow), listen(fine), listen(careless)]);
  });
  after(() => { busy.close(); fine.close(); careless.close(); slow.closeAllConnections(); slow.close(); });

  test('a setting the server\'s answers prove it ignored is reported, with the evidence, in the run and the CLI\'s report', async () => {
    const backend = await OpenAIBackend.connect(`openai:${carelessUrl}`);
    const run = await backend.generate('x', { temperature: 0, max_tokens: 1, n: 2, top_logprobs: 2 });
    const evidence = 'temperature 0: chose " the" (logprob -1.5) at token 0, where " a" was listed at -0.4';
    assert.deepEqual(run.samples[0]!.ignored, [{ setting: 'temperature', evidence }]);
    assert.deepEqual(run.ignored, [{ setting: 'temperature', samples: 2, evidence: `sample 0: ${evidence}` }]);
    const r = await wanderAsync('generate', '--model', `openai:${carelessUrl}`, '-p', 'x', '--temperature', '0', '--max-tokens', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^ignored   the server ignored temperature in 1 of 1 sample \\(${evidence.replace(/[()]/g, '\\$&')}\\)$`, 'm'));
  });

  test('503s are retried with backoff, then the sample is an error naming why', async () => {
    const backend = await OpenAIBackend.connect(`openai:${busyUrl}`, { retries: 2 });
    const run = await backend.generate('x', { max_tokens: 2 });
    assert.equal(busyPosts, 3);
    assert.deepEqual([run.samples[0]!.finish_reason, run.samples[0]!.error], ['error', 'the server did not answer: HTTP 503']);
  });

  test('with several endpoints, a retry goes to another one: a busy server costs no samples', async () => {
    busyPosts = 0;
    const backend = await OpenAIBackend.connect(`openai:${busyUrl}`, { retries: 1, concurrency: 2, endpoints: [fineUrl] });
    const run = await backend.generate('x', { max_tokens: 2, n: 8 });
    assert.ok(busyPosts > 0, 'the busy server was tried');
    assert.deepEqual(run.samples.map((s) => s.text), Array(8).fill('ok'));
    assert.deepEqual(run.backend!.endpoints, [`${busyUrl}#m`, `${fineUrl}#m`]);
  });

  test('a request past the time limit is an error, not a hang', async () => {
    const backend = await OpenAIBackend.connect(`openai:${slowUrl}`, { retries: 0, timeoutMs: 300 });
    const run = await backend.generate('x', { max_tokens: 2 });
    assert.deepEqual([run.samples[0]!.finish_reason, run.samples[0]!.error], ['error', 'the server did not answer: timed out']);
  });

  test('specs', () => {
    assert.deepEqual(parseOpenAISpec('openai:http://h:8000/v1/#m'), { baseURL: 'http://h:8000/v1', model: 'm' });
    assert.deepEqual(parseOpenAISpec('openai:https://h/v1'), { baseURL: 'https://h/v1' });
    assert.throws(() => parseOpenAISpec('openai:nope'), { message: '--model openai:nope: not a URL after openai: (expected openai:http://HOST:PORT/v1[#MODEL-ID])' });
  });
});

describe('a sweep over an OpenAI-compatible server', () => {
  const experiment = (name: string, models: string, samples: number, presets: string) => parseExperiment(`name: ${name}
models: ${models}
prompts: [{ label: god, text: "And God said" }, { label: king, text: "And the king" }]
presets: ${presets}
samples: ${samples}
seed: 3
max_tokens: 12
`);

  test('greedy cells store what the native engine stores; sample i is the server\'s for sampleSeed(seed, i)', async () => {
    const server = await serve();
    try {
      const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
      const spec = experiment('mixed', `[{ model: "ladder:medium", label: native }, { model: "openai:${server.url}/v1", label: served }]`, 4, '{ greedy: { temperature: 0 }, t1: { temperature: 1 } }');
      const r = await runSweep(spec, store, { concurrency: 3 });
      assert.equal(r.errors, 0);
      const [report] = collectReports(store, 'mixed');
      const cell = (model: string, prompt: string, preset: string) => report!.cells.find((c) => c.model === model && c.prompt_label === prompt && c.preset === preset)!;
      for (const prompt of ['god', 'king']) {
        const [a, b] = [cell('native', prompt, 'greedy'), cell('served', prompt, 'greedy')];
        assert.deepEqual([b.metrics.distinct, b.metrics.distinct_2, b.metrics.self_bleu4, b.metrics.first_divergence], [a.metrics.distinct, a.metrics.distinct_2, a.metrics.self_bleu4, a.metrics.first_divergence]);
        // The server gives no distribution and no size: its entropy and parameters are unknown, not zero.
        assert.equal(b.metrics.mean_entropy_bits, null);
        assert.deepEqual([a.backend, b.backend, b.parameters], ['wander', 'openai', null]);
      }
      // The report shows the server's entropies as n/a, with the reason, never as numbers beside exact ones.
      const md = markdownReport(report!);
      assert.match(md, /^\| served \| god \| greedy \|(?: [^|]+ \|){5} n\/a \| n\/a \|/m);
      assert.match(md, /^\| native \| god \| greedy \|(?: [^|]+ \|){5} \d+\.\d+ \| \d/m);
      assert.ok(md.includes('\nn/a: an OpenAI-compatible server lists only its top N alternatives per token'));
      const served = store.samples(store.cells('mixed').find((c) => c.model_label === 'served' && c.prompt_label === 'god' && c.preset === 't1')!);
      const model = loadModel(DEFAULT_MODEL);
      assert.deepEqual(served.map((s) => s.text), [0, 1, 2, 3].map((i) => generate(model, 'And God said', { temperature: 1, seed: sampleSeed(3, i), max_tokens: 12 }).samples[0]!.text));
      store.close();
    } finally {
      await stop(server);
    }
  });

  test('a server that goes away mid-sweep leaves errors; once it is back, a resume completes the sweep with nothing lost or doubled', async () => {
    const port = await freePort();
    let server = await serve('--port', String(port));
    const db = join(tempDir(), 'r.sqlite');
    const store = ResultsStore.open(db);
    const spec = experiment('resume', `[{ model: "openai:http://127.0.0.1:${port}/v1", label: served }]`, 40, '{ t1: { temperature: 1 } }');
    const stored = () => { const s = ResultsStore.open(db, { readonly: true }); const n = s.cells('resume').reduce((k, c) => k + s.samples(c).filter((x) => x.finish_reason !== 'error').length, 0); s.close(); return n; };
    const sweep = runSweep(spec, store, { concurrency: 2, retries: 0 });
    while (stored() < 6) await new Promise((r) => setTimeout(r, 20));
    await stop(server);
    const first = await sweep;
    assert.ok(first.errors > 0, 'samples after the server left are stored as errors');
    server = await serve('--port', String(port));
    try {
      const second = await runSweep(spec, store, { concurrency: 2, retries: 0 });
      assert.equal(second.errors, 0);
      assert.equal(second.generated, first.errors, 'exactly the failed samples were generated again');
      const cells = store.cells('resume');
      assert.ok(cells.every((c) => store.missing(c).size === 0));
      assert.deepEqual(cells.map((c) => store.samples(c).length), [40, 40]);
    } finally {
      store.close();
      await stop(server);
    }
  });
});

describe('chat prompts and several endpoints', () => {
  const STORIES = 'stories260K.gguf';
  const skip = needsShared(STORIES).skip;

  test('a chat prompt goes to the server\'s chat endpoint, its template applied there: the native engine\'s reply, in a sweep too', { skip }, async () => {
    const file = withChatTemplate(sharedModel(STORIES)!, CHAT_TEMPLATE);
    const server = await serve('--model', file);
    const native = loadModel(file);
    try {
      const backend = await OpenAIBackend.connect(`openai:${server.url}/v1`);
      const messages = [{ role: 'user', content: 'Tell me a story' }];
      const run = await backend.generate({ messages }, { temperature: 0, max_tokens: 12, top_logprobs: 2 });
      const local = generate(native, chatPrompt(native, messages), { temperature: 0, max_tokens: 12, top_logprobs: 2 });
      assert.deepEqual(run.samples[0]!.token_ids, local.samples[0]!.token_ids);
      assert.equal(run.samples[0]!.text, local.samples[0]!.text);
      run.samples[0]!.logprobs!.forEach((t, i) => assert.ok(Math.abs(t.logprob - local.samples[0]!.logprobs![i]!.logprob) < 1e-4, `token ${i}`));
      assert.deepEqual(run.prompt.messages, messages);

      const cells = await chatSweepBeside(file, `openai:${server.url}/v1`);
      assert.deepEqual(cells.other.token_ids, cells.wander.token_ids);
      assert.deepEqual([cells.other.resolved['chat_endpoint'], cells.other.resolved['chat_messages']], ['chat/completions', messages]);
    } finally {
      native.close();
      await stop(server);
    }
  });

  test('the CLI\'s --chat on a server: generate and next ask its chat endpoint, the reply and first-token distribution the native engine\'s', { skip }, async () => {
    const file = withChatTemplate(sharedModel(STORIES)!, CHAT_TEMPLATE);
    const server = await serve('--model', file);
    try {
      const args = ['--chat', '--system', 'Be kind', '-p', 'Tell me a story', '--json'];
      const run = async (model: string, ...more: string[]) => {
        const r = await wanderAsync(...more, '--model', model, ...args);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout);
      };
      const [remote, local] = await Promise.all([run(`openai:${server.url}/v1`, 'generate', '--max-tokens', '10', '--temperature', '0'), run(file, 'generate', '--max-tokens', '10', '--temperature', '0')]);
      assert.deepEqual(remote.samples[0].token_ids, local.samples[0].token_ids);
      assert.deepEqual(remote.prompt.messages, local.prompt.messages);
      const [a, b] = await Promise.all([run(`openai:${server.url}/v1`, 'next', '--top', '5'), run(file, 'next', '--top', '5')]);
      assert.deepEqual(a.prompt.messages, [{ role: 'system', content: 'Be kind' }, { role: 'user', content: 'Tell me a story' }]);
      // OpenAI's chat shape names alternatives by text only (no ids).
      assert.deepEqual(a.candidates.map((c: { token: string }) => c.token), b.candidates.map((c: { token: string }) => c.token));
      a.candidates.forEach((c: { prob: number }, i: number) => assert.ok(Math.abs(c.prob - b.candidates[i].prob) < 1e-4, `candidate ${i}`));
    } finally {
      await stop(server);
    }
  });

  test('one sweep over llama-server and wander serve at --concurrency 4: both do work, greedy cells are the native engine\'s', { skip: skip || (existsSync(LLAMA_SERVER) ? false : `${LLAMA_SERVER} not found (the shared llama.cpp tools are absent)`) }, async () => {
    const file = sharedModel(STORIES)!;
    const [llama, wanderServer] = await Promise.all([llamaServe(file), serve('--model', file)]);
    try {
      const served = await OpenAIBackend.connect(`openai:${llama.url}/v1`);
      const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
      const spec = parseExperiment(`name: pool
models: [{ model: ${JSON.stringify(file)}, label: native }, { model: "openai:${llama.url}/v1", label: pool, endpoints: ["${wanderServer.url}/v1#${STORIES}"] }]
prompts: [{ label: once, text: "Once upon a time" }, { label: dog, text: "The dog" }, { label: sun, text: "One day the sun" }]
presets: { greedy: { temperature: 0 } }
samples: 8
seeds: [1, 2]
max_tokens: 10
`);
      const r = await runSweep(spec, store, { threads: 1, concurrency: 4 });
      assert.equal(r.errors, 0);
      const [report] = collectReports(store, 'pool');
      for (const prompt of ['once', 'dog', 'sun']) {
        const [a, b] = ['native', 'pool'].map((m) => report!.cells.find((c) => c.model === m && c.prompt_label === prompt)!);
        assert.deepEqual(b!.outputs, a!.outputs, prompt);
        assert.deepEqual([b!.metrics.distinct, b!.metrics.self_bleu4], [a!.metrics.distinct, a!.metrics.self_bleu4]);
        assert.ok(Math.abs(b!.metrics.mean_logprob! - a!.metrics.mean_logprob!) < 1e-4, `${prompt}: mean logprob ${b!.metrics.mean_logprob} vs ${a!.metrics.mean_logprob}`);
      }
      // Both servers generated some of the 48 samples (10 tokens each).
      const health = await (await fetch(`${wanderServer.url}/health`)).json() as { queues: { generated_tokens: number }[] };
      const byWander = health.queues[0]!.generated_tokens;
      assert.ok(byWander > 0 && byWander < 480, `wander serve generated ${byWander} of 480 tokens`);
      const cell = store.cells('pool').find((c) => c.model_label === 'pool')!;
      assert.deepEqual((cell.resolved!['backend'] as { endpoints: string[] }).endpoints, [`${llama.url}/v1#${served.model}`, `${wanderServer.url}/v1#${STORIES}`]);
      store.close();
    } finally {
      await Promise.all([stop(llama), stop(wanderServer)]);
    }
  });

  test('endpoints that do not serve the model, or are listed twice, are one line before any work', { skip }, async () => {
    const server = await serve('--model', sharedModel(STORIES)!);
    try {
      await assert.rejects(OpenAIBackend.connect(`openai:${server.url}/v1`, { endpoints: [`${server.url}/v1`] }), { message: `--endpoint ${server.url}/v1: ${server.url}/v1 is listed twice` });
      await assert.rejects(OpenAIBackend.connect(`openai:${server.url}/v1#${STORIES}`, { endpoints: [`${server.url}/v1#other`] }), { message: `--endpoint ${server.url}/v1#other: the server does not serve other (it serves: ${STORIES})` });
      const port = await freePort();
      await assert.rejects(OpenAIBackend.connect(`openai:${server.url}/v1`, { endpoints: [`http://127.0.0.1:${port}/v1`] }), { message: `--endpoint http://127.0.0.1:${port}/v1: cannot reach the server: ECONNREFUSED` });
      const twoServed = parseExperiment(`name: two\nmodels: ["openai:${server.url}/v1", "openai:${server.url}/v1#${STORIES}"]\nprompts: [a]\npresets: { p: { temperature: 0 } }\n`);
      const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
      await assert.rejects(runSweep(twoServed, store, { endpoints: [`${server.url}/v1`] }), { message: '--endpoint: the experiment has 2 openai: models; --endpoint adds servers to exactly one (list each model\'s own under endpoints: in its models entry)' });
      store.close();
    } finally {
      await stop(server);
    }
  });
});
