// `npm run bench` (part 6): `wander serve` under load, beside llama.cpp's llama-server (-np 4) on the same
// GGUF file and thread count in the same run. autocannon holds 1, 4, 16 and 64 connections open on
// loopback, each POSTing /v1/completions (max_tokens 32, temperature 0.8, a new seed per request) for
// WANDER_BENCH_SECONDS (default 20) after a warm-up of WANDER_BENCH_WARMUP_SECONDS (default half that, at
// least 5); then a soak of WANDER_BENCH_SOAK_SECONDS (default 300) at 16 connections against wander
// serve alone, sampling its RSS. BENCH_THREADS sets both servers' threads. Not a test.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { DType } from '../src/formats/tensor-types.js';
import { defaultThreads } from '../src/cli/model-flags.js';
import { fixture, type FixtureSpec } from '../test/fixtures/models.js';
import { exited, launch, LLAMA_SERVER, startLlamaServer, stop, stopAll } from './processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env['WANDER_BENCH_SECONDS'] ?? 20);
const SOAK_SECONDS = Number(process.env['WANDER_BENCH_SOAK_SECONDS'] ?? 300);
const WARM = Number(process.env['WANDER_BENCH_WARMUP_SECONDS'] ?? Math.max(5, SECONDS / 2));
const THREADS = Number(process.env['BENCH_THREADS'] ?? defaultThreads());
const MAX_BATCH = Number(process.env['BENCH_MAX_BATCH'] ?? 16);
const CLIENTS = [1, 4, 16, 64];
const SOAK_CLIENTS = 16, RSS_EVERY_MS = 10_000, MAX_TOKENS = 32;
const PROMPT = 'Once upon a time, there was a little';
const GPT2_SMALL: FixtureSpec = { arch: 'gpt2', nLayer: 12, nEmbd: 768, nHead: 12, nHeadKv: 12, nFf: 3072, ctx: 1024, seed: 124, vocab: 50257 };
const STORIES = join(ROOT, '../shared/models/stories260K.gguf');
const show = (p: string) => relative(ROOT, p) || p;

// ---- servers --------------------------------------------------------------------------------------

