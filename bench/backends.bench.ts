// `npm run bench` (part 7): what Wander adds on top of the engines it drives. Not a test.
//
// 1. llama.cpp in-process: a GPT-2-small-shaped random fixture (GGUF, F32) through Wander's
//    `LlamaCppModel.generate` (llama.cpp computes each step's distribution, Wander's own sampling
//    chain picks every token), beside node-llama-cpp's own generation loop (`sequence.evaluate`,
//    llama.cpp's native sampler) on the same file, the same threads and the same context options
//    (F32 KV cache, no flash attention). 64 new tokens from a short prompt, never stopping early
//    (Wander: min_new_tokens 64; node-llama-cpp: EOS yielded and fed back), greedy and T 0.8 · top_p
//    0.95, one sample and four in parallel sequences. Loading is excluded; each timed run includes
//    its context's creation and disposal, as a `wander generate` call does. A third loop asks
//    node-llama-cpp for what Wander's backend asks of it (every step's full distribution, no chain),
//    to split Wander's cost into node-llama-cpp's hand-over of the distribution and Wander's own
//    chain. Aim: Wander ÷ node-llama-cpp ≥ 0.85 (its chain in the loop costs at most 15 %).
// 2. A sweep over an OpenAI-compatible server: llama.cpp's llama-server (-np 4, F32 KV cache) on
//    stories260K (or the fixture, WANDER_BENCH_SERVER_MODEL=fixture), a `runSweep` of 2 prompts × 16
//    samples (max_tokens 32, temperature 0.8) with `openai:` as its model, at concurrency 1 and 4,
//    beside a plain fetch client sending the very request bodies Wander sends (same seeds, logprobs 1)
//    with as many requests in flight — its places freed only once the body is read, as Wander's slots
//    are, and (for reference) when a response's headers arrive. The sweep's time includes its connect
//    (GET /models), its logprob-limit probe and storing every sample in SQLite (a fresh temporary
//    database per run). Aim: Wander ÷ plain client near 1. llama-server gets BENCH_SERVER_THREADS
//    (default: BENCH_THREADS, at most cores − 1, since the client shares the machine) and
//    --threads-http BENCH_SERVER_HTTP_THREADS (default 16; "default" for llama-server's own).
//
// Every figure is the median of WANDER_BENCH_REPEATS (default 5) timed runs after a warm-up, with the
// min–max spread; the sides take turns run by run, so a load change on the machine falls on all of them.
// BENCH_THREADS sets the threads in process (default 2); WANDER_BENCH_ONLY=1 or 2 runs one part.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LlamaModel, Token } from 'node-llama-cpp';
import { LlamaCppModel } from '../src/backends/llama-cpp.js';
import { sampleSeed } from '../src/backends/openai.js';
import { parseExperiment } from '../src/experiments/spec.js';
import { ResultsStore } from '../src/experiments/store.js';
import { runSweep } from '../src/experiments/sweep.js';
import { DEFAULTS, type SettingsInput } from '../src/generate/settings.js';
import { DType } from '../src/formats/tensor-types.js';
import { fixture, type FixtureSpec } from '../test/fixtures/models.js';
import { LLAMA_SERVER, startLlamaServer, stop, stopAll } from './processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPEATS = Math.max(1, Number(process.env['WANDER_BENCH_REPEATS'] ?? 5));
const THREADS = Math.max(1, Number(process.env['BENCH_THREADS'] ?? 2));
// llama-server shares the machine with the client measured against it: with a thread on every core,
// llama.cpp's spinning thread pool stalls for seconds whenever the client takes a core (seen on 2 cores).
const SERVER_THREADS = Math.max(1, Number(process.env['BENCH_SERVER_THREADS'] ?? Math.max(1, Math.min(THREADS, availableParallelism() - 1))));
// llama-server's HTTP pool defaults to max(-np + 2, cores − 1) threads, and an idle keep-alive connection
// holds one: a client with more connections open than that (fetch keeps them after use) waits seconds
// for one to time out. 16 keeps that out of the comparison; "default" leaves llama-server's own.
const SERVER_HTTP_THREADS = process.env['BENCH_SERVER_HTTP_THREADS'] ?? '16';
const SERVER_MODEL = process.env['WANDER_BENCH_SERVER_MODEL'] ?? 'stories';
/** "1" or "2": run only that part. */
const ONLY = process.env['WANDER_BENCH_ONLY'];
const GPT2_SMALL: FixtureSpec = { arch: 'gpt2', nLayer: 12, nEmbd: 768, nHead: 12, nHeadKv: 12, nFf: 3072, ctx: 1024, seed: 124, vocab: 50257 };
const STORIES = join(ROOT, '../shared/models/stories260K.gguf');
const NODE_LLAMA_CPP = join(ROOT, 'node_modules/node-llama-cpp');
const PROMPT = 'Once upon a time, there was a little';
const GEN_TOKENS = 64;
const SWEEP = { prompts: [PROMPT, 'The cat sat on the'], samples: 16, maxTokens: 32, temperature: 0.8, seed: 1, inFlight: [1, 4] };
const show = (p: string) => relative(ROOT, p) || p;

