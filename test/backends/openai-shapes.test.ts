import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  normaliseChoice, ResponseShapeError, tokenIdPlaceholder, topLogprobsTail,
  type NormalisedAlternative, type NormalisedChoice, type NormalisedToken,
} from '../../src/backends/openai-shapes.js';

// Fixtures, one per shape. "Captured" ones are real answers, saved literally (only llama-server's `timings` object
// removed); "constructed" ones follow the server's source, cited beside each, with invented token values.

const first = (json: string): unknown => (JSON.parse(json) as { choices: unknown[] }).choices[0];
const alt = (token: string, token_id: number | null, logprob: number): NormalisedAlternative => ({ token, token_id, logprob });
const tok = (token: string, token_id: number | null, logprob: number | null, bytes: number[] | null, top: NormalisedAlternative[]): NormalisedToken => ({ token, token_id, logprob, bytes, top });
/** The fields most fixtures leave at their defaults. */
const base = {
  token_ids: null, prompt_token_ids: null, stop_reason: null, wander_finish_reason: null, post_sampling: false,
} satisfies Partial<NormalisedChoice>;

// --- llama.cpp's llama-server -----------------------------------------------------------------------------------
// Captured from /work/shared/tools/llama.cpp/llama-server (build 4748, c392e5094) serving
// /work/shared/models/stories260K.gguf: `-c 256 -np 1 -t 1`. Its README notes that /v1/completions answers in the
// chat shape; the source is tools/server/server-task.cpp, completion_token_output::probs_vector_to_json.

/** POST /v1/completions {"prompt":"Once upon a time","max_tokens":4,"temperature":0,"logprobs":3} */
const LLAMA_COMPLETIONS = String.raw`{"choices":[{"text":", there was a","index":0,"logprobs":{"content":[{"id":432,"token":",","bytes":[44],"logprob":-0.031752943992614746,"top_logprobs":[{"id":432,"token":",","bytes":[44],"logprob":-0.031752943992614746},{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-3.5481619834899902},{"id":322,"token":" in","bytes":[32,105,110],"logprob":-8.120872497558594}]},{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-0.06841610372066498,"top_logprobs":[{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-0.06841610372066498},{"id":322,"token":" in","bytes":[32,105,110],"logprob":-2.979271411895752},{"id":261,"token":" a","bytes":[32,97],"logprob":-4.534703731536865}]},{"id":286,"token":" was","bytes":[32,119,97,115],"logprob":-0.015980716794729233,"top_logprobs":[{"id":286,"token":" was","bytes":[32,119,97,115],"logprob":-0.015980716794729233},{"id":382,"token":" we","bytes":[32,119,101],"logprob":-4.845122337341309},{"id":397,"token":" li","bytes":[32,108,105],"logprob":-5.115883827209473}]},{"id":261,"token":" a","bytes":[32,97],"logprob":-0.0007837504963390529,"top_logprobs":[{"id":261,"token":" a","bytes":[32,97],"logprob":-0.0007837504963390529},{"id":399,"token":" very","bytes":[32,118,101,114,121],"logprob":-9.201282501220703},{"id":262,"token":" s","bytes":[32,115],"logprob":-9.483187675476074}]}]},"finish_reason":"length"}],"created":1795696539,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":4,"prompt_tokens":5,"total_tokens":9},"id":"chatcmpl-FSVN7RmvraAxPJrLL8bwttRpVMBJnb0p"}`;

/** POST /v1/chat/completions {"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":4,"temperature":0,"logprobs":true,"top_logprobs":3} */
const LLAMA_CHAT = String.raw`{"choices":[{"finish_reason":"length","index":0,"message":{"role":"assistant","content":"\"Here"},"logprobs":{"content":[{"id":436,"token":"\"","bytes":[34],"logprob":-1.0653140544891357,"top_logprobs":[{"id":436,"token":"\"","bytes":[34],"logprob":-1.0653140544891357},{"id":440,"token":"H","bytes":[72],"logprob":-2.6663615703582764},{"id":434,"token":"T","bytes":[84],"logprob":-2.8180081844329834}]},{"id":440,"token":"H","bytes":[72],"logprob":-1.4148142337799072,"top_logprobs":[{"id":440,"token":"H","bytes":[72],"logprob":-1.4148142337799072},{"id":446,"token":"M","bytes":[77],"logprob":-2.0545103549957275},{"id":438,"token":"L","bytes":[76],"logprob":-2.5281355381011963}]},{"id":411,"token":"e","bytes":[101],"logprob":-0.7732952237129211,"top_logprobs":[{"id":411,"token":"e","bytes":[101],"logprob":-0.7732952237129211},{"id":417,"token":"i","bytes":[105],"logprob":-1.5190590620040894},{"id":412,"token":"a","bytes":[97],"logprob":-2.272454023361206}]},{"id":276,"token":"re","bytes":[114,101],"logprob":-1.8892768621444702,"top_logprobs":[{"id":276,"token":"re","bytes":[114,101],"logprob":-1.8892768621444702},{"id":450,"token":"?","bytes":[63],"logprob":-2.116441249847412},{"id":444,"token":"x","bytes":[120],"logprob":-2.5552749633789063}]}]}}],"created":1795696539,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"chat.completion","usage":{"completion_tokens":4,"prompt_tokens":46,"total_tokens":50},"id":"chatcmpl-ZmdFaiK1uuDoXcuUqDgOnY2mij7Q5X35"}`;

/** POST /v1/completions {"prompt":"Once upon a time","max_tokens":2,"temperature":0.8,"top_k":3,"seed":1,"logprobs":3,"post_sampling_probs":true} */
const LLAMA_POST_SAMPLING = String.raw`{"choices":[{"text":", in","index":0,"logprobs":{"content":[{"id":432,"token":",","bytes":[44],"prob":1.0,"top_probs":[{"id":432,"token":",","bytes":[44],"prob":1.0}]},{"id":322,"token":" in","bytes":[32,105,110],"prob":0.025616485625505447,"top_probs":[{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"prob":0.974383533000946},{"id":322,"token":" in","bytes":[32,105,110],"prob":0.025616485625505447}]}]},"finish_reason":"length"}],"created":1795696707,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":2,"prompt_tokens":5,"total_tokens":7},"id":"chatcmpl-Z4kTPcyb9AEzgqJMdCHJhMa5ml3GiaYw"}`;

