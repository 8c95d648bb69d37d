import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { DType } from '../../src/formats/tensor-types.js';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { fixture, type FixtureSpec } from '../fixtures/models.js';
import { serve, stop, type Server } from './process.js';

// The engine behind `wander serve`: a worker thread per model, continuous batching, a bounded queue,
// cancellation, all observed from outside through real HTTP clients.

/** Long enough a context that a prompt takes a while (about a second on one thread). */
const LONG: FixtureSpec = { arch: 'gpt2', nLayer: 4, nEmbd: 256, nHead: 4, nHeadKv: 4, nFf: 1024, ctx: 2048, seed: 12 };
const file = fixture('gguf', LONG, DType.F32);
const model = loadModel(file);
const longPrompt = Array.from({ length: 1900 }, (_, i) => 1 + ((i * 7919) % 250));

interface Health { queues: { id: string; running: number; waiting: number; batch: number; generated_tokens: number }[] }

const health = async (s: Server) => ((await (await fetch(`${s.url}/health`)).json()) as Health).queues[0]!;

/** Polls /health until `ok` holds (or fails after 30 s: the server stopped making progress). */
async function until(s: Server, ok: (q: Health['queues'][0]) => boolean, what: string): Promise<void> {
  for (const t0 = Date.now(); Date.now() - t0 < 30_000;) {
    if (ok(await health(s))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never saw ${what}: ${JSON.stringify(await health(s))}`);
}

describe('wander serve: continuous batching', () => {
  let server: Server;
  let client: OpenAI;
  before(async () => {
    server = await serve('--model', file, '--max-batch-size', '6');
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => stop(server));

  test('16 concurrent mixed requests return exactly what each returns alone', async () => {
    const requests: OpenAI.CompletionCreateParamsNonStreaming[] = Array.from({ length: 16 }, (_, r) => ({
      model: 'x', prompt: ['The cat', 'A dog sat', 'On the mat the', 'Once'][r % 4]!, max_tokens: 8 + (r % 5) * 3, seed: 100 + r,
      n: 1 + (r % 3), temperature: [0, 0.7, 1, 1.3][r % 4]!, logprobs: r % 2 ? 2 : undefined,
      ...[{}, { top_k: 20 }, { top_p: 0.8 }, { min_p: 0.1, repetition_penalty: 1.2 }][Math.floor(r / 4)],
    }));
    requests.forEach((q) => { q.model = file.split('/').pop()!; });
    const alone: OpenAI.Completion[] = [];
    for (const q of requests) alone.push(await client.completions.create(q));
    const together = await Promise.all(requests.map((q) => client.completions.create(q)));
    together.forEach((r, i) => {
      assert.deepEqual(r.choices.map((c) => [c.text, c.logprobs, c.finish_reason]), alone[i]!.choices.map((c) => [c.text, c.logprobs, c.finish_reason]), `request ${i}`);
    });
    // And what the library gives for the same settings.
    const q = requests[5]!;
    const local = generate(model, q.prompt as string, { max_tokens: q.max_tokens!, seed: q.seed!, n: q.n!, temperature: q.temperature!, top_k: 20 });
    assert.deepEqual(together[5]!.choices.map((c) => c.text), local.samples.map((s) => s.text));
  });

  test('/health answers while a long prompt is being processed', async () => {
    const slow = client.completions.create({ model: file.split('/').pop()!, prompt: longPrompt, max_tokens: 4, temperature: 0 });
    let done = false;
    void slow.then(() => { done = true; });
    await until(server, (q) => q.running === 1, 'the long request running');
    const answered = await health(server);
    assert.equal(done, false, 'the long prompt is still running after /health answered');
    assert.equal(answered.running, 1);
    assert.equal((await slow).usage!.prompt_tokens, 1900);
  });
});

describe('wander serve: a full queue, and clients that leave', () => {
  let server: Server;
  let client: OpenAI;
  const id = file.split('/').pop()!;
  before(async () => {
    server = await serve('--model', file, '--max-batch-size', '1', '--queue', '1');
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => stop(server));

  test('with the queue full the server answers 503 with Retry-After, and serves the others', async () => {
    const first = client.completions.create({ model: id, prompt: longPrompt, max_tokens: 40, temperature: 0 });
    await until(server, (q) => q.running === 1, 'the first request running');
    const second = client.completions.create({ model: id, prompt: 'The cat', max_tokens: 4, temperature: 0 });
    await until(server, (q) => q.waiting === 1, 'the second request waiting');
    const third = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x', max_tokens: 2 }) });
    assert.equal(third.status, 503);
    assert.equal(third.headers.get('retry-after'), '1');
    assert.deepEqual(await third.json(), {
      error: { message: `model ${id} is busy: 1 requests are waiting (the server's --queue); retry shortly`, type: 'server_busy', param: null, code: 'server_busy' },
    });
    await assert.rejects(client.completions.create({ model: id, prompt: 'x', max_tokens: 2 }), (e: unknown) => e instanceof OpenAI.InternalServerError && e.status === 503);
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.usage!.completion_tokens, 40);
    assert.equal(b.choices[0]!.text, generate(model, 'The cat', { max_tokens: 4, temperature: 0 }).samples[0]!.text);
  });

  test('an aborted stream leaves the batch at the next step; its slot serves the next request', async () => {
    const ac = new AbortController();
    const stream = await client.completions.create({ model: id, prompt: 'The cat', max_tokens: 1900, temperature: 1, seed: 1, stream: true }, { signal: ac.signal });
    let chunks = 0;
    for await (const _ of stream) {
      if (++chunks < 5) continue;
      ac.abort();
      break;
    }
    const before = (await health(server)).generated_tokens;
    await until(server, (q) => q.batch === 0, 'the slot freed');
    const next = await client.completions.create({ model: id, prompt: 'A dog', max_tokens: 3, temperature: 0 });
    assert.equal(next.choices[0]!.text, generate(model, 'A dog', { max_tokens: 3, temperature: 0 }).samples[0]!.text);
    // The 1900 tokens asked for were never generated: the stream left the batch within a few steps.
    const spent = (await health(server)).generated_tokens - before;
    assert.ok(spent < 200, `${spent} tokens were generated after the abort`);
  });

  test('a client that hangs up before its answer is taken out too', async () => {
    const ac = new AbortController();
    const gone = fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'The cat', max_tokens: 1900, temperature: 1 }), signal: ac.signal });
    await until(server, (q) => q.running === 1, 'the request running');
    ac.abort();
    await assert.rejects(gone, { name: 'AbortError' });
    const before = (await health(server)).generated_tokens;
    await until(server, (q) => q.batch === 0, 'the slot freed');
    const spent = (await health(server)).generated_tokens - before;
    assert.ok(spent < 200, `${spent} tokens were generated after the hang-up`);
  });
});

describe('wander serve: shutting down', () => {
  test('SIGTERM lets the request in flight finish, refuses new ones, and exits 0', async () => {
    const server = await serve('--model', file, '--max-batch-size', '2');
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const id = file.split('/').pop()!;
    const inFlight = client.completions.create({ model: id, prompt: longPrompt, max_tokens: 30, temperature: 0 });
    await until(server, (q) => q.running === 1, 'the request running');
    const exited = new Promise<number | null>((resolve) => server.proc.on('exit', resolve));
    server.proc.kill('SIGTERM');
    const r = await inFlight;
    assert.equal(r.usage!.completion_tokens, 30);
    assert.equal(await exited, 0);
    assert.match(server.stderr(), /wander serve: stopping\n/);
  });
});
