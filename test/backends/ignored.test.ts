import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ignoredSettings, seedIgnored, type SentSettings } from '../../src/backends/ignored.js';
import { normaliseChoice, type NormalisedAlternative, type NormalisedChoice, type NormalisedToken } from '../../src/backends/openai-shapes.js';
import { DEFAULTS } from '../../src/generate/settings.js';

// Evidence that a server ignored a setting it was sent, from one answer. Every check is tested both ways: an answer
// that breaks the setting is reported with its exact evidence, and answers that honour it (ties, short lists,
// post-sampling lists, settings that legitimately change the order) are not.

// Captured answers from llama-server (build 4748, stories260K.gguf) and `wander serve`, copied from
// test/backends/openai-shapes.test.ts, where their requests are given.

/** {"prompt":"Once upon a time","max_tokens":4,"temperature":0,"logprobs":3}: greedy, the chosen token first each time. */
const LLAMA_COMPLETIONS = String.raw`{"choices":[{"text":", there was a","index":0,"logprobs":{"content":[{"id":432,"token":",","bytes":[44],"logprob":-0.031752943992614746,"top_logprobs":[{"id":432,"token":",","bytes":[44],"logprob":-0.031752943992614746},{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-3.5481619834899902},{"id":322,"token":" in","bytes":[32,105,110],"logprob":-8.120872497558594}]},{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-0.06841610372066498,"top_logprobs":[{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-0.06841610372066498},{"id":322,"token":" in","bytes":[32,105,110],"logprob":-2.979271411895752},{"id":261,"token":" a","bytes":[32,97],"logprob":-4.534703731536865}]},{"id":286,"token":" was","bytes":[32,119,97,115],"logprob":-0.015980716794729233,"top_logprobs":[{"id":286,"token":" was","bytes":[32,119,97,115],"logprob":-0.015980716794729233},{"id":382,"token":" we","bytes":[32,119,101],"logprob":-4.845122337341309},{"id":397,"token":" li","bytes":[32,108,105],"logprob":-5.115883827209473}]},{"id":261,"token":" a","bytes":[32,97],"logprob":-0.0007837504963390529,"top_logprobs":[{"id":261,"token":" a","bytes":[32,97],"logprob":-0.0007837504963390529},{"id":399,"token":" very","bytes":[32,118,101,114,121],"logprob":-9.201282501220703},{"id":262,"token":" s","bytes":[32,115],"logprob":-9.483187675476074}]}]},"finish_reason":"length"}],"created":1795696539,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":4,"prompt_tokens":5,"total_tokens":9},"id":"chatcmpl-FSVN7RmvraAxPJrLL8bwttRpVMBJnb0p"}`;

/** {"prompt":"😀 é","max_tokens":6,"temperature":1.5,"seed":3,"logprobs":2}: tokens 1, 3 and 4 are not the most likely. */
const LLAMA_SAMPLED = String.raw`{"choices":[{"text":" screw. ","index":0,"logprobs":{"content":[{"id":262,"token":" s","bytes":[32,115],"logprob":-1.8624228239059448,"top_logprobs":[{"id":262,"token":" s","bytes":[32,115],"logprob":-1.8624228239059448},{"id":278,"token":" l","bytes":[32,108],"logprob":-2.647589683532715}]},{"id":429,"token":"c","bytes":[99],"logprob":-3.6155483722686768,"top_logprobs":[{"id":411,"token":"e","bytes":[101],"logprob":-1.560945749282837},{"id":415,"token":"h","bytes":[104],"logprob":-2.2481768131256104}]},{"id":276,"token":"re","bytes":[114,101],"logprob":-0.6679743528366089,"top_logprobs":[{"id":276,"token":"re","bytes":[114,101],"logprob":-0.6679743528366089},{"id":295,"token":"ar","bytes":[97,114],"logprob":-1.140832781791687}]},{"id":424,"token":"w","bytes":[119],"logprob":-1.6299817562103271,"top_logprobs":[{"id":302,"token":"en","bytes":[101,110],"logprob":-0.48310068249702454},{"id":424,"token":"w","bytes":[119],"logprob":-1.6299817562103271}]},{"id":426,"token":".","bytes":[46],"logprob":-2.6881484985351563,"top_logprobs":[{"id":419,"token":"s","bytes":[115],"logprob":-1.4885436296463013},{"id":421,"token":"l","bytes":[108],"logprob":-2.0111496448516846}]},{"id":410,"token":" ","bytes":[32],"logprob":-0.9641204476356506,"top_logprobs":[{"id":410,"token":" ","bytes":[32],"logprob":-0.9641204476356506},{"id":346,"token":" He","bytes":[32,72,101],"logprob":-1.461259365081787}]}]},"finish_reason":"length"}],"created":1795696542,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":6,"prompt_tokens":8,"total_tokens":14},"id":"chatcmpl-sHZgydzaLcQW6Ap2AL2kcinTZXjVMMDu"}`;

