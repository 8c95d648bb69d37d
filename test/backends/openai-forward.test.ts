import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OpenAIBackend, sampleSeed } from '../../src/backends/openai.js';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { existsSync } from 'node:fs';
import { needsShared, sharedModel, userError } from '../helpers.js';
import { LLAMA_SERVER, llamaServe, serve, stop, type Server } from '../server/process.js';

// The samplers some servers have (DRY, XTC, mirostat, dynamic temperature, smoothing, top-H, top-nσ)
// are forwarded to an OpenAI-compatible server under their llama-server names; `wander serve` applies
// them all, so what comes back is exactly what Wander's engine gives for the seed the request carried.

describe('the openai backend forwards the samplers servers share', () => {
  let server: Server;
  const model = loadModel(DEFAULT_MODEL);
  before(async () => { server = await serve(); });
  after(() => stop(server));

  test('DRY, XTC, dynamic temperature and top-nσ reach the server and act there', async () => {
    const backend = await OpenAIBackend.connect(`openai:${server.url}/v1`);
    const settings = { dry_multiplier: 2, dry_allowed_length: 1, xtc_probability: 0.7, xtc_threshold: 0.05, dynatemp_range: 0.5, top_n_sigma: 2, max_tokens: 24, seed: 9, n: 2 };
    const run = await backend.generate('And God said', settings);
    const local = (i: number) => generate(model, 'And God said', { ...settings, n: 1, seed: sampleSeed(9, i) }).samples[0]!.text;
    assert.deepEqual(run.samples.map((s) => s.text), [local(0), local(1)]);
    // Without them the server's text differs: they were applied, not dropped.
    const plain = await backend.generate('And God said', { max_tokens: 24, seed: 9, n: 2 });
    assert.notDeepEqual(plain.samples.map((s) => s.text), run.samples.map((s) => s.text));
  });

  test('mirostat and smoothing are forwarded too', async () => {
    const backend = await OpenAIBackend.connect(`openai:${server.url}/v1`);
    for (const settings of [{ mirostat: 2 as const, mirostat_tau: 3 }, { smoothing_factor: 0.5, smoothing_curve: 2 }, { top_h: 0.5 }]) {
      const run = await backend.generate('In the beginning', { ...settings, max_tokens: 16, seed: 4 });
      assert.equal(run.samples[0]!.text, generate(model, 'In the beginning', { ...settings, max_tokens: 16, seed: sampleSeed(4, 0) }).samples[0]!.text, JSON.stringify(settings));
    }
  });

  test('beam and contrastive search need a logit backend: refused by name before any request', async () => {
    const backend = await OpenAIBackend.connect(`openai:${server.url}/v1`);
    await assert.rejects(backend.generate('x', { num_beams: 4 }), userError('--num-beams (beam search) needs Wander\'s own engine (--model FILE): an OpenAI-compatible server samples for itself and returns only top logprobs, never every logit', 'num_beams'));
    await assert.rejects(backend.generate('x', { penalty_alpha: 0.6, top_k: 4 }), userError('--penalty-alpha (contrastive search) needs Wander\'s own engine (--model FILE): an OpenAI-compatible server samples for itself and returns only top logprobs, never every logit', 'penalty_alpha'));
  });
});

describe('the openai backend forwards DRY to llama.cpp\'s llama-server, which applies it as Wander does', () => {
  const file = sharedModel('stories260K.gguf');
  const skip = needsShared('stories260K.gguf').skip || (existsSync(LLAMA_SERVER) ? false : `${LLAMA_SERVER} not found (the shared llama.cpp tools are absent)`);
  let server: Server | undefined;
  before(async () => { if (!skip) server = await llamaServe(file!); });
  after(() => stop(server));

  test('DRY through llama-server gives Wander\'s DRY text, token for token (greedy, 120 tokens)', { skip }, async () => {
    const backend = await OpenAIBackend.connect(`openai:${server!.url}/v1`);
    const local = loadModel(file!);
    const prompts = ['Once upon a time', 'Tom and Lily', 'The dog'];
    const greedy = { temperature: 0, max_tokens: 120, seed: 1 };
    const plain = prompts.map((p) => generate(local, p, greedy).samples[0]!.text);
    for (const dry of [{ dry_multiplier: 5, dry_allowed_length: 1 }, { dry_multiplier: 0.8 }, { dry_multiplier: 2, dry_base: 1.5, dry_allowed_length: 3 }, { dry_multiplier: 1, dry_sequence_breakers: ['.'] }]) {
      const served = await Promise.all(prompts.map(async (p) => (await backend.generate(p, { ...greedy, ...dry })).samples[0]!.text));
      assert.deepEqual(served, prompts.map((p) => generate(local, p, { ...greedy, ...dry }).samples[0]!.text), JSON.stringify(dry));
      // DRY acted: the text is not plain greedy's (so the comparison above can fail).
      assert.notDeepEqual(served, plain, JSON.stringify(dry));
    }
  });

  test('a sampler llama-server does not list under /props is reported as ignored, with that evidence', { skip }, async () => {
    const backend = await OpenAIBackend.connect(`openai:${server!.url}/v1`);
    const props = await (await fetch(`${server!.url}/props`)).json() as { default_generation_settings: { params: Record<string, unknown> } };
    const known = new Set(Object.keys(props.default_generation_settings.params));
    const run = await backend.generate('Once upon a time', { max_tokens: 8, seed: 2, n: 2, dry_multiplier: 0.8, smoothing_factor: 0.5, top_h: 0.5, top_n_sigma: 1 });
    // smoothing (text-generation-webui's) and top-H (Hugging Face's) are no llama-server samplers; DRY is.
    const expected = ['smoothing_factor', 'top_h', 'top_n_sigma'].filter((k) => !known.has(k));
    assert.ok(known.has('dry_multiplier') && expected.includes('smoothing_factor') && expected.includes('top_h'));
    assert.deepEqual(run.ignored?.map((x) => [x.setting, x.samples]).sort(), expected.map((k) => [k, 2]).sort());
    assert.equal(run.ignored!.find((x) => x.setting === 'top_h')!.evidence,
      `sample 0: ${server!.url}/props lists no top_h among the server's sampling parameters (llama-server ignores fields it does not know)`);
    // Nothing is reported when nothing unknown was sent.
    assert.equal((await backend.generate('Once upon a time', { max_tokens: 8, seed: 2, dry_multiplier: 0.8 })).ignored, undefined);
  });

  test('penalties and DRY beside mirostat are reported as dropped by llama-server (which runs mirostat in place of its sampler list)', { skip }, async () => {
    const backend = await OpenAIBackend.connect(`openai:${server!.url}/v1`);
    const mirostat = { max_tokens: 60, seed: 3, mirostat: 2 as const, mirostat_tau: 0.5 };
    const run = await backend.generate('Once upon a time', { ...mirostat, repetition_penalty: 50, dry_multiplier: 5 });
    assert.deepEqual(run.ignored?.map((x) => x.setting).sort(), ['dry_multiplier', 'repetition_penalty']);
    assert.equal(run.ignored![0]!.evidence, `${server!.url}/props answers as llama-server, which runs mirostat in place of its sampler list (penalties and DRY included)`);
    // And so it does: the text is the one without them.
    assert.equal(run.samples[0]!.text, (await backend.generate('Once upon a time', mirostat)).samples[0]!.text);
  });
});
