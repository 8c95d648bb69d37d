import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serve, stop, type Server } from './process.js';

// Requests written for llama.cpp's llama-server, sent unchanged to `wander serve` (a real process on
// loopback): its names for settings Wander has mean the same thing, and its special values are kept.

type Json = Record<string, unknown>;
interface Completion { choices: { text: string; logprobs: { tokens: string[]; token_logprobs: number[]; top_logprobs: Record<string, number>[] } | null }[] }

describe('wander serve: llama-server\'s names for Wander\'s settings', () => {
  let server: Server;
  before(async () => { server = await serve('--model', 'ladder:medium'); });
  after(() => stop(server));

  const post = async (path: string, body: Json): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${server.url}/v1/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'ladder:medium', ...body }) });
    return { status: res.status, json: await res.json() as Json };
  };
  const completion = async (body: Json) => {
    const r = await post('completions', { prompt: 'And God said', seed: 11, ...body });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json as unknown as Completion;
  };

  test('repeat_penalty, repeat_last_n, n_predict, min_keep and n_probs give what Wander\'s own names give', async () => {
    const llama = await completion({ repeat_penalty: 1.3, repeat_last_n: 16, n_predict: 10, min_keep: 3, top_p: 0.5, n_probs: 3, cache_prompt: true });
    const own = await completion({ repetition_penalty: 1.3, penalty_window: 16, max_tokens: 10, min_tokens_to_keep: 3, top_p: 0.5, logprobs: 3 });
    assert.deepEqual(llama.choices, own.choices);
    assert.equal(llama.choices[0]!.logprobs!.tokens.length, 10);
    assert.equal(Object.keys(llama.choices[0]!.logprobs!.top_logprobs[0]!).length, 3);
    // The penalty does change the text (so the comparison above can fail): without it the text differs.
    const plain = await completion({ max_tokens: 10, min_tokens_to_keep: 3, top_p: 0.5 });
    assert.notEqual(plain.choices[0]!.text, own.choices[0]!.text);
  });

  test('repeat_last_n −1 is the whole context (Wander\'s window 0); n_predict −1 runs until the context is full', async () => {
    const all = await completion({ repeat_penalty: 1.5, repeat_last_n: -1, max_tokens: 8, temperature: 0 });
    const own = await completion({ repetition_penalty: 1.5, penalty_window: 0, max_tokens: 8, temperature: 0 });
    assert.deepEqual(all.choices, own.choices);
    const long = await post('completions', { prompt: 'And God said', n_predict: -1, temperature: 0, logit_bias: { 0: -100 } });
    assert.equal(long.status, 200);
    assert.equal((long.json['choices'] as { finish_reason: string; wander_finish_reason: string }[])[0]!.wander_finish_reason, 'context_full');
  });

  test('samplers: llama-server\'s order list becomes the chain, Wander\'s processors first', async () => {
    const llama = await completion({ samplers: ['top_k', 'min_p', 'temperature'], top_k: 8, temperature: 1.7, min_p: 0.2, max_tokens: 12 });
    const own = await completion({ chain: ['top_k', 'min_p', 'temperature'], top_k: 8, temperature: 1.7, min_p: 0.2, max_tokens: 12 });
    const hf = await completion({ top_k: 8, temperature: 1.7, min_p: 0.2, max_tokens: 12 });
    assert.deepEqual(llama.choices, own.choices);
    // min_p before temperature 1.7 cuts the sharper distribution, hf's order cuts the flatter one: the order matters.
    assert.notDeepEqual(llama.choices, hf.choices);
  });

  test('mistakes name the field as the request spelled it (HTTP 400, OpenAI\'s error shape)', async () => {
    const cases: [Json, string, string][] = [
      [{ repeat_last_n: 0, repeat_penalty: 1.1 }, 'repeat_last_n', 'repeat_last_n 0 turns llama-server\'s penalties off, which Wander does not do by window: leave out repeat_penalty, frequency_penalty and presence_penalty instead'],
      [{ repeat_penalty: 1.1, repetition_penalty: 1.2 }, 'repeat_penalty', 'repeat_penalty and repetition_penalty name the same setting: send one of them'],
      [{ repeat_penalty: 0 }, 'repeat_penalty', 'repeat_penalty must be a number > 0 (1 = off), got 0'],
      [{ n_predict: 0 }, 'n_predict', 'n_predict must be an integer from 1 to 1000000, got 0'],
      [{ n_probs: 3, logprobs: 2 }, 'n_probs', 'n_probs and logprobs name the same setting: send one of them'],
      [{ n_probs: 99 }, 'n_probs', 'n_probs must be an integer from 0 to 20, got 99'],
      [{ samplers: ['top_k', 'tfs_z'] }, 'samplers', 'samplers: unknown sampler "tfs_z" (llama-server\'s names: penalties, dry, top_n_sigma, top_k, typ_p, typical_p, top_p, min_p, xtc, temperature)'],
      [{ cache_prompt: 'yes' }, 'cache_prompt', 'cache_prompt must be true or false, got "yes"'],
    ];
    for (const [body, param, message] of cases) {
      const r = await post('completions', { prompt: 'x', ...body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.deepEqual(r.json['error'], { message, type: 'invalid_request_error', param, code: null }, JSON.stringify(body));
    }
  });
});