/** {"prompt":"Once upon a time","max_tokens":2,"temperature":0.8,"top_k":3,"seed":1,"logprobs":3,"post_sampling_probs":true} */
const LLAMA_POST_SAMPLING = String.raw`{"choices":[{"text":", in","index":0,"logprobs":{"content":[{"id":432,"token":",","bytes":[44],"prob":1.0,"top_probs":[{"id":432,"token":",","bytes":[44],"prob":1.0}]},{"id":322,"token":" in","bytes":[32,105,110],"prob":0.025616485625505447,"top_probs":[{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"prob":0.974383533000946},{"id":322,"token":" in","bytes":[32,105,110],"prob":0.025616485625505447}]}]},"finish_reason":"length"}],"created":1795696707,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":2,"prompt_tokens":5,"total_tokens":7},"id":"chatcmpl-Z4kTPcyb9AEzgqJMdCHJhMa5ml3GiaYw"}`;

/** {"prompt":"Once upon a time","max_tokens":30,"temperature":0,"stop":[" a"],"logprobs":1}: 4 tokens generated, 2 with logprobs. */
const LLAMA_STOP = String.raw`{"choices":[{"text":", there was","index":0,"logprobs":{"content":[{"id":432,"token":",","bytes":[44],"logprob":-0.031753066927194595,"top_logprobs":[{"id":432,"token":",","bytes":[44],"logprob":-0.031753066927194595}]},{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-0.06841610372066498,"top_logprobs":[{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-0.06841610372066498}]}]},"finish_reason":"stop"}],"created":1795696723,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":4,"prompt_tokens":5,"total_tokens":9},"id":"chatcmpl-gnnyB6b35YM0GELP05FS3GK3pg9EVljH"}`;

/** {"prompt":"Once upon a time","max_tokens":4,"temperature":0}: no logprobs asked, "logprobs": null. */
const LLAMA_NO_LOGPROBS = String.raw`{"choices":[{"text":", there was a","index":0,"logprobs":null,"finish_reason":"length"}],"created":1795696539,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":4,"prompt_tokens":5,"total_tokens":9},"id":"chatcmpl-wpqAEccR5x3iZk9DLWnO0fm3VTNneKmu"}`;

/** `wander serve`: {"prompt":"Once upon a time","max_tokens":8,"temperature":0,"stop":[" the"],"logprobs":1}: the stop-completing token is reported, its text is not. */
const WANDER_STOP = String.raw`{"id":"cmpl-mwxjgv8ygduupw","object":"text_completion","created":1795696728,"model":"ladder:medium","system_fingerprint":"wander-0.1.0-wasm-simd-731163b394a9","choices":[{"index":0,"text":", and","logprobs":{"tokens":[","," and"," the"],"token_logprobs":[-1.6059686247240066,-1.3609682069764126,-2.3657382797467115],"text_offset":[0,1,5],"top_logprobs":[{",":-1.6059686247240066},{" and":-1.3609682069764126},{" the":-2.3657382797467115}]},"finish_reason":"stop","wander_finish_reason":"stop_sequence"}],"usage":{"prompt_tokens":6,"completion_tokens":3,"total_tokens":9},"seed":3731967414}`;

