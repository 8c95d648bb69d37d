import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { serve, stop, type Server } from './process.js';

// Beam search and contrastive search through `wander serve` (a real process on loopback, the official
// openai client): a request gives exactly what `wander generate` gives with the same settings, while
// sampling requests keep decoding around it.

describe('wander serve: beam and contrastive search', () => {
  let server: Server;
  let client: OpenAI;
  const model = loadModel(DEFAULT_MODEL);
  before(async () => {
    server = await serve('--model', 'ladder:medium');
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => stop(server));

  test('num_beams returns the num_return_sequences best beams, as generate() does', async () => {
    const settings = { num_beams: 4, num_return_sequences: 3, max_tokens: 10, length_penalty: 0.5 };
    const r = await client.completions.create({ model: 'ladder:medium', prompt: 'And God said', ...settings } as never) as unknown as { choices: { index: number; text: string; token_ids: number[] }[] };
    const local = generate(model, 'And God said', settings);
    assert.equal(r.choices.length, 3);
    assert.deepEqual(r.choices.map((c) => c.text), local.samples.map((s) => s.text));
    assert.deepEqual(r.choices.map((c) => c.token_ids), local.samples.map((s) => s.token_ids));
    // The beams are distinct sequences, best first (a search, not three copies of one).
    assert.equal(new Set(r.choices.map((c) => c.text)).size, 3);
  });

  test('contrastive search streams its one sequence; a sampling request decoding beside it is unchanged', async () => {
    const settings = { penalty_alpha: 0.6, top_k: 4, max_tokens: 12 };
    const sampled = client.completions.create({ model: 'ladder:medium', prompt: 'In the beginning', max_tokens: 12, seed: 3, n: 2 });
    const stream = await client.completions.create({ model: 'ladder:medium', prompt: 'And God said', stream: true, ...settings } as never) as unknown as AsyncIterable<{ choices: { text: string }[] }>;
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    assert.equal(text, generate(model, 'And God said', settings).samples[0]!.text);
    const alone = generate(model, 'In the beginning', { max_tokens: 12, seed: 3, n: 2 });
    assert.deepEqual((await sampled).choices.map((c) => c.text), alone.samples.map((s) => s.text));
  });

  test('a search\'s mistakes are 400s naming the field', async () => {
    const bad = async (body: object, param: string, message: string) => {
      const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x', ...body }) });
      assert.deepEqual([res.status, await res.json()], [400, { error: { message, type: 'invalid_request_error', param, code: null } }]);
    };
    await bad({ num_beams: 4, n: 2 }, 'n', 'n must be 1 with beam search, which returns its best beams rather than samples: use num_return_sequences instead');
    await bad({ num_beams: 4, top_p: 0.9 }, 'top_p', 'top_p cannot be used with num_beams: beam search ranks beams by the model\'s log-probabilities and draws nothing (for sampled beams set do_sample)');
    await bad({ penalty_alpha: 0.6 }, 'penalty_alpha', 'penalty_alpha (contrastive search) chooses among the top_k most likely tokens: set top_k to 2 or more');
  });
});