interface Server { name: string; url: string; pid: number; child: ChildProcess; log: () => string }
const timeout = (ms: number, what: string) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not ready after ${ms / 1000} s`)), ms).unref());

async function startWander(model: string): Promise<Server> {
  const help = execFileSync(process.execPath, ['bin/wander.mjs', 'serve', '--help'], { cwd: ROOT, encoding: 'utf8' });
  const batch = help.includes('--max-batch-size') ? ['--max-batch-size', String(MAX_BATCH)] : [];
  const { child, log, onLine } = launch(process.execPath, ['bin/wander.mjs', 'serve', '--port', '0', '--model', model, '--threads', String(THREADS), ...batch]);
  const url = await Promise.race([
    new Promise<string>((resolve) => onLine((line) => {
      const m = /^wander serve: .* on (http:\/\/\S+) \(OpenAI-compatible/.exec(line);
      if (m) resolve(m[1]!);
    })),
    exited(child).then((why) => { throw new Error(`wander serve ${why}:\n${log()}`); }),
    timeout(180_000, 'wander serve'),
  ]);
  return { name: `wander serve${batch.length ? ` --max-batch-size ${MAX_BATCH}` : ''}`, url, pid: child.pid!, child, log };
}

async function startLlama(model: string): Promise<Server> {
  const { url, child, log } = await startLlamaServer(model, ['-c', '512', '-np', '4', '-t', String(THREADS), '-tb', String(THREADS), '-ctk', 'f32', '-ctv', 'f32']);
  return { name: 'llama-server -np 4', url, pid: child.pid!, child, log };
}

/** A POST on loopback with no client-side time limit (fetch gives up on headers after 300 s; a backlog can take longer). */
function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** One completion; throws unless it is a 200. Returns its latency in ms and its completion tokens. */
async function complete(s: Server, maxTokens: number): Promise<{ ms: number; tokens: number }> {
  const t0 = performance.now();
  const r = await post(`${s.url}/v1/completions`, { prompt: PROMPT, max_tokens: maxTokens, temperature: 0.8, seed: 1 });
  if (r.status !== 200) throw new Error(`${s.name}: POST /v1/completions → ${r.status}: ${r.text.slice(0, 300)}`);
  const usage = (JSON.parse(r.text) as { usage?: { completion_tokens?: number } }).usage;
  return { ms: performance.now() - t0, tokens: usage?.completion_tokens ?? 0 };
}

/**
 * Requests that autocannon abandoned when its time ran out may still be queued or running in the server
 * (a server need not cancel work when its client hangs up): wait until a one-token request comes back
 * about as fast as on an idle server (or within 2 s), so one level's backlog does not fall on the next.
 */
async function drain(s: Server, idleMs: number): Promise<void> {
  const until = performance.now() + 900_000;
  while (performance.now() < until) {
    const t0 = performance.now();
    const r = await post(`${s.url}/v1/completions`, { prompt: PROMPT, max_tokens: 1, temperature: 0.8, seed: 1 });
    if (r.status === 200 && performance.now() - t0 <= Math.max(2000, idleMs * 3 + 250)) return;
    if (r.status !== 200) await new Promise((resolve) => setTimeout(resolve, 1000)); // e.g. 503 while the queue is full
  }
  throw new Error(`${s.name}: still busy 15 minutes after the load stopped`);
}

// ---- load -----------------------------------------------------------------------------------------

interface Load { ok: number; tokens: number; seconds: number; p50: number; p99: number; e503: number; other: number }

/** Nearest-rank percentile of sorted values; 0 when there are none. */
const pct = (xs: number[], p: number) => (xs.length ? xs[Math.max(0, Math.ceil(p * xs.length) - 1)]! : 0);

let seed = 1000;
/**
 * `connections` clients, each sending its next request as soon as its last is answered, for `warm` +
 * `seconds` s. Only what completes in the last `seconds` is counted (responses, tokens, latencies, errors),
 * so that the ramp-up (every client's first request arriving at once) does not weigh on the figures.
 * Requests still in flight when the time is up are not counted.
 */
function load(s: Server, connections: number, seconds: number, warm: number): Promise<Load> {
  const r: Load = { ok: 0, tokens: 0, seconds, p50: 0, p99: 0, e503: 0, other: 0 };
  const latencies: number[] = [];
  let from = Infinity;
  const counting = () => performance.now() >= from;
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: s.url,
      connections,
      duration: warm + seconds,
      timeout: Math.max(600, 2 * (warm + seconds)), // a queued request is slow, not lost
      requests: [{
        method: 'POST', path: '/v1/completions', headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ prompt: PROMPT, max_tokens: MAX_TOKENS, temperature: 0.8, seed: seed++ }) }),
        onResponse: (status, body) => {
          if (!counting() || status < 200 || status >= 300) return;
          try { r.tokens += (JSON.parse(body) as { usage?: { completion_tokens?: number } }).usage?.completion_tokens ?? 0; } catch { /* a 200 without usage adds no tokens */ }
        },
      }],
    }, (err) => {
      if (err) return reject(err);
      latencies.sort((x, y) => x - y);
      r.p50 = pct(latencies, 0.5);
      r.p99 = pct(latencies, 0.99);
      resolve(r);
    });
    instance.on('start', () => { from = performance.now() + warm * 1000; });
    instance.on('response', (_client, status, _bytes, ms) => {
      if (!counting()) return;
      if (status >= 200 && status < 300) { r.ok++; latencies.push(ms); } else if (status === 503) r.e503++; else r.other++;
    });
    instance.on('reqError', () => { if (counting()) r.other++; }); // connection errors and timeouts
  });
}

function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch { return undefined; }
}

// ---- run ------------------------------------------------------------------------------------------

const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ms = (x: number) => (x ? x.toFixed(0) : '–');
const mb = (kb: number | undefined) => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(0)} MB`);