/** A captured answer's first choice, normalised, and its usage. */
function answer(json: string): { choice: NormalisedChoice; usage: { completion_tokens?: unknown } } {
  const body = JSON.parse(json) as { choices: unknown[]; usage: { completion_tokens?: unknown } };
  return { choice: normaliseChoice(body.choices[0], 'completions', 'choices[0]'), usage: body.usage };
}

/** Wander's defaults (nothing truncated, temperature 1, 128 tokens), with some changed. */
const sent = (over: Partial<SentSettings> = {}): SentSettings => ({ ...DEFAULTS, ...over });

const alt = (token: string, logprob: number, token_id: number | null = null): NormalisedAlternative => ({ token, token_id, logprob });
const tok = (token: string, logprob: number | null, top: NormalisedAlternative[], token_id: number | null = null): NormalisedToken => ({
  token, token_id, logprob, bytes: null, top: [...top].sort((a, b) => b.logprob - a.logprob),
});

/** A choice in llama-server's shape (ids where the tokens have them), its text spelled by its tokens. */
function choice(tokens: NormalisedToken[] | null, over: Partial<NormalisedChoice> = {}): NormalisedChoice {
  const ids = tokens && tokens.length > 0 && tokens.every((t) => t.token_id !== null) ? tokens.map((t) => t.token_id!) : null;
  return {
    index: 0, text: tokens ? tokens.map((t) => t.token).join('') : '', tokens, token_ids: ids, prompt_token_ids: null,
    finish_reason: 'length', raw_finish_reason: 'length', stop_reason: null, wander_finish_reason: null,
    post_sampling: false, text_coverage: tokens ? 'exact' : null, shape: 'llama.cpp', ...over,
  };
}

/** Three tokens, each with three distinct alternatives listed; the chosen token is always the most likely. */
const greedy = (): NormalisedToken[] => [
  tok('A', -0.1, [alt('A', -0.1, 1), alt('B', -2.5, 2), alt('C', -4, 3)], 1),
  tok('B', -0.2, [alt('B', -0.2, 2), alt('C', -2, 3), alt('D', -3, 4)], 2),
  tok('C', -0.3, [alt('C', -0.3, 3), alt('A', -1.5, 1), alt('E', -5, 5)], 3),
];

describe('ignoredSettings: a choice that honours everything reports nothing', () => {
  test('llama-server greedy, every truncation sent', () => {
    const { choice: c, usage } = answer(LLAMA_COMPLETIONS);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0, top_k: 40, top_p: 0.95, min_p: 0.05, max_tokens: 4 }), 3, c, usage), []);
  });

  test('llama-server stopped at a stop string, with fewer logprobs than tokens', () => {
    const { choice: c, usage } = answer(LLAMA_STOP);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0, top_k: 1, stop: [' a'], max_tokens: 30 }), 1, c, usage), []);
  });

  test('wander serve stopped at a stop string, reporting the token that completed it', () => {
    const { choice: c, usage } = answer(WANDER_STOP);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0, stop: [' the'], max_tokens: 8 }), 1, c, usage), []);
  });

  test('llama-server sampling at temperature 1.5 with no truncation sent', () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ temperature: 1.5, max_tokens: 6 }), 2, c, usage), []);
  });
});