// ---- figures --------------------------------------------------------------------------------------

interface Spread { med: number; min: number; max: number }
function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { med: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, min: s[0]!, max: s.at(-1)! };
}
const num = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmt = (s: Spread) => `${num(s.med)} (${num(s.min)}–${num(s.max)})`;
const ratio = (a: Spread, b: Spread) => (b.med > 0 ? (a.med / b.med).toFixed(2) : 'n/a');

// ---- processes ------------------------------------------------------------------------------------

/** llama-server with 4 slots and an F32 KV cache on loopback; resolves once /health says ok. */
function startLlama(model: string): Promise<{ url: string; child: ChildProcess }> {
  return startLlamaServer(model, ['-c', '2048', '-np', '4', '-t', String(SERVER_THREADS), '-tb', String(SERVER_THREADS), '-ctk', 'f32', '-ctv', 'f32',
    ...(SERVER_HTTP_THREADS === 'default' ? [] : ['--threads-http', SERVER_HTTP_THREADS])]);
}

// ---- 1. llama.cpp in-process ------------------------------------------------------------------------

interface GenTiming { ms: number; tokens: number; decodeMsPerToken?: number }

/** Wander: `LlamaCppModel.generate`, timed from the call to its return; decode from the prompt's end to the sample's end. */
async function wanderRun(model: LlamaCppModel, settings: SettingsInput, n: number): Promise<GenTiming> {
  let promptAt = 0, endAt = 0;
  const t0 = performance.now();
  const run = await model.generate(PROMPT, { ...settings, n, max_tokens: GEN_TOKENS, min_new_tokens: GEN_TOKENS, seed: 1 }, {
    onPrompt: () => { promptAt = performance.now(); },
    onSample: () => { endAt = Math.max(endAt, performance.now()); },
  });
  const ms = performance.now() - t0;
  const tokens = run.usage.completion_tokens;
  if (tokens !== n * GEN_TOKENS) throw new Error(`Wander generated ${tokens} tokens, expected ${n * GEN_TOKENS}`);
  // 64 tokens chosen after the prompt pass: 63 decode steps (the last token is not evaluated).
  return { ms, tokens, ...(n === 1 ? { decodeMsPerToken: (endAt - promptAt) / (GEN_TOKENS - 1) } : {}) };
}

/**
 * node-llama-cpp's own loop: the context Wander creates (same size, sequences, threads, KV types, no
 * flash attention), one `sequence.evaluate` per sample with llama.cpp's sampler, EOS yielded and fed
 * back like any token, stopped after 64 tokens; decode from the first yielded token to the last.
 * With `probabilities`, the loop asks node-llama-cpp for what Wander's backend asks: each step's full
 * distribution (`evaluateWithMetadata(…, { probabilities: true }, { temperature: 0 })`), the tokens
 * then picked by llama.cpp's greedy sampler rather than a chain: the part of Wander's cost that is
 * node-llama-cpp's, handing every step's distribution to JavaScript.
 */