async function main(): Promise<void> {
  const gpt2 = fixture('gguf', GPT2_SMALL, DType.F32);
  let model = gpt2, modelName = 'GPT-2-small shape, F32 (124M)';
  let llama: Server | undefined;
  if (!existsSync(LLAMA_SERVER)) {
    console.log(`${show(LLAMA_SERVER)} not found: measuring wander serve alone`);
  } else {
    try {
      llama = await startLlama(gpt2);
    } catch (e) {
      console.log(`llama-server cannot load the GPT-2-small-shaped fixture (${show(gpt2)}): ${(e as Error).message.split('\n')[0]}`);
      console.log((e as Error).message.split('\n').slice(1).map((l) => `    ${l}`).join('\n'));
      if (existsSync(STORIES)) {
        model = STORIES; modelName = 'stories260K (F32)';
        try { llama = await startLlama(STORIES); } catch (e2) {
          console.log(`llama-server cannot load ${show(STORIES)} either (${(e2 as Error).message.split('\n')[0]}): measuring wander serve alone`);
          model = gpt2; modelName = 'GPT-2-small shape, F32 (124M)';
        }
      } else console.log(`${show(STORIES)} not found: measuring wander serve alone on the fixture`);
    }
  }
  const wander = await startWander(model);
  const servers = llama ? [wander, llama] : [wander];

  // Warm-up (first-request costs), then the idle latency of a one-token request, for drain().
  const idle = new Map<Server, number>();
  for (const s of servers) {
    await complete(s, MAX_TOKENS);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) times.push((await complete(s, 1)).ms);
    idle.set(s, Math.min(...times));
  }

  console.log(`\n${modelName}: ${show(model)}; ${servers.map((s) => s.name).join(' against ')}, ${THREADS} thread(s)${llama ? ' each' : ''}`);
  console.log(`autocannon on loopback: POST /v1/completions, max_tokens ${MAX_TOKENS}, temperature 0.8, a new seed per request; per level ${WARM} s of warm-up, then ${SECONDS} s measured:`);
  console.log('what completes in those seconds counts (tokens/s = the 200s\' usage.completion_tokens ÷ seconds; latency of the 200s only)\n');
  console.log(`| server | clients | req/s (200) | tokens/s | p50 ms | p99 ms | 503 | other errors |${llama ? ' Wander ÷ llama-server tokens/s |' : ''}`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${llama ? ' ---: |' : ''}`);
  const tps = new Map<string, number>();
  for (const clients of CLIENTS) {
    const got = new Map<Server, Load>();
    for (const s of servers) {
      got.set(s, await load(s, clients, SECONDS, WARM));
      await drain(s, idle.get(s)!);
    }
    for (const s of servers) {
      const r = got.get(s)!, t = r.tokens / r.seconds;
      tps.set(`${s.name}@${clients}`, t);
      const l = llama ? got.get(llama)!.tokens / got.get(llama)!.seconds : 0;
      const ratio = llama ? ` ${s === wander ? (t > 0 && l > 0 ? (t / l).toFixed(2) : 'n/a') : ''} |` : '';
      console.log(`| ${s.name} | ${clients} | ${f(r.ok / r.seconds)} | ${f(t)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.e503} | ${r.other} |${ratio}`);
    }
  }
  if ([...tps.values()].some((t) => t === 0)) console.log('\n–: no request completed within the measured seconds (each took longer, or failed)');
  const scale = (s: Server) => {
    const one = tps.get(`${s.name}@1`)!, sixteen = tps.get(`${s.name}@16`)!;
    return one > 0 ? `${(sixteen / one).toFixed(2)}×` : 'n/a';
  };
  console.log(`\nwander serve: aggregate tokens/s at 16 clients ÷ at 1 client: ${scale(wander)} (target ≥ 1.8×)`);
  if (llama) console.log(`llama-server -np 4: aggregate tokens/s at 16 clients ÷ at 1 client: ${scale(llama)}`);
  if (llama) await stop(llama.child);

  if (SOAK_SECONDS > 0) {
    const samples: number[] = [];
    const sample = () => { const kb = rssKb(wander.pid); if (kb !== undefined) samples.push(kb); };
    sample();
    const timer = setInterval(sample, RSS_EVERY_MS);
    let r: Load;
    try { r = await load(wander, SOAK_CLIENTS, SOAK_SECONDS, 0); } finally { clearInterval(timer); }
    sample();
    console.log(`\nSoak: ${SOAK_SECONDS} s at ${SOAK_CLIENTS} clients against wander serve, RSS of the server process every ${RSS_EVERY_MS / 1000} s (${samples.length} samples)\n`);
    console.log('| duration s | req/s (200) | tokens/s | p50 ms | p99 ms | 503 | other errors | RSS start | RSS end | RSS max |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(`| ${r.seconds.toFixed(0)} | ${f(r.ok / r.seconds)} | ${f(r.tokens / r.seconds)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.e503} | ${r.other} | ${mb(samples[0])} | ${mb(samples.at(-1))} | ${mb(samples.length ? Math.max(...samples) : undefined)} |`);
  }
}

try {
  await main();
} catch (e) {
  console.error(`server bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
process.exit(process.exitCode ?? 0);