describe('ignoredSettings: logprobs', () => {
  test('asked for and absent, on a choice with text', () => {
    const { choice: c, usage } = answer(LLAMA_NO_LOGPROBS);
    assert.deepEqual(ignoredSettings(sent({ max_tokens: 4 }), 3, c, usage), [{ setting: 'logprobs', evidence: 'logprobs 3: the choice has no per-token logprobs' }]);
  });

  test('not asked for, or absent from a choice with no text (perhaps only an end-of-sequence): nothing', () => {
    const { choice: c, usage } = answer(LLAMA_NO_LOGPROBS);
    assert.deepEqual(ignoredSettings(sent({ max_tokens: 4 }), 0, c, usage), []);
    assert.deepEqual(ignoredSettings(sent(), 3, choice(null, { text: '', finish_reason: 'stop', raw_finish_reason: 'stop' })), []);
  });

  test('fewer alternatives listed than asked, where the choice shows the vocabulary has more', () => {
    const tokens = greedy();
    tokens[1] = tok('B', -0.2, [alt('B', -0.2, 2)], 2);
    assert.deepEqual(ignoredSettings(sent(), 3, choice(tokens)), [
      { setting: 'logprobs', evidence: 'logprobs 3: 1 alternative listed at token 1, though this choice alone shows 4 distinct tokens' },
    ]);
  });

  test('fewer listed than asked, but no more distinct tokens shown than listed (a tiny vocabulary may have no more): nothing', () => {
    const tokens = [tok('A', -0.1, [alt('A', -0.1, 1), alt('B', -2.4, 2)], 1), tok('B', -0.5, [alt('B', -0.5, 2), alt('A', -1, 1)], 2)];
    assert.deepEqual(ignoredSettings(sent(), 5, choice(tokens)), []);
  });

  test('post-sampling lists hold only what the chain kept: not checked', () => {
    const { choice: c, usage } = answer(LLAMA_POST_SAMPLING);
    assert.equal(c.post_sampling, true);
    assert.equal(c.tokens![0]!.top.length, 1);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0.8, top_k: 3, max_tokens: 2 }), 3, c, usage), []);
  });

  test('the legacy shape merges alternatives that decode alike: a short list is no proof, an empty one is', () => {
    const legacy = (second: NormalisedAlternative[]) => choice([
      tok('a', -0.1, [alt('a', -0.1), alt('b', -3), alt('c', -4)]),
      tok('\uFFFD', -0.7, second),
    ], { shape: 'openai-legacy' });
    assert.deepEqual(ignoredSettings(sent(), 3, legacy([alt('\uFFFD', -0.7)])), []);
    assert.deepEqual(ignoredSettings(sent(), 3, legacy([])), [{ setting: 'logprobs', evidence: 'logprobs 3: no alternatives listed at token 1' }]);
  });
});

describe('ignoredSettings: max_tokens', () => {
  test('more generated tokens than allowed, by usage or by the tokens listed', () => {
    const c = choice(greedy());
    assert.deepEqual(ignoredSettings(sent({ max_tokens: 2 }), 3, c, { completion_tokens: 5 }), [
      { setting: 'max_tokens', evidence: 'max_tokens 2: the choice has 5 generated tokens (usage.completion_tokens)' },
    ]);
    assert.deepEqual(ignoredSettings(sent({ max_tokens: 2 }), 3, c), [
      { setting: 'max_tokens', evidence: 'max_tokens 2: the choice has 3 generated tokens (token ids)' },
    ]);
    assert.deepEqual(ignoredSettings(sent({ max_tokens: 2 }), 3, choice(greedy().map((t) => ({ ...t, token_id: null })), { shape: 'openai-chat' })), [
      { setting: 'max_tokens', evidence: 'max_tokens 2: the choice has 3 generated tokens (tokens with logprobs)' },
    ]);
  });

  test('exactly max_tokens, or a usage that is not a count: nothing', () => {
    assert.deepEqual(ignoredSettings(sent({ max_tokens: 3 }), 3, choice(greedy()), { completion_tokens: 3 }), []);
    assert.deepEqual(ignoredSettings(sent({ max_tokens: 3 }), 3, choice(greedy()), { completion_tokens: '7' }), []);
  });
});