async function nativeRun(model: LlamaModel, ids: readonly number[], sampling: { temperature: number; topP?: number }, n: number, probabilities: boolean): Promise<GenTiming> {
  const t0 = performance.now();
  const ctx = await model.createContext({
    contextSize: Math.min(model.trainContextSize, ids.length + GEN_TOKENS + 1), sequences: n, threads: THREADS,
    flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  } as never);
  let tokens = 0, firstAt = 0, lastAt = 0;
  try {
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const seq = ctx.getSequence();
      // With probabilities, exactly what Wander's backend asks of node-llama-cpp (its own sampler greedy, unused).
      const options = probabilities ? { temperature: 0, yieldEogToken: true } : { ...sampling, ...(sampling.temperature > 0 ? { seed: 1 + i } : {}), yieldEogToken: true };
      try {
        let k = 0;
        const steps = probabilities ? seq.evaluateWithMetadata(ids as Token[], { probabilities: true }, options) : seq.evaluate(ids as Token[], options);
        for await (const step of steps) {
          if (k === 0) firstAt = performance.now();
          if (probabilities && !(step as { probabilities?: Map<Token, number> }).probabilities?.size) throw new Error('node-llama-cpp returned no distribution');
          if (++k >= GEN_TOKENS) break;
        }
        lastAt = performance.now();
        tokens += k;
      } finally {
        seq.dispose();
      }
    }));
  } finally {
    await ctx.dispose();
  }
  const ms = performance.now() - t0;
  if (tokens !== n * GEN_TOKENS) throw new Error(`node-llama-cpp generated ${tokens} tokens, expected ${n * GEN_TOKENS}`);
  return { ms, tokens, ...(n === 1 ? { decodeMsPerToken: (lastAt - firstAt) / (GEN_TOKENS - 1) } : {}) };
}