/** POST /v1/completions {"prompt":"Once upon a time","max_tokens":30,"temperature":0,"stop":[" a"],"logprobs":1}: 4 tokens generated, 3 in the text, 2 with logprobs. */
const LLAMA_STOP = String.raw`{"choices":[{"text":", there was","index":0,"logprobs":{"content":[{"id":432,"token":",","bytes":[44],"logprob":-0.031753066927194595,"top_logprobs":[{"id":432,"token":",","bytes":[44],"logprob":-0.031753066927194595}]},{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-0.06841610372066498,"top_logprobs":[{"id":383,"token":" there","bytes":[32,116,104,101,114,101],"logprob":-0.06841610372066498}]}]},"finish_reason":"stop"}],"created":1795696723,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":4,"prompt_tokens":5,"total_tokens":9},"id":"chatcmpl-gnnyB6b35YM0GELP05FS3GK3pg9EVljH"}`;

/** POST /v1/completions {"prompt":"😀 é","max_tokens":6,"temperature":1.5,"seed":3,"logprobs":2}: the second token is not among its top 2. */
const LLAMA_SAMPLED = String.raw`{"choices":[{"text":" screw. ","index":0,"logprobs":{"content":[{"id":262,"token":" s","bytes":[32,115],"logprob":-1.8624228239059448,"top_logprobs":[{"id":262,"token":" s","bytes":[32,115],"logprob":-1.8624228239059448},{"id":278,"token":" l","bytes":[32,108],"logprob":-2.647589683532715}]},{"id":429,"token":"c","bytes":[99],"logprob":-3.6155483722686768,"top_logprobs":[{"id":411,"token":"e","bytes":[101],"logprob":-1.560945749282837},{"id":415,"token":"h","bytes":[104],"logprob":-2.2481768131256104}]},{"id":276,"token":"re","bytes":[114,101],"logprob":-0.6679743528366089,"top_logprobs":[{"id":276,"token":"re","bytes":[114,101],"logprob":-0.6679743528366089},{"id":295,"token":"ar","bytes":[97,114],"logprob":-1.140832781791687}]},{"id":424,"token":"w","bytes":[119],"logprob":-1.6299817562103271,"top_logprobs":[{"id":302,"token":"en","bytes":[101,110],"logprob":-0.48310068249702454},{"id":424,"token":"w","bytes":[119],"logprob":-1.6299817562103271}]},{"id":426,"token":".","bytes":[46],"logprob":-2.6881484985351563,"top_logprobs":[{"id":419,"token":"s","bytes":[115],"logprob":-1.4885436296463013},{"id":421,"token":"l","bytes":[108],"logprob":-2.0111496448516846}]},{"id":410,"token":" ","bytes":[32],"logprob":-0.9641204476356506,"top_logprobs":[{"id":410,"token":" ","bytes":[32],"logprob":-0.9641204476356506},{"id":346,"token":" He","bytes":[32,72,101],"logprob":-1.461259365081787}]}]},"finish_reason":"length"}],"created":1795696542,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":6,"prompt_tokens":8,"total_tokens":14},"id":"chatcmpl-sHZgydzaLcQW6Ap2AL2kcinTZXjVMMDu"}`;

/** POST /v1/completions {"prompt":"Once upon a time","max_tokens":4,"temperature":0}: no logprobs asked, "logprobs": null. */
const LLAMA_NO_LOGPROBS = String.raw`{"choices":[{"text":", there was a","index":0,"logprobs":null,"finish_reason":"length"}],"created":1795696539,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"text_completion","usage":{"completion_tokens":4,"prompt_tokens":5,"total_tokens":9},"id":"chatcmpl-wpqAEccR5x3iZk9DLWnO0fm3VTNneKmu"}`;

/**
 * POST /v1/chat/completions {"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0,"logprobs":true,
 * "top_logprobs":2,"logit_bias":[[243,100]]}: token 243 is the byte 0xF0, three of them are no UTF-8, and this build
 * then leaves the logprobs out altogether, the key included (on /v1/completions it writes "logprobs": null).
 */
const LLAMA_CHAT_BYTES = String.raw`{"choices":[{"finish_reason":"length","index":0,"message":{"role":"assistant","content":"���"}}],"created":1795696551,"model":"gpt-3.5-turbo","system_fingerprint":"b4748-c392e5094","object":"chat.completion","usage":{"completion_tokens":3,"prompt_tokens":42,"total_tokens":45},"id":"chatcmpl-Y9ahN26bi4qCEoTX9mKhvUPI5u1bgkcW"}`;

// --- wander serve -----------------------------------------------------------------------------------------------
// Captured from `node bin/wander.mjs serve --port 18556 --threads 1` (model ladder:medium; the chat model is the
// Llama test fixture with a chat template, as test/server/server.test.ts builds it). Source: src/server/openai.ts.

/** POST /v1/completions {"prompt":"Once upon a time","max_tokens":4,"temperature":0,"logprobs":3} */
const WANDER_COMPLETIONS = String.raw`{"id":"cmpl-mwxjdb8d6agkej","object":"text_completion","created":1795696562,"model":"ladder:medium","system_fingerprint":"wander-0.1.0-wasm-simd-731163b394a9","choices":[{"index":0,"text":", and the LORD","logprobs":{"tokens":[","," and"," the"," LORD"],"token_logprobs":[-1.6059686247240066,-1.3609682069764126,-2.3657382797467115,-2.5806441917437972],"text_offset":[0,1,5,9],"top_logprobs":[{",":-1.6059686247240066," of":-2.2838713232408523,".":-2.3268915716539382},{" and":-1.3609682069764126," the":-3.26095876560068," he":-3.551788900946139},{" the":-2.3657382797467115," a":-2.552723295615852," his":-3.2180541824566724},{" LORD":-2.5806441917437972," land":-3.7374368324298324," people":-3.9872775688189925}]},"finish_reason":"length","wander_finish_reason":"max_tokens"}],"usage":{"prompt_tokens":6,"completion_tokens":4,"total_tokens":10},"seed":4039381024}`;