describe('ignoredSettings: stop', () => {
  const text = (s: string, over: Partial<NormalisedChoice> = {}) => choice(null, { text: s, ...over });

  test('text that goes on after a stop string', () => {
    assert.deepEqual(ignoredSettings(sent({ stop: ['\n\n', ' there'] }), 0, text(', there was a')), [
      { setting: 'stop', evidence: 'stop " there": the text goes on after it (it starts at character 1 of 13)' },
    ]);
    assert.deepEqual(ignoredSettings(sent({ stop: ['.'] }), 0, text('😀 ok. More')), [
      { setting: 'stop', evidence: 'stop ".": the text goes on after it (it starts at character 4 of 10)' },
    ]);
  });

  test('a stop string that ends the text (a server that keeps it), or none in the text: nothing', () => {
    assert.deepEqual(ignoredSettings(sent({ stop: ['.'] }), 0, text('Once upon a time.', { finish_reason: 'stop', raw_finish_reason: 'stop' })), []);
    assert.deepEqual(ignoredSettings(sent({ stop: ['.'] }), 0, text('Once upon a time', { finish_reason: 'length', raw_finish_reason: 'length' })), []);
  });

  test('a stop string that appears only in the prompt: the choice has no prompt, nothing', () => {
    // Prompt "Q: who?\nA:" with stop "\n": the prompt's newline is not the server's to stop at.
    assert.deepEqual(ignoredSettings(sent({ stop: ['\n'] }), 0, text(' Alice', { finish_reason: 'stop', raw_finish_reason: 'stop' })), []);
  });

  test('with min_tokens sent, a stop string early in the text is legitimate (vLLM and SGLang skip them until then)', () => {
    assert.deepEqual(ignoredSettings(sent({ stop: [' there'], min_new_tokens: 4 }), 0, text(', there was a')), []);
  });
});

describe('ignoredSettings: logit_bias', () => {
  const ids = (token_ids: number[]) => choice(null, { text: 'xyz', token_ids });

  test('a banned token (bias -inf) generated', () => {
    const bias = [{ token_id: 7, bias: 2 }, { token_id: 42, bias: '-inf' as const }];
    assert.deepEqual(ignoredSettings(sent({ logit_bias: bias }), 0, ids([3, 5, 42, 42])), [
      { setting: 'logit_bias', evidence: 'logit_bias #42 -inf: the banned token was generated at token 2' },
    ]);
  });

  test('a token with a finite bias, however low, or no ids to tell: nothing', () => {
    assert.deepEqual(ignoredSettings(sent({ logit_bias: [{ token_id: 42, bias: -100 }] }), 0, ids([3, 42])), []);
    assert.deepEqual(ignoredSettings(sent({ logit_bias: [{ token_id: 42, bias: '-inf' }] }), 0, choice(null, { text: 'xyz' })), []);
  });
});

describe('ignoredSettings: min_new_tokens', () => {
  const stopped = (over: Partial<NormalisedChoice> = {}) => choice(greedy(), { finish_reason: 'stop', raw_finish_reason: 'stop', ...over });

  test('an end-of-sequence before min_tokens tokens', () => {
    assert.deepEqual(ignoredSettings(sent({ min_new_tokens: 8 }), 3, stopped(), { completion_tokens: 4 }), [
      { setting: 'min_new_tokens', evidence: 'min_new_tokens 8: the choice ended (finish_reason "stop", no stop strings sent) after 4 tokens (usage.completion_tokens)' },
    ]);
  });

  test('without usage, the listed tokens count when they spell the whole text', () => {
    assert.deepEqual(ignoredSettings(sent({ min_new_tokens: 8 }), 3, stopped()), [
      { setting: 'min_new_tokens', evidence: 'min_new_tokens 8: the choice ended (finish_reason "stop", no stop strings sent) after 3 tokens (token ids)' },
    ]);
    assert.deepEqual(ignoredSettings(sent({ min_new_tokens: 8 }), 3, stopped({ text: 'ABC and more', text_coverage: 'prefix' })), []);
    assert.deepEqual(ignoredSettings(sent({ min_new_tokens: 8 }), 0, choice([], { finish_reason: 'stop', raw_finish_reason: 'stop' })), []);
  });

  test('enough tokens, a stop string sent or named, or a length finish: nothing', () => {
    assert.deepEqual(ignoredSettings(sent({ min_new_tokens: 3 }), 3, stopped()), []);
    assert.deepEqual(ignoredSettings(sent({ min_new_tokens: 8, stop: ['\n'] }), 3, stopped()), []);
    assert.deepEqual(ignoredSettings(sent({ min_new_tokens: 8 }), 3, stopped({ stop_reason: '\n', shape: 'vllm' })), []);
    assert.deepEqual(ignoredSettings(sent({ min_new_tokens: 8 }), 3, choice(greedy())), []);
  });
});