async function backendOverhead(): Promise<void> {
  if (!existsSync(NODE_LLAMA_CPP)) {
    console.log(`\n1. llama.cpp backend overhead: skipped, ${show(NODE_LLAMA_CPP)} not found (npm ci installs the optional dependency node-llama-cpp)`);
    return;
  }
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  let llama;
  try {
    llama = await getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, logLevel: LlamaLogLevel.error });
  } catch (e) {
    console.log(`\n1. llama.cpp backend overhead: skipped, node-llama-cpp's native binary did not load (${(e as Error).message.split('\n')[0]})`);
    return;
  }
  // The F32 fixture first; Q8_0 of the same weights if llama.cpp refuses it.
  let path = '', label = '', wander: LlamaCppModel | undefined;
  for (const [dtype, name] of [[DType.F32, 'F32'], [DType.Q8_0, 'Q8_0']] as const) {
    path = fixture('gguf', GPT2_SMALL, dtype);
    try {
      wander = await LlamaCppModel.open(`llama.cpp:${path}`, { threads: THREADS });
      label = name;
      break;
    } catch (e) {
      console.log(`llama.cpp cannot load the GPT-2-small-shaped ${name} fixture (${show(path)}): ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (!wander) {
    console.log('\n1. llama.cpp backend overhead: skipped, no fixture loads in llama.cpp');
    return;
  }
  let native: LlamaModel | undefined;
  try {
    native = await llama.loadModel({ modelPath: path });
    const ids = wander.tokenizer.encode(PROMPT);
    const rows = [
      { name: 'greedy', wander: { temperature: 0 }, native: { temperature: 0 }, n: 1 },
      { name: 'T 0.8 · top_p 0.95', wander: { temperature: 0.8, top_p: 0.95 }, native: { temperature: 0.8, topP: 0.95 }, n: 1 },
      { name: 'greedy', wander: { temperature: 0 }, native: { temperature: 0 }, n: 4 },
      { name: 'T 0.8 · top_p 0.95', wander: { temperature: 0.8, top_p: 0.95 }, native: { temperature: 0.8, topP: 0.95 }, n: 4 },
    ];
    console.log(`\n1. llama.cpp backend overhead: GPT-2-small shape (124M, ${label}, random weights), ${show(path)}; llama.cpp ${llama.llamaCppRelease.release} (${llama.buildType}), ${THREADS} thread(s)`);
    console.log(`${GEN_TOKENS} new tokens after a ${ids.length}-token prompt per sample; median (min–max) of ${REPEATS} runs after one warm-up, the three loops taking turns`);
    console.log('Wander: LlamaCppModel.generate (its chain picks every token); node-llama-cpp: sequence.evaluate (llama.cpp\'s sampler, the same setting);');
    console.log('+ probabilities: node-llama-cpp asked what Wander asks of it (every step\'s full distribution, its own sampler greedy), no chain');
    console.log('tokens/s: all samples\' tokens ÷ the whole call (context creation, prompt, decoding, disposal)\n');
    console.log('| sampling | samples | Wander tokens/s | node-llama-cpp tokens/s | node-llama-cpp + probabilities tokens/s | Wander ÷ node-llama-cpp | Wander ÷ (node-llama-cpp + probabilities) |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    const verdicts: string[] = [], decode: string[] = [];
    for (const row of rows) {
      const runs = [
        () => wanderRun(wander, row.wander, row.n),
        () => nativeRun(native!, ids, row.native, row.n, false),
        () => nativeRun(native!, ids, row.native, row.n, true),
      ];
      const got: GenTiming[][] = runs.map(() => []);
      for (const f of runs) await f(); // warm-up
      for (let r = 0; r < REPEATS; r++) for (const [i, f] of runs.entries()) got[i]!.push(await f());
      const [w, c, p] = got.map((xs) => spread(xs.map((x) => (x.tokens / x.ms) * 1000))) as [Spread, Spread, Spread];
      console.log(`| ${row.name} | ${row.n} | ${fmt(w)} | ${fmt(c)} | ${fmt(p)} | ${ratio(w, c)} | ${ratio(w, p)} |`);
      if (row.n === 1) {
        const q = w.med / c.med;
        verdicts.push(`${row.name} ${q.toFixed(2)} ${q >= 0.85 ? '(met)' : '(not met)'}`);
        const [wd, cd, pd] = got.map((xs) => spread(xs.map((x) => x.decodeMsPerToken!))) as [Spread, Spread, Spread];
        decode.push(`| ${row.name} | ${fmt(wd)} | ${fmt(cd)} | ${fmt(pd)} | ${num(pd.med - cd.med)} | ${num(wd.med - pd.med)} |`);
      }
    }
    console.log(`\nAim: Wander's chain in the loop costs ≤ 15 % (Wander ÷ node-llama-cpp tokens/s ≥ 0.85, 1 sample): ${verdicts.join('; ')}`);
    console.log(`\nDecode steps alone, 1 sample: ms per token (${GEN_TOKENS - 1} steps after the prompt pass), median (min–max); the last two columns are differences of medians\n`);
    console.log('| sampling | Wander | node-llama-cpp | node-llama-cpp + probabilities | probabilities handed to JS | the rest of Wander (its chain, log p) |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const line of decode) console.log(line);
  } finally {
    await native?.dispose();
    await wander.close();
  }
}

// ---- 2. sweep over an OpenAI-compatible server ----------------------------------------------------

interface LoadTiming { ms: number; samples: number; tokens: number }

/** Wander: `runSweep` into a fresh database, `concurrency` requests in flight. */
async function sweepRun(url: string, concurrency: number, dir: string, run: number): Promise<LoadTiming> {
  const spec = parseExperiment([
    'name: backends-bench',
    `models: [${JSON.stringify(`openai:${url}/v1`)}]`,
    `prompts: [${SWEEP.prompts.map((p) => JSON.stringify(p)).join(', ')}]`,
    `presets: { warm: { temperature: ${SWEEP.temperature} } }`,
    `samples: ${SWEEP.samples}`,
    `seed: ${SWEEP.seed}`,
    `max_tokens: ${SWEEP.maxTokens}`,
  ].join('\n'));
  const store = ResultsStore.open(join(dir, `sweep-${concurrency}-${run}.sqlite`));
  try {
    const t0 = performance.now();
    const r = await runSweep(spec, store, { concurrency, retries: 0 });
    const ms = performance.now() - t0;
    if (r.errors > 0 || r.generated !== SWEEP.prompts.length * SWEEP.samples) throw new Error(`the sweep generated ${r.generated} samples, ${r.errors} of them errors`);
    return { ms, samples: r.generated, tokens: r.tokens };
  } finally {
    store.close();
  }
}

/**
 * A plain client: the requests the sweep sends (the body of OpenAIBackend's sample request: every
 * setting explicit, seed sampleSeed(seed, i), logprobs 1), through fetch, `inFlight` at a time, in
 * order. `freeAt` says when a request gives its place to the next: when its response's headers
 * arrive or once its whole body is read (as Wander's endpoint slots are freed).
 */
async function plainRun(url: string, model: string, inFlight: number, freeAt: 'headers' | 'body'): Promise<LoadTiming> {
  const jobs = SWEEP.prompts.flatMap((prompt) => Array.from({ length: SWEEP.samples }, (_, i) => ({ prompt, i })));
  let samples = 0, tokens = 0, free = inFlight;
  const waiting: (() => void)[] = [];
  const acquire = () => (free > 0 ? (free--, Promise.resolve()) : new Promise<void>((resolve) => waiting.push(resolve)));
  const release = () => { const next = waiting.shift(); if (next) next(); else free++; };
  const t0 = performance.now();
  await Promise.all(jobs.map(async (job) => {
    const body = {
      model, prompt: job.prompt, n: 1, max_tokens: SWEEP.maxTokens, seed: sampleSeed(SWEEP.seed, job.i),
      temperature: SWEEP.temperature, top_p: DEFAULTS.top_p, top_k: DEFAULTS.top_k, min_p: DEFAULTS.min_p, typical_p: DEFAULTS.typical_p,
      repetition_penalty: DEFAULTS.repetition_penalty, frequency_penalty: DEFAULTS.frequency_penalty, presence_penalty: DEFAULTS.presence_penalty,
      logprobs: 1,
    };
    await acquire();
    let held = true;
    try {
      const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (freeAt === 'headers') { held = false; release(); }
      const json = (await res.json()) as { usage?: { completion_tokens?: number }; error?: { message?: string } };
      if (!res.ok) throw new Error(`plain client: POST /v1/completions → ${res.status}: ${json.error?.message ?? ''}`);
      samples++;
      tokens += json.usage?.completion_tokens ?? 0;
    } finally {
      if (held) release();
    }
  }));
  return { ms: performance.now() - t0, samples, tokens };
}

async function sweepThroughput(): Promise<void> {
  if (!existsSync(LLAMA_SERVER)) {
    console.log(`\n2. Sweep over an OpenAI-compatible server: skipped, ${show(LLAMA_SERVER)} not found`);
    return;
  }
  let model = STORIES, modelName = 'stories260K (F32)';
  if (SERVER_MODEL === 'fixture' || !existsSync(STORIES)) {
    if (SERVER_MODEL !== 'fixture') console.log(`${show(STORIES)} not found: the sweep runs on the GPT-2-small-shaped fixture`);
    model = fixture('gguf', GPT2_SMALL, DType.F32);
    modelName = 'GPT-2-small shape, F32 (124M)';
  }
  const dir = mkdtempSync(join(tmpdir(), 'wander-bench-backends-'));
  let server: ChildProcess | undefined;
  try {
    const started = await startLlama(model);
    server = started.child;
    const { url } = started;
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data?: { id?: string }[] };
    const id = models.data?.[0]?.id;
    if (!id) throw new Error(`${url}/v1/models names no model`);

    const total = SWEEP.prompts.length * SWEEP.samples;
    console.log(`\n2. Sweep over an OpenAI-compatible server: llama-server -np 4 -c 2048 (F32 KV cache, ${SERVER_THREADS} thread(s), ${SERVER_HTTP_THREADS === 'default' ? 'its default HTTP threads' : `--threads-http ${SERVER_HTTP_THREADS}`}) on ${modelName}, ${show(model)}`);
    console.log(`${SWEEP.prompts.length} prompts × ${SWEEP.samples} samples = ${total} requests per run, max_tokens ${SWEEP.maxTokens}, temperature ${SWEEP.temperature}, logprobs 1; median (min–max) of ${REPEATS} runs after one warm-up, the clients taking turns`);
    console.log('Wander: runSweep (connect, logprob probe, one request per sample, each stored in a fresh SQLite database);');
    console.log('plain: fetch with the same request bodies, a request\'s place in flight freed when its response\'s headers arrive, or only once its body is read (as Wander\'s slots are)\n');
    console.log('| client | in flight | samples/s | tokens/s | tokens per run | Wander ÷ this client, samples/s | Wander ÷ this client, tokens/s |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    const clients: { name: string; run: (inFlight: number, r: number) => Promise<LoadTiming> }[] = [
      { name: 'Wander sweep', run: (inFlight, r) => sweepRun(url, inFlight, dir, r) },
      { name: 'plain, freed at headers', run: (inFlight) => plainRun(url, id, inFlight, 'headers') },
      { name: 'plain, freed after body', run: (inFlight) => plainRun(url, id, inFlight, 'body') },
    ];
    let run = 0;
    for (const inFlight of SWEEP.inFlight) {
      const got: LoadTiming[][] = clients.map(() => []);
      for (const c of clients) await c.run(inFlight, run++); // warm-up
      for (let r = 0; r < REPEATS; r++) for (const [i, c] of clients.entries()) got[i]!.push(await c.run(inFlight, run++));
      const per = (xs: LoadTiming[], f: (x: LoadTiming) => number) => spread(xs.map((x) => (f(x) / x.ms) * 1000));
      const sps = got.map((xs) => per(xs, (x) => x.samples)), tps = got.map((xs) => per(xs, (x) => x.tokens));
      for (const [i, c] of clients.entries()) {
        const vs = i === 0 ? '| – | – |' : `| ${ratio(sps[0]!, sps[i]!)} | ${ratio(tps[0]!, tps[i]!)} |`;
        console.log(`| ${c.name} | ${inFlight} | ${fmt(sps[i]!)} | ${fmt(tps[i]!)} | ${fmt(spread(got[i]!.map((x) => x.tokens)))} ${vs}`);
      }
    }
    console.log('\nAim: Wander adds little on top of the server (Wander ÷ plain near 1, against the plain client whose places are freed as Wander\'s are).');
    console.log('Freed after body: llama-server sends a response\'s headers and body in separate writes (Nagle on), so a client that waits for the body before sending again');
    console.log('can wait on a delayed ACK (~40 ms on Linux) per request; one that sends its next request on the headers does not.');
  } finally {
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- run ------------------------------------------------------------------------------------------

try {
  if (ONLY !== '2') await backendOverhead();
  if (ONLY !== '1') await sweepThroughput();
} catch (e) {
  console.error(`backends bench failed: ${(e as Error).stack ?? (e as Error).message}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
process.exit(process.exitCode ?? 0);