/** POST /v1/completions {"prompt":"Once upon a time","max_tokens":8,"temperature":0,"stop":[" the"],"logprobs":1}: the stop-completing token is reported, its text is not. */
const WANDER_STOP = String.raw`{"id":"cmpl-mwxjgv8ygduupw","object":"text_completion","created":1795696728,"model":"ladder:medium","system_fingerprint":"wander-0.1.0-wasm-simd-731163b394a9","choices":[{"index":0,"text":", and","logprobs":{"tokens":[","," and"," the"],"token_logprobs":[-1.6059686247240066,-1.3609682069764126,-2.3657382797467115],"text_offset":[0,1,5],"top_logprobs":[{",":-1.6059686247240066},{" and":-1.3609682069764126},{" the":-2.3657382797467115}]},"finish_reason":"stop","wander_finish_reason":"stop_sequence"}],"usage":{"prompt_tokens":6,"completion_tokens":3,"total_tokens":9},"seed":3731967414}`;

/** POST /v1/completions {"prompt":"Once upon a time","max_tokens":3,"temperature":0,"logprobs":0}: empty alternatives. */
const WANDER_TOP0 = String.raw`{"id":"cmpl-mwxjdbc88v0nc6","object":"text_completion","created":1795696562,"model":"ladder:medium","system_fingerprint":"wander-0.1.0-wasm-simd-731163b394a9","choices":[{"index":0,"text":", and the","logprobs":{"tokens":[","," and"," the"],"token_logprobs":[-1.6059686247240066,-1.3609682069764126,-2.3657382797467115],"text_offset":[0,1,5],"top_logprobs":[{},{},{}]},"finish_reason":"length","wander_finish_reason":"max_tokens"}],"usage":{"prompt_tokens":6,"completion_tokens":3,"total_tokens":9},"seed":517827196}`;

/** POST /v1/completions {"prompt":"And God said","max_tokens":2,"temperature":0.8,"seed":7,"n":2,"logprobs":2,"echo":true} */
const WANDER_ECHO = String.raw`{"id":"cmpl-mwxjdqvw7r7x2r","object":"text_completion","created":1795696582,"model":"ladder:medium","system_fingerprint":"wander-0.1.0-wasm-simd-731163b394a9","choices":[{"index":0,"text":"And God said, Th","logprobs":{"tokens":[","," Th"],"token_logprobs":[-1.0195678839381142,-3.56487902342149],"text_offset":[12,13],"top_logprobs":[{" unto":-0.7517303595240517,",":-1.0195678839381142},{" I":-3.102106177199566," and":-3.451651656020367}]},"finish_reason":"length","wander_finish_reason":"max_tokens"},{"index":1,"text":"And God said unto him","logprobs":{"tokens":[" unto"," him"],"token_logprobs":[-0.7517303595240517,-1.6695194610412667],"text_offset":[12,17],"top_logprobs":[{" unto":-0.7517303595240517,",":-1.0195678839381142},{" him":-1.6695194610412667," the":-1.9812260040100167}]},"finish_reason":"length","wander_finish_reason":"max_tokens"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7},"seed":7}`;

/** POST /v1/chat/completions {"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0,"logprobs":true,"top_logprobs":2} */
const WANDER_CHAT = String.raw`{"id":"chatcmpl-mwxjdobpe6ry9z","created":1795696579,"model":"chat","system_fingerprint":"wander-0.1.0-wasm-simd-e43241f63e8f","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"\u0005vZ"},"logprobs":{"content":[{"token":"\u0005","logprob":-3.3381850232606993,"bytes":[5],"top_logprobs":[{"token":"\u0005","logprob":-3.3381850232606993,"bytes":[5]},{"token":"ed","logprob":-3.737685154867755,"bytes":[101,100]}]},{"token":"v","logprob":-3.6170050934174816,"bytes":[118],"top_logprobs":[{"token":"v","logprob":-3.6170050934174816,"bytes":[118]},{"token":"�","logprob":-3.741386158786134,"bytes":[239,191,189]}]},{"token":"Z","logprob":-3.3172315473419207,"bytes":[90],"top_logprobs":[{"token":"Z","logprob":-3.3172315473419207,"bytes":[90]},{"token":"m","logprob":-3.700059306130983,"bytes":[109]}]}]},"finish_reason":"length","wander_finish_reason":"max_tokens"}],"usage":{"prompt_tokens":18,"completion_tokens":3,"total_tokens":21},"seed":3337205337}`;

// --- vLLM (constructed) -----------------------------------------------------------------------------------------
// vllm/entrypoints/openai/completion/protocol.py (CompletionResponseChoice, CompletionLogProbs) and
// completion/serving.py (_create_completion_logprobs: the alternatives are the chosen token plus the top N, the chosen
// one first; a prompt token without logprobs is null; "token_id:N" placeholders under return_tokens_as_token_ids;
// logprobs clamped at -9999.0). FastAPI writes every field of the model, null ones included.

/** /v1/completions {"logprobs":2,"return_token_ids":true}: the second token was drawn from outside the top 2. */
const VLLM_COMPLETIONS = {
  index: 0, text: ' Paris.',
  logprobs: { text_offset: [0, 6], token_logprobs: [-0.0123, -2.9], tokens: [' Paris', '.'], top_logprobs: [{ ' Paris': -0.0123, ' the': -4.9 }, { '.': -2.9, ',': -0.4, '\n': -1.5 }] },
  finish_reason: 'length', stop_reason: null, token_ids: [12366, 13], prompt_logprobs: null, prompt_token_ids: [791, 6864, 315, 9822, 374],
};

/**
 * /v1/completions {"echo":true,"logprobs":1,"return_token_ids":true}: the logprobs cover the prompt and the generation,
 * and with return_token_ids vLLM leaves the prompt out of the text (serving.py: `if request.return_token_ids: prompt_text = ""`).
 */