describe('ignoredSettings: temperature 0', () => {
  test('a chosen token that is not the most likely listed (captured: a sampled answer, as if greedy had been sent)', () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0, max_tokens: 6 }), 2, c, usage), [
      { setting: 'temperature', evidence: 'temperature 0: chose "c" (logprob -3.616) at token 1, where "e" was listed at -1.561' },
    ]);
  });

  test('ties, to within 1e-5 nats, are no evidence', () => {
    const tokens = greedy();
    tokens[2] = tok('C', -0.7, [alt('A', -0.699995, 1), alt('C', -0.7, 3)], 3);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0 }), 2, choice(tokens)), []);
    tokens[2] = tok('C', -0.7, [alt('A', -0.69998, 1), alt('C', -0.7, 3)], 3);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0 }), 2, choice(tokens)), [
      { setting: 'temperature', evidence: 'temperature 0: chose "C" (logprob -0.7) at token 2, where "A" was listed at -0.69998' },
    ]);
  });

  test('not checked where other settings sent change the order: penalties, typical_p, a finite bias, min_tokens', () => {
    const tokens = greedy();
    tokens[0] = tok('B', -2.5, [alt('A', -0.1, 1), alt('B', -2.5, 2), alt('C', -4, 3)], 2);
    const c = choice(tokens);
    assert.equal(ignoredSettings(sent({ temperature: 0 }), 3, c).length, 1);
    for (const over of [{ repetition_penalty: 1.1 }, { frequency_penalty: 0.5 }, { presence_penalty: -0.5 }, { typical_p: 0.9 }, { logit_bias: [{ token_id: 9, bias: 5 }] }, { min_new_tokens: 1 }]) {
      assert.deepEqual(ignoredSettings(sent({ temperature: 0, ...over }), 3, c), [], JSON.stringify(over));
    }
  });

  test('a banned alternative more likely than the chosen token does not count (the ban removed it), unless ids are missing', () => {
    const tokens = greedy();
    tokens[0] = tok('B', -2.5, [alt('A', -0.1, 1), alt('B', -2.5, 2), alt('C', -4, 3)], 2);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0, logit_bias: [{ token_id: 1, bias: '-inf' }] }), 3, choice(tokens)), []);
    const anonymous = tokens.map((t) => ({ ...t, token_id: null, top: t.top.map((a) => ({ ...a, token_id: null })) }));
    assert.deepEqual(ignoredSettings(sent({ temperature: 0, logit_bias: [{ token_id: 1, bias: '-inf' }] }), 3, choice(anonymous, { shape: 'openai-chat' })), []);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0, logit_bias: [{ token_id: 4, bias: '-inf' }] }), 3, choice(tokens)), [
      { setting: 'temperature', evidence: 'temperature 0: chose "B" (logprob -2.5) at token 0, where "A" was listed at -0.1' },
    ]);
  });

  test('post-sampling probabilities and sentinel logprobs prove nothing', () => {
    const tokens = greedy();
    tokens[0] = tok('B', -2.5, [alt('A', -0.1, 1), alt('B', -2.5, 2)], 2);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0 }), 3, choice(tokens, { post_sampling: true })), []);
    tokens[0] = tok('B', -9999, [alt('A', -0.1, 1), alt('C', -4, 3), alt('B', -9999, 2)], 2);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0 }), 3, choice(tokens, { shape: 'vllm' })), []);
  });
});

describe('ignoredSettings: top_k', () => {
  test('K listed alternatives more likely than the chosen token (captured, as if top_k 2 had been sent)', () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ temperature: 1.5, top_k: 2, max_tokens: 6 }), 2, c, usage), [
      { setting: 'top_k', evidence: 'top_k 2: chose "c" at token 1, though 2 listed alternatives are more likely' },
    ]);
  });

  test('a list too short to prove it: nothing', () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ temperature: 1.5, top_k: 3, max_tokens: 6 }), 2, c, usage), []);
  });

  test("vLLM's legacy list adds the chosen token; ties at the cut are kept", () => {
    const vllm = (lp: number) => choice([tok('c', lp, [alt('a', -0.5), alt('b', -1), alt('c', lp)])], { shape: 'vllm', token_ids: [9] });
    assert.deepEqual(ignoredSettings(sent({ top_k: 2 }), 2, vllm(-3)), [
      { setting: 'top_k', evidence: 'top_k 2: chose "c" at token 0, though 2 listed alternatives are more likely' },
    ]);
    assert.deepEqual(ignoredSettings(sent({ top_k: 3 }), 2, vllm(-3)), []);
    assert.deepEqual(ignoredSettings(sent({ top_k: 2 }), 2, vllm(-1)), []);
  });

  test('typical_p may remove the most likely tokens first in some chains: not checked', () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ temperature: 1.5, top_k: 2, typical_p: 0.9, max_tokens: 6 }), 2, c, usage), []);
  });
});

describe('ignoredSettings: min_p', () => {
  test("a chosen token under min_p × the most likely one's probability (captured, as if min_p 0.2 had been sent)", () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ min_p: 0.2, max_tokens: 6 }), 2, c, usage), [
      { setting: 'min_p', evidence: 'min_p 0.2: chose "c" at token 1 with probability 0.0269, under 0.2 × 0.2099 ("e", the most likely listed)' },
    ]);
  });

  test('every chosen token above the cut, a temperature above 1, or greedy: nothing', () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ min_p: 0.1, max_tokens: 6 }), 2, c, usage), []);
    assert.deepEqual(ignoredSettings(sent({ min_p: 0.2, temperature: 1.5, max_tokens: 6 }), 2, c, usage), []);
    assert.deepEqual(ignoredSettings(sent({ min_p: 0.2, temperature: 0.5, max_tokens: 6 }), 2, c, usage).map((f) => f.setting), ['min_p']);
  });

  test('a chosen token exactly at the cut is kept', () => {
    const c = choice([tok('b', Math.log(0.05), [alt('a', Math.log(0.5)), alt('b', Math.log(0.05))])], { shape: 'openai-chat' });
    assert.deepEqual(ignoredSettings(sent({ min_p: 0.1 }), 2, c), []);
    assert.deepEqual(ignoredSettings(sent({ min_p: 0.1001 }), 2, c).map((f) => f.setting), ['min_p']);
  });
});