const VLLM_ECHO = {
  index: 0, text: ' Paris',
  logprobs: {
    text_offset: [0, 3, 11, 14, 21, 24], token_logprobs: [null, -9.1, -1.2, -0.3, -0.9, -0.05],
    tokens: ['The', ' capital', ' of', ' France', ' is', ' Paris'],
    top_logprobs: [null, { ' capital': -9.1, ' first': -3 }, { ' of': -1.2 }, { ' France': -0.3 }, { ' is': -0.9 }, { ' Paris': -0.05 }],
  },
  finish_reason: 'length', stop_reason: null, token_ids: [12366],
  prompt_logprobs: [null, { 6864: { logprob: -9.1, rank: 1771, decoded_token: ' capital' } }], prompt_token_ids: [791, 6864, 315, 9822, 374],
};

/** /v1/completions {"logprobs":1,"return_tokens_as_token_ids":true,"return_token_ids":true,"stop_token_ids":[128009]} */
const VLLM_PLACEHOLDERS = {
  index: 0, text: ' Paris.',
  logprobs: {
    text_offset: [0, 14, 24], token_logprobs: [-0.0123, -0.2, -0.01], tokens: ['token_id:12366', 'token_id:13', 'token_id:128009'],
    top_logprobs: [{ 'token_id:12366': -0.0123 }, { 'token_id:13': -0.2 }, { 'token_id:128009': -0.01 }],
  },
  finish_reason: 'stop', stop_reason: 128009, token_ids: [12366, 13, 128009], prompt_logprobs: null, prompt_token_ids: null,
};

/** The UTF-8 bytes of an ASCII string, as vLLM writes a placeholder's bytes (chat_completion/serving.py, _get_top_logprobs). */
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** /v1/chat/completions {"logprobs":true,"top_logprobs":2,"return_tokens_as_token_ids":true,"return_token_ids":true} (chat_completion/protocol.py). */
const VLLM_CHAT = {
  index: 0,
  message: { role: 'assistant', content: 'Paris', refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
  logprobs: {
    content: [{
      token: 'token_id:60704', logprob: -0.0002, bytes: ascii('token_id:60704'),
      top_logprobs: [{ token: 'token_id:60704', logprob: -0.0002, bytes: ascii('token_id:60704') }, { token: 'token_id:791', logprob: -9999.0, bytes: ascii('token_id:791') }],
    }],
  },
  finish_reason: 'length', stop_reason: null, token_ids: [60704],
};

// --- Ollama (constructed) ---------------------------------------------------------------------------------------
// ollama/ollama openai/openai.go: CompleteChunkChoice { text, index, finish_reason *string, logprobs *ChoiceLogprobs
// omitempty }, ChoiceLogprobs { content []api.Logprob }; api/types.go Logprob { token, logprob, bytes omitempty,
// top_logprobs omitempty }; server/logprob.go: bytes are the token text's bytes. No ids. /v1/completions "logprobs": N.

const OLLAMA_COMPLETIONS = {
  text: 'Hello!', index: 0, finish_reason: 'stop',
  logprobs: {
    content: [
      { token: 'Hello', logprob: -0.0541, bytes: [72, 101, 108, 108, 111], top_logprobs: [{ token: 'Hello', logprob: -0.0541, bytes: [72, 101, 108, 108, 111] }, { token: 'Hi', logprob: -3.1, bytes: [72, 105] }] },
      { token: '!', logprob: -0.31, bytes: [33], top_logprobs: [{ token: '!', logprob: -0.31, bytes: [33] }, { token: ',', logprob: -1.4, bytes: [44] }] },
    ],
  },
};

/** Chat with "logprobs": true and no top_logprobs (omitted when empty), and a null finish_reason (Ollama's empty done reason). */
const OLLAMA_CHAT = {
  index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: null,
  logprobs: { content: [{ token: 'Hi', logprob: -0.25, bytes: [72, 105] }] },
};

// --- OpenAI (constructed) ---------------------------------------------------------------------------------------
// openai-node resources/completions.d.ts (CompletionChoice.Logprobs) and resources/chat/completions/completions.d.ts
// (ChatCompletionTokenLogprob: bytes may be null; Choice.Logprobs { content, refusal }).

/** Legacy alternatives whose tokens look like integers: JS lists such object keys first, in numeric order. */
const OPENAI_LEGACY = {
  text: ' 1', index: 0, finish_reason: 'length',
  logprobs: { tokens: [' 1'], token_logprobs: [-0.7], top_logprobs: [{ ' 1': -0.7, '42': -2.5, '1': -1.6 }], text_offset: [0] },
};

const OPENAI_CHAT = {
  index: 0, message: { role: 'assistant', content: 'Hi', refusal: null }, finish_reason: 'stop',
  logprobs: { content: [{ token: 'Hi', logprob: -0.31725305, bytes: null, top_logprobs: [{ token: 'Hello', logprob: -1.3190403, bytes: [72, 101, 108, 108, 111] }, { token: 'Hi', logprob: -0.31725305, bytes: null }] }], refusal: null },
};

/** A refusal: the message's content and content logprobs are null, the refusal has its own. */
const OPENAI_REFUSAL = {
  index: 0, message: { role: 'assistant', content: null, refusal: 'No.' }, finish_reason: 'stop',
  logprobs: { content: null, refusal: [{ token: 'No', logprob: -0.1, bytes: [78, 111], top_logprobs: [] }] },
};

describe('normaliseChoice: llama.cpp', () => {
  test('/v1/completions answers in the chat shape, with token ids', () => {
    assert.deepStrictEqual(normaliseChoice(first(LLAMA_COMPLETIONS), 'completions'), {
      ...base, index: 0, text: ', there was a',
      tokens: [
        tok(',', 432, -0.031752943992614746, [44], [alt(',', 432, -0.031752943992614746), alt(' there', 383, -3.5481619834899902), alt(' in', 322, -8.120872497558594)]),
        tok(' there', 383, -0.06841610372066498, [32, 116, 104, 101, 114, 101], [alt(' there', 383, -0.06841610372066498), alt(' in', 322, -2.979271411895752), alt(' a', 261, -4.534703731536865)]),
        tok(' was', 286, -0.015980716794729233, [32, 119, 97, 115], [alt(' was', 286, -0.015980716794729233), alt(' we', 382, -4.845122337341309), alt(' li', 397, -5.115883827209473)]),
        tok(' a', 261, -0.0007837504963390529, [32, 97], [alt(' a', 261, -0.0007837504963390529), alt(' very', 399, -9.201282501220703), alt(' s', 262, -9.483187675476074)]),
      ],
      token_ids: [432, 383, 286, 261], finish_reason: 'length', raw_finish_reason: 'length', text_coverage: 'exact', shape: 'llama.cpp',
    });
  });

  test('/v1/chat/completions: the same shape, the text from the message', () => {
    assert.deepStrictEqual(normaliseChoice(first(LLAMA_CHAT), 'chat'), {
      ...base, index: 0, text: '"Here',
      tokens: [
        tok('"', 436, -1.0653140544891357, [34], [alt('"', 436, -1.0653140544891357), alt('H', 440, -2.6663615703582764), alt('T', 434, -2.8180081844329834)]),
        tok('H', 440, -1.4148142337799072, [72], [alt('H', 440, -1.4148142337799072), alt('M', 446, -2.0545103549957275), alt('L', 438, -2.5281355381011963)]),
        tok('e', 411, -0.7732952237129211, [101], [alt('e', 411, -0.7732952237129211), alt('i', 417, -1.5190590620040894), alt('a', 412, -2.272454023361206)]),
        tok('re', 276, -1.8892768621444702, [114, 101], [alt('re', 276, -1.8892768621444702), alt('?', 450, -2.116441249847412), alt('x', 444, -2.5552749633789063)]),
      ],
      token_ids: [436, 440, 411, 276], finish_reason: 'length', raw_finish_reason: 'length', text_coverage: 'exact', shape: 'llama.cpp',
    });
  });

  test('post_sampling_probs: probabilities become logs, and the choice says they are post-sampling', () => {
    assert.deepStrictEqual(normaliseChoice(first(LLAMA_POST_SAMPLING), 'completions'), {
      ...base, index: 0, text: ', in',
      tokens: [
        tok(',', 432, 0, [44], [alt(',', 432, 0)]),
        tok(' in', 322, Math.log(0.025616485625505447), [32, 105, 110], [alt(' there', 383, Math.log(0.974383533000946)), alt(' in', 322, Math.log(0.025616485625505447))]),
      ],
      token_ids: [432, 322], post_sampling: true, finish_reason: 'length', raw_finish_reason: 'length', text_coverage: 'exact', shape: 'llama.cpp',
    });
  });

  test('a stop string: this build drops one token too many, and the coverage says so', () => {
    assert.deepStrictEqual(normaliseChoice(first(LLAMA_STOP), 'completions'), {
      ...base, index: 0, text: ', there was',
      tokens: [
        tok(',', 432, -0.031753066927194595, [44], [alt(',', 432, -0.031753066927194595)]),
        tok(' there', 383, -0.06841610372066498, [32, 116, 104, 101, 114, 101], [alt(' there', 383, -0.06841610372066498)]),
      ],
      token_ids: [432, 383], finish_reason: 'stop', raw_finish_reason: 'stop', text_coverage: 'prefix', shape: 'llama.cpp',
    });
  });

  test('a sampled token outside the listed top N: its mass is part of the tail', () => {
    const c = normaliseChoice(first(LLAMA_SAMPLED), 'completions');
    assert.equal(c.text_coverage, 'exact');
    assert.deepStrictEqual(c.token_ids, [262, 429, 276, 424, 426, 410]);
    const t = c.tokens![1]!;
    assert.deepStrictEqual(t, tok('c', 429, -3.6155483722686768, [99], [alt('e', 411, -1.560945749282837), alt('h', 415, -2.2481768131256104)]));
    const tail = topLogprobsTail(t.top);
    assert.ok(Math.abs(tail - 0.6844710085650364) < 1e-12, `tail ${tail}`);
    assert.ok(tail >= Math.exp(t.logprob!));
  });

  test('no logprobs: null on /v1/completions, no key at all on chat (non-UTF-8 output)', () => {
    assert.deepStrictEqual(normaliseChoice(first(LLAMA_NO_LOGPROBS), 'completions'), {
      ...base, index: 0, text: ', there was a', tokens: null, finish_reason: 'length', raw_finish_reason: 'length', text_coverage: null, shape: 'none',
    });
    assert.deepStrictEqual(normaliseChoice(first(LLAMA_CHAT_BYTES), 'chat'), {
      ...base, index: 0, text: '\ufffd\ufffd\ufffd', tokens: null, finish_reason: 'length', raw_finish_reason: 'length', text_coverage: null, shape: 'none',
    });
  });
});

describe('normaliseChoice: wander serve', () => {
  test('/v1/completions: the legacy lists, and Wander\'s own finish reason', () => {
    assert.deepStrictEqual(normaliseChoice(first(WANDER_COMPLETIONS), 'completions'), {
      ...base, index: 0, text: ', and the LORD',
      tokens: [
        tok(',', null, -1.6059686247240066, null, [alt(',', null, -1.6059686247240066), alt(' of', null, -2.2838713232408523), alt('.', null, -2.3268915716539382)]),
        tok(' and', null, -1.3609682069764126, null, [alt(' and', null, -1.3609682069764126), alt(' the', null, -3.26095876560068), alt(' he', null, -3.551788900946139)]),
        tok(' the', null, -2.3657382797467115, null, [alt(' the', null, -2.3657382797467115), alt(' a', null, -2.552723295615852), alt(' his', null, -3.2180541824566724)]),
        tok(' LORD', null, -2.5806441917437972, null, [alt(' LORD', null, -2.5806441917437972), alt(' land', null, -3.7374368324298324), alt(' people', null, -3.9872775688189925)]),
      ],
      finish_reason: 'length', raw_finish_reason: 'length', wander_finish_reason: 'max_tokens', text_coverage: 'exact', shape: 'openai-legacy',
    });
  });

  test('a stop string: the text is cut, the stop-completing token is still reported', () => {
    assert.deepStrictEqual(normaliseChoice(first(WANDER_STOP), 'completions'), {
      ...base, index: 0, text: ', and',
      tokens: [
        tok(',', null, -1.6059686247240066, null, [alt(',', null, -1.6059686247240066)]),
        tok(' and', null, -1.3609682069764126, null, [alt(' and', null, -1.3609682069764126)]),
        tok(' the', null, -2.3657382797467115, null, [alt(' the', null, -2.3657382797467115)]),
      ],
      finish_reason: 'stop', raw_finish_reason: 'stop', wander_finish_reason: 'stop_sequence', text_coverage: 'overrun', shape: 'openai-legacy',
    });
  });

  test('logprobs 0: every position has an empty object of alternatives', () => {
    const c = normaliseChoice(first(WANDER_TOP0), 'completions');
    assert.deepStrictEqual(c.tokens, [tok(',', null, -1.6059686247240066, null, []), tok(' and', null, -1.3609682069764126, null, []), tok(' the', null, -2.3657382797467115, null, [])]);
    assert.equal(topLogprobsTail(c.tokens![0]!.top), 1);
  });

  test('echo with n = 2: the text starts with the prompt, the tokens are the generated ones', () => {
    const choices = (JSON.parse(WANDER_ECHO) as { choices: unknown[] }).choices;
    const [a, b] = choices.map((c, i) => normaliseChoice(c, 'completions', `choices[${i}]`));
    assert.deepStrictEqual(a, {
      ...base, index: 0, text: 'And God said, Th',
      tokens: [
        tok(',', null, -1.0195678839381142, null, [alt(' unto', null, -0.7517303595240517), alt(',', null, -1.0195678839381142)]),
        tok(' Th', null, -3.56487902342149, null, [alt(' I', null, -3.102106177199566), alt(' and', null, -3.451651656020367)]),
      ],
      finish_reason: 'length', raw_finish_reason: 'length', wander_finish_reason: 'max_tokens', text_coverage: 'suffix', shape: 'openai-legacy',
    });
    assert.deepStrictEqual([b!.index, b!.text, b!.tokens!.map((t) => t.token), b!.text_coverage], [1, 'And God said unto him', [' unto', ' him'], 'suffix']);
  });

  test('/v1/chat/completions: the chat shape, bytes of each token\'s text (a byte token\'s are U+FFFD\'s)', () => {
    assert.deepStrictEqual(normaliseChoice(first(WANDER_CHAT), 'chat'), {
      ...base, index: 0, text: '\u0005vZ',
      tokens: [
        tok('\u0005', null, -3.3381850232606993, [5], [alt('\u0005', null, -3.3381850232606993), alt('ed', null, -3.737685154867755)]),
        tok('v', null, -3.6170050934174816, [118], [alt('v', null, -3.6170050934174816), alt('\ufffd', null, -3.741386158786134)]),
        tok('Z', null, -3.3172315473419207, [90], [alt('Z', null, -3.3172315473419207), alt('m', null, -3.700059306130983)]),
      ],
      finish_reason: 'length', raw_finish_reason: 'length', wander_finish_reason: 'max_tokens', text_coverage: 'exact', shape: 'openai-chat',
    });
  });
});

describe('normaliseChoice: vLLM', () => {
  test('return_token_ids: ids lined up with the tokens, the alternatives sorted best first', () => {
    assert.deepStrictEqual(normaliseChoice(VLLM_COMPLETIONS, 'completions'), {
      ...base, index: 0, text: ' Paris.',
      tokens: [
        tok(' Paris', 12366, -0.0123, null, [alt(' Paris', null, -0.0123), alt(' the', null, -4.9)]),
        tok('.', 13, -2.9, null, [alt(',', null, -0.4), alt('\n', null, -1.5), alt('.', null, -2.9)]),
      ],
      token_ids: [12366, 13], prompt_token_ids: [791, 6864, 315, 9822, 374],
      finish_reason: 'length', raw_finish_reason: 'length', text_coverage: 'exact', shape: 'vllm',
    });
  });

  test('echo: the prompt tokens come first, the first without a logprob; ids from prompt_token_ids + token_ids', () => {
    const c = normaliseChoice(VLLM_ECHO, 'completions');
    assert.deepStrictEqual(c.tokens!.map((t) => [t.token, t.token_id, t.logprob]), [
      ['The', 791, null], [' capital', 6864, -9.1], [' of', 315, -1.2], [' France', 9822, -0.3], [' is', 374, -0.9], [' Paris', 12366, -0.05],
    ]);
    assert.deepStrictEqual(c.tokens![0]!.top, []);
    assert.deepStrictEqual(c.tokens![1]!.top, [alt(' first', null, -3), alt(' capital', null, -9.1)]);
    assert.deepStrictEqual([c.token_ids, c.prompt_token_ids, c.shape], [[12366], [791, 6864, 315, 9822, 374], 'vllm']);
    assert.equal(c.text_coverage, 'mismatch'); // the logprobs spell the prompt too, the text (with return_token_ids) does not
  });

  test('return_tokens_as_token_ids: "token_id:N" placeholders give the ids; a stop token id is the stop reason', () => {
    assert.deepStrictEqual(normaliseChoice(VLLM_PLACEHOLDERS, 'completions'), {
      ...base, index: 0, text: ' Paris.',
      tokens: [
        tok('token_id:12366', 12366, -0.0123, null, [alt('token_id:12366', 12366, -0.0123)]),
        tok('token_id:13', 13, -0.2, null, [alt('token_id:13', 13, -0.2)]),
        tok('token_id:128009', 128009, -0.01, null, [alt('token_id:128009', 128009, -0.01)]),
      ],
      token_ids: [12366, 13, 128009], stop_reason: 128009,
      finish_reason: 'stop', raw_finish_reason: 'stop', text_coverage: null, shape: 'vllm',
    });
  });

  test('chat with placeholders: the placeholder\'s own bytes are dropped, -9999 is kept', () => {
    assert.deepStrictEqual(normaliseChoice(VLLM_CHAT, 'chat'), {
      ...base, index: 0, text: 'Paris',
      tokens: [tok('token_id:60704', 60704, -0.0002, null, [alt('token_id:60704', 60704, -0.0002), alt('token_id:791', 791, -9999)])],
      token_ids: [60704], finish_reason: 'length', raw_finish_reason: 'length', text_coverage: null, shape: 'vllm',
    });
  });
});

describe('normaliseChoice: Ollama, OpenAI, and other servers\' finish reasons', () => {
  test('Ollama: the chat shape on /v1/completions, without ids', () => {
    assert.deepStrictEqual(normaliseChoice(OLLAMA_COMPLETIONS, 'completions'), {
      ...base, index: 0, text: 'Hello!',
      tokens: [
        tok('Hello', null, -0.0541, [72, 101, 108, 108, 111], [alt('Hello', null, -0.0541), alt('Hi', null, -3.1)]),
        tok('!', null, -0.31, [33], [alt('!', null, -0.31), alt(',', null, -1.4)]),
      ],
      finish_reason: 'stop', raw_finish_reason: 'stop', text_coverage: 'exact', shape: 'openai-chat',
    });
  });

  test('Ollama: top_logprobs omitted, finish_reason null', () => {
    assert.deepStrictEqual(normaliseChoice(OLLAMA_CHAT, 'chat'), {
      ...base, index: 0, text: 'Hi', tokens: [tok('Hi', null, -0.25, [72, 105], [])],
      finish_reason: 'other', raw_finish_reason: null, text_coverage: 'exact', shape: 'openai-chat',
    });
  });

  test('OpenAI legacy: integer-like tokens are sorted back into place', () => {
    assert.deepStrictEqual(normaliseChoice(OPENAI_LEGACY, 'completions').tokens, [
      tok(' 1', null, -0.7, null, [alt(' 1', null, -0.7), alt('1', null, -1.6), alt('42', null, -2.5)]),
    ]);
  });

  test('OpenAI chat: null bytes; a refusal has no content logprobs', () => {
    assert.deepStrictEqual(normaliseChoice(OPENAI_CHAT, 'chat'), {
      ...base, index: 0, text: 'Hi', tokens: [tok('Hi', null, -0.31725305, null, [alt('Hi', null, -0.31725305), alt('Hello', null, -1.3190403)])],
      finish_reason: 'stop', raw_finish_reason: 'stop', text_coverage: 'exact', shape: 'openai-chat',
    });
    assert.deepStrictEqual(normaliseChoice(OPENAI_REFUSAL, 'chat'), {
      ...base, index: 0, text: '', tokens: null, finish_reason: 'stop', raw_finish_reason: 'stop', text_coverage: null, shape: 'openai-chat',
    });
  });

  test('finish reasons: TGI\'s eos_token and stop_sequence are stops; SGLang\'s matched_stop; anything else is other', () => {
    const f = (finish_reason: unknown, extra: object = {}) => {
      const c = normaliseChoice({ index: 0, text: '', finish_reason, ...extra }, 'completions');
      return [c.finish_reason, c.raw_finish_reason, c.stop_reason];
    };
    assert.deepStrictEqual(f('eos_token'), ['stop', 'eos_token', null]);
    assert.deepStrictEqual(f('stop_sequence'), ['stop', 'stop_sequence', null]);
    assert.deepStrictEqual(f('stop', { matched_stop: '\n\n' }), ['stop', 'stop', '\n\n']); // SGLang (python/sglang/srt/entrypoints/openai/protocol.py)
    assert.deepStrictEqual(f('abort'), ['other', 'abort', null]);
    assert.deepStrictEqual(f('tool_calls'), ['other', 'tool_calls', null]);
    assert.deepStrictEqual(f('content_filter'), ['other', 'content_filter', null]);
    assert.deepStrictEqual(f(undefined), ['other', null, null]);
    assert.deepStrictEqual(f(null), ['other', null, null]);
  });
});

describe('normaliseChoice: untrusted bodies', () => {
  const throws = (choice: unknown, endpoint: 'completions' | 'chat', message: string, path?: string) => {
    assert.throws(() => normaliseChoice(choice, endpoint, path), (e: unknown) => {
      assert.ok(e instanceof ResponseShapeError);
      assert.equal(e.message, message);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  };
  const legacy = (logprobs: unknown) => ({ index: 0, text: 'ab', finish_reason: 'length', logprobs });
  const chat = (content: unknown) => ({ index: 0, message: { role: 'assistant', content: 'ab' }, finish_reason: 'length', logprobs: { content } });

  test('the choice and its envelope', () => {
    throws(null, 'completions', 'choice must be an object, got null');
    throws([], 'completions', 'choice must be an object, got []');
    throws({ text: 'a' }, 'completions', 'choice.index is missing; expected a non-negative integer');
    throws({ index: '0', text: 'a' }, 'completions', 'choice.index must be a non-negative integer, got "0"');
    throws({ index: -1, text: 'a' }, 'completions', 'choice.index must be a non-negative integer, got -1', 'choice');
    throws({ index: 0 }, 'completions', 'choice.text is missing; expected a string');
    throws({ index: 0, text: 3 }, 'completions', 'choice.text must be a string, got 3');
    throws({ index: 0, message: { content: 'a' } }, 'completions', 'choice.text is missing; expected a string (this choice has a message: is it a /v1/chat/completions answer?)');
    throws({ index: 0, text: 'a' }, 'chat', 'choice.message is missing; expected an object (this choice has text: is it a /v1/completions answer?)');
    throws({ index: 0, delta: { content: 'a' } }, 'chat', 'choice.message is missing; expected an object (this choice has a delta: streaming chunks are not choices)');
    throws({ index: 0, message: { content: ['a'] } }, 'chat', 'choice.message.content must be a string, got ["a"]');
    throws({ index: 0, text: 'a', finish_reason: 5 }, 'completions', 'choice.finish_reason must be a string or null, got 5');
    throws({ index: 0, text: 'a', stop_reason: 1.5 }, 'completions', 'choice.stop_reason must be a stop string, a token id, or null, got 1.5');
    throws({ index: 0, text: 'a', wander_finish_reason: 1 }, 'completions', 'choice.wander_finish_reason must be a string or null, got 1');
    throws({ index: 0, text: 'a', token_ids: [1, -2] }, 'completions', 'choices[3].token_ids[1] must be a non-negative integer, got -2', 'choices[3]');
  });

  test('the legacy lists', () => {
    throws(legacy('x'), 'completions', 'choice.logprobs must be an object, got "x"');
    throws(legacy({}), 'completions', 'choice.logprobs must have tokens (the completions shape) or content (the chat shape), got {}');
    throws(legacy({ tokens: 'ab' }), 'completions', 'choice.logprobs.tokens must be a list of token strings, got "ab"');
    throws(legacy({ tokens: ['a', 'b'] }), 'completions', 'choice.logprobs.token_logprobs is missing; expected a list of numbers or nulls, one per token');
    throws(legacy({ tokens: ['a', 'b'], token_logprobs: [-1] }), 'completions', 'choice.logprobs.token_logprobs has 1 entries, but choice.logprobs.tokens has 2');
    throws(legacy({ tokens: ['a', 7], token_logprobs: [-1, -2] }), 'completions', 'choice.logprobs.tokens[1] must be a string, got 7');
    throws(legacy({ tokens: ['a', 'b'], token_logprobs: [-1, '-2'] }), 'completions', 'choice.logprobs.token_logprobs[1] must be a number or null, got "-2"');
    throws(legacy({ tokens: ['a', 'b'], token_logprobs: [-1, -2], top_logprobs: [{}] }), 'completions', 'choice.logprobs.top_logprobs has 1 entries, but choice.logprobs.tokens has 2');
    throws(legacy({ tokens: ['a', 'b'], token_logprobs: [-1, -2], top_logprobs: [{}, [-2]] }), 'completions', 'choice.logprobs.top_logprobs[1] must be an object { token: logprob } or null, got [-2]');
    throws(legacy({ tokens: ['a', 'b'], token_logprobs: [-1, -2], top_logprobs: [{}, { b: null }] }), 'completions', 'choice.logprobs.top_logprobs[1]["b"] must be a number, got null');
  });

  test('the chat entries', () => {
    throws(chat({ token: 'a' }), 'chat', 'choice.logprobs.content must be a list of { token, logprob, bytes, top_logprobs } or null, got {"token":"a"}');
    throws(chat([{ logprob: -1 }]), 'chat', 'choice.logprobs.content[0].token is missing; expected a string');
    throws(chat([{ token: 'a' }]), 'chat', 'choice.logprobs.content[0].logprob is missing; expected a finite number');
    throws(chat([{ token: 'a', logprob: -1 }, { token: 'b', logprob: -1, top_logprobs: [{ token: 'c', logprob: 'x' }] }]), 'chat', 'choice.logprobs.content[1].top_logprobs[0].logprob must be a finite number, got "x"');
    throws(chat([{ token: 'a', logprob: -1, top_logprobs: {} }]), 'chat', 'choice.logprobs.content[0].top_logprobs must be a list of { token, logprob, bytes }, got {}');
    throws(chat([{ token: 'a', logprob: -1, bytes: [97, 256] }]), 'chat', 'choice.logprobs.content[0].bytes[1] must be a byte (an integer from 0 to 255), got 256');
    throws(chat([{ token: 'a', logprob: -1, bytes: 'a' }]), 'chat', 'choice.logprobs.content[0].bytes must be a list of bytes (integers from 0 to 255) or null, got "a"');
    throws(chat([{ token: 'a', logprob: -1, id: 1.5 }]), 'chat', 'choice.logprobs.content[0].id must be a non-negative integer, got 1.5');
    throws(chat([{ token: 'a', prob: 1.5 }]), 'chat', 'choice.logprobs.content[0].prob must be a probability from 0 to 1, got 1.5');
    throws(chat([{ token: 'token_id:5', logprob: -1, id: 6 }]), 'chat', 'choice.logprobs.content[0].id is 6, but choice.logprobs.content[0].token names token id 5');
  });

  test('ids that disagree', () => {
    const c = { index: 0, text: 'a', token_ids: [9], logprobs: { tokens: ['token_id:8'], token_logprobs: [-1], top_logprobs: null } };
    throws(c, 'completions', 'choice.logprobs.tokens[0] names token id 8, but choice.token_ids[0] is 9');
  });

  test('the error names its path', () => {
    try {
      normaliseChoice({ index: 0, text: 1 }, 'completions', 'choices[2]');
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof ResponseShapeError);
      assert.equal(e.path, 'choices[2].text');
      assert.equal(e.name, 'ResponseShapeError');
    }
  });
});

describe('topLogprobsTail and tokenIdPlaceholder', () => {
  test('the mass the alternatives leave out', () => {
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
    close(topLogprobsTail([{ logprob: Math.log(0.5) }, { logprob: Math.log(0.25) }]), 0.25);
    close(topLogprobsTail([]), 1);
    close(topLogprobsTail([{ logprob: 0 }, { logprob: -1e-9 }]), 0); // rounding past 1 is clamped
    close(topLogprobsTail([{ logprob: -9999 }]), 1);
    // llama-server's first token above: 1 − (e^−0.0317… + e^−3.548… + e^−8.120…), by math.fsum.
    close(topLogprobsTail(normaliseChoice(first(LLAMA_COMPLETIONS), 'completions').tokens![0]!.top), 0.0021793592450375376);
  });

  test('vLLM\'s "token_id:N" and nothing else', () => {
    assert.deepStrictEqual(['token_id:0', 'token_id:128009', 'token_id:', 'token_id:1a', ' token_id:1', 'token_id:-1'].map(tokenIdPlaceholder), [0, 128009, null, null, null, null]);
  });
});