describe('ignoredSettings: top_p', () => {
  test('the tokens more likely than the chosen one already hold top_p (captured, as if top_p had been sent)', () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ top_p: 0.3, max_tokens: 6 }), 2, c, usage), [
      { setting: 'top_p', evidence: 'top_p 0.3: chose "c" at token 1, though the 2 listed alternatives more likely than it hold 0.3155 of the probability' },
    ]);
    assert.deepEqual(ignoredSettings(sent({ top_p: 0.5, max_tokens: 6 }), 2, c, usage), [
      { setting: 'top_p', evidence: 'top_p 0.5: chose "w" at token 3, though the listed alternative more likely than it holds 0.6169 of the probability' },
    ]);
  });

  test('below top_p, above temperature 1, or on a server whose logprobs may be renormalised over the nucleus: nothing', () => {
    const { choice: c, usage } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ top_p: 0.7, max_tokens: 6 }), 2, c, usage), []);
    assert.deepEqual(ignoredSettings(sent({ top_p: 0.3, temperature: 1.5, max_tokens: 6 }), 2, c, usage), []);
    assert.deepEqual(ignoredSettings(sent({ top_p: 0.3, max_tokens: 6 }), 2, { ...c, shape: 'openai-chat' }, usage), []);
    assert.deepEqual(ignoredSettings(sent({ top_p: 0.3, max_tokens: 6 }), 2, { ...c, shape: 'vllm' }, usage), []);
  });

  test('wander serve (its own finish reason) reports the model\'s logprobs: checked; mass just at top_p is kept', () => {
    const at = (p: number) => choice([tok(' b', Math.log(0.2), [alt(' a', Math.log(p)), alt(' b', Math.log(0.2))])], { shape: 'openai-legacy', wander_finish_reason: 'max_tokens' });
    assert.deepEqual(ignoredSettings(sent({ top_p: 0.6 }), 2, at(0.7)), [
      { setting: 'top_p', evidence: 'top_p 0.6: chose " b" at token 0, though the listed alternative more likely than it holds 0.7 of the probability' },
    ]);
    assert.deepEqual(ignoredSettings(sent({ top_p: 0.6 }), 2, at(0.6)), []);
  });
});

describe('ignoredSettings: several at once', () => {
  test('each setting once, with its first evidence, in a fixed order', () => {
    const { choice: c } = answer(LLAMA_SAMPLED);
    assert.deepEqual(ignoredSettings(sent({ temperature: 0, top_k: 1, max_tokens: 5, stop: ['re'], logit_bias: [{ token_id: 426, bias: '-inf' }] }), 2, c, { completion_tokens: 6 }), [
      { setting: 'max_tokens', evidence: 'max_tokens 5: the choice has 6 generated tokens (usage.completion_tokens)' },
      { setting: 'stop', evidence: 'stop "re": the text goes on after it (it starts at character 3 of 8)' },
      { setting: 'logit_bias', evidence: 'logit_bias #426 -inf: the banned token was generated at token 4' },
      { setting: 'temperature', evidence: 'temperature 0: chose "c" (logprob -3.616) at token 1, where "e" was listed at -1.561' },
      { setting: 'top_k', evidence: 'top_k 1: chose "c" at token 1, though 2 listed alternatives are more likely' },
    ]);
  });
});

describe('seedIgnored', () => {
  const run = (second: string) => choice([
    tok('A', -0.1, [alt('A', -0.1, 1), alt('B', -2.5, 2)], 1),
    second === 'B' ? tok('B', -0.9, [alt('C', -0.6, 3), alt('B', -0.9, 2)], 2) : tok('C', -0.6, [alt('C', -0.6, 3), alt('B', -0.9, 2)], 3),
  ]);

  test('two answers to the same request that part where every listed logprob is identical', () => {
    assert.deepEqual(seedIgnored({ temperature: 1 }, run('B'), run('C')), {
      setting: 'seed', evidence: 'seed: two answers to the same request chose "B" and "C" at token 1, though every listed logprob up to there is identical',
    });
  });

  test('the same tokens, different logprobs (a server that is not batch-invariant), greedy, or no logprobs: null', () => {
    assert.equal(seedIgnored({ temperature: 1 }, run('B'), run('B')), null);
    const other = run('C');
    other.tokens![0] = tok('A', -0.1000001, [alt('A', -0.1000001, 1), alt('B', -2.5, 2)], 1);
    assert.equal(seedIgnored({ temperature: 1 }, run('B'), other), null);
    assert.equal(seedIgnored({ temperature: 0 }, run('B'), run('C')), null);
    assert.equal(seedIgnored({ temperature: 1 }, choice(null, { text: 'x' }), run('C')), null);
  });
});
