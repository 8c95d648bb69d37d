// `npm run bench` (part 1): Wander's forward pass against the native llama.cpp programs on the same GGUF
// files and thread counts. Every measurement, Wander's and llama.cpp's, runs in BENCH_PROCESSES fresh
// processes (default 5), taking turns, and is shown as min / median / max over them, so a process that
// runs slower than its siblings shows; ratios use the medians. Not a test.
//
//   BENCH_ONLY=a,b       only the rows whose names contain a or b (e.g. "Q8_0", "Llama", "16 sequences")
//   BENCH_PROCESSES=n    fresh processes per measurement (default 5)
//   BENCH_RUNS=n         measured passes inside each Wander process after its warm-up (default 1; it reports the median)
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DType } from '../src/formats/tensor-types.js';
import { fixture, type FixtureSpec } from '../test/fixtures/models.js';
import { llamaBatched, llamaBench, VARIANTS, WrongLibrary, type Variant } from './native.js';
import { capture } from './processes.js';
import { simdPeak, type SimdPeak } from './simd-peak.js';

const PROMPT = 128, GEN = 32, SEQUENCES = 16, BATCH_GEN = 64, THREADS = [1, 2];
const PROCESSES = Number(process.env['BENCH_PROCESSES'] ?? 5), RUNS = Number(process.env['BENCH_RUNS'] ?? 1);
const WORKER = fileURLToPath(new URL('forward-worker.ts', import.meta.url));
const STORIES = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));

// ---------------------------------------------------------------- the models

const GPT2_SMALL: FixtureSpec = { arch: 'gpt2', nLayer: 12, nEmbd: 768, nHead: 12, nHeadKv: 12, nFf: 3072, ctx: 1024, seed: 124, vocab: 50257 };
// stories110M's shape (llama2.c), with an untied LM head as the Llama fixtures have: 134M weights.
const LLAMA_110M: FixtureSpec = { arch: 'llama', nLayer: 12, nEmbd: 768, nHead: 12, nHeadKv: 12, nFf: 2048, ctx: 1024, seed: 110, vocab: 32000 };
// gemma3-4b's width (2560, 8 query and 4 KV heads of 256, feed-forward 10240), with 2 and 4 layers: the
// difference is the cost of one layer (the vocabulary is cut to 16k so the LM head stays small). Written
// as Gemma (1), whose layer has the same matrices (Q, K, V, O; GeGLU's gate, up, down; 256-wide heads)
// without Gemma 3's Q/K and post-norms: the llama.cpp build here (4748) predates Gemma 3, and its Gemma 2
// graph stops on a layer count that is not one of Gemma 2's sizes.
const GEMMA3_WIDE = (nLayer: number): FixtureSpec => ({ arch: 'gemma', nLayer, nEmbd: 2560, nHead: 8, nHeadKv: 4, headDim: 256, nFf: 10240, ctx: 4096, seed: 125, vocab: 16384 });

interface Model { name: string; type: string; path: () => string; batched?: boolean }
const gpt2 = (type: string, dt: DType, batched = false): Model => ({ name: `GPT-2-small shape, ${type} (124M)`, type, path: () => fixture('gguf', GPT2_SMALL, dt), batched });
const llama = (type: string, dt: DType): Model => ({ name: `Llama-110M shape, ${type}`, type, path: () => fixture('gguf', LLAMA_110M, dt) });
const gemma = (layers: number): Model => ({ name: `Gemma-3 shape 2560 wide, ${layers} layers, Q4_K (as gemma)`, type: 'Q4_K', path: () => fixture('gguf', GEMMA3_WIDE(layers), DType.Q4_K) });
// Fixtures are written on first use (build/fixtures/), only for the rows asked for.
const MODELS: Model[] = [
  gpt2('F32', DType.F32, true), llama('F32', DType.F32),
  ...(existsSync(STORIES) ? [{ name: 'stories260K (F32)', type: 'F32', path: () => STORIES }] : []),
  gpt2('Q8_0', DType.Q8_0, true), llama('Q8_0', DType.Q8_0),
  gpt2('Q4_K', DType.Q4_K), gpt2('Q5_K', DType.Q5_K), gpt2('Q6_K', DType.Q6_K), gpt2('IQ4_XS', DType.IQ4_XS),
  gemma(2), gemma(4),
];
const batchedName = (m: Model) => `${m.name}, ${SEQUENCES} sequences`;
const only = process.env['BENCH_ONLY']?.split(',');
const wanted = (name: string) => !only || only.some((o) => name.includes(o));

// ---------------------------------------------------------------- spreads and tables

interface Spread { min: number; median: number; max: number; all: number[] }
/** Over the runs that gave a figure (a failed llama.cpp run is NaN, and listed at the end). */
function spread(xs: number[]): Spread {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b), n = s.length;
  if (!n) return { min: NaN, median: NaN, max: NaN, all: xs };
  return { min: s[0]!, median: (s[(n - 1) >> 1]! + s[n >> 1]!) / 2, max: s[n - 1]!, all: xs };
}
const num = (x: number) => (Number.isNaN(x) ? 'failed' : x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2));
const cell = (s: Spread) => `${num(s.min)} / ${num(s.median)} / ${num(s.max)}`;
const ratio = (a: number, b: number) => (Number.isNaN(a / b) ? '—' : (a / b).toFixed(2));
const threadsLabel = (t: number) => `${t} thread${t > 1 ? 's' : ''}`;
/** The machine's 1-minute load average when a row ends: above the core count, other work shared the cores. */
const load = () => loadavg()[0]!.toFixed(1);

/** Prints a Markdown table's header now and returns the function that prints one row. */
function table(title: string, columns: string[]): (cells: (string | number)[]) => void {
  console.log(`\n${title}\n\n| ${columns.join(' | ')} |\n| ${columns.map(() => '---').join(' | ')} |`);
  return (cells) => console.log(`| ${cells.map((c) => (typeof c === 'number' ? num(c) : c)).join(' | ')} |`);
}

// ---------------------------------------------------------------- measuring

/** One Wander measurement in a fresh process (bench/forward-worker.ts): its JSON line. */
async function wander<T>(args: (string | number)[]): Promise<T> {
  const { stdout } = await capture(process.execPath, ['--import', 'tsx', WORKER, ...args.map(String)]);
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

const failures = new Set<string>();
/** A llama.cpp run; a failure (a type this build cannot run, a timeout) becomes NaN and a note at the end, but a wrong CPU library stops the bench. */
async function native<T>(what: string, run: () => Promise<T>, failed: T): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof WrongLibrary) throw e;
    failures.add(`${what}: ${(e as Error).message.split('\n').slice(-2).join(' ')}`);
    return failed;
  }
}

let bestBackend = '?';
type PerVariant<T> = Record<Variant, T>;
interface SpeedRow { model: Model; threads: number; wander: { pp: Spread; tg: Spread }; llama: PerVariant<{ pp: Spread; tg: Spread }>; matmul: { layers: number; head: number } }
interface BatchRow { model: Model; threads: number; wander: { b1: Spread; bn: Spread }; llama: PerVariant<{ b1: Spread; bn: Spread }> }

/** Runs `once` PROCESSES times (Wander and both llama.cpp variants taking turns) and collects each field's spread. */
async function repeat<T extends Record<string, number>>(once: () => Promise<{ wander: T; llama: PerVariant<T> }>) {
  const runs: { wander: T; llama: PerVariant<T> }[] = [];
  for (let p = 0; p < PROCESSES; p++) runs.push(await once());
  const fields = <U extends Record<string, number>>(xs: U[]) => Object.fromEntries(Object.keys(xs[0]!).map((k) => [k, spread(xs.map((x) => x[k]!))])) as { [K in keyof U]: Spread };
  return { wander: fields(runs.map((r) => r.wander)), llama: Object.fromEntries(VARIANTS.map((v) => [v, fields(runs.map((r) => r.llama[v]))])) as PerVariant<{ [K in keyof T]: Spread }> };
}

async function measureSpeed(model: Model, path: string, threads: number): Promise<SpeedRow> {
  let matmul = { layers: 0, head: 0 };
  const r = await repeat(async () => {
    const w = await wander<{ pp: number; tg: number; matmulParams: typeof matmul }>(['speed', path, threads, PROMPT, GEN, RUNS]);
    matmul = w.matmulParams;
    const llama = {} as PerVariant<{ pp: number; tg: number }>;
    for (const v of VARIANTS) {
      const n = await native(`llama-bench ${v}, ${model.name}`, () => llamaBench(v, path, threads, PROMPT, GEN), { pp: NaN, tg: NaN, backend: '?' });
      if (v === 'best' && n.backend !== '?') bestBackend = n.backend;
      llama[v] = { pp: n.pp, tg: n.tg };
    }
    return { wander: { pp: w.pp, tg: w.tg }, llama };
  });
  return { model, threads, ...r, matmul };
}

async function measureBatched(model: Model, path: string, threads: number): Promise<BatchRow> {
  const r = await repeat(async () => {
    const wander1 = await wander<{ b1: number; bn: number }>(['batched', path, threads, SEQUENCES, BATCH_GEN]);
    const llama = {} as PerVariant<{ b1: number; bn: number }>;
    for (const v of VARIANTS) {
      const n = await native(`llama-batched-bench ${v}, ${model.name}`, () => llamaBatched(v, path, threads, SEQUENCES, BATCH_GEN), { b1: NaN, bn: NaN, backend: '?' });
      llama[v] = { b1: n.b1, bn: n.bn };
    }
    return { wander: { b1: wander1.b1, bn: wander1.bn }, llama };
  });
  return { model, threads, ...r };
}

// ---------------------------------------------------------------- the run

const speedModels = MODELS.filter((m) => wanted(m.name));
const batchModels = MODELS.filter((m) => m.batched && wanted(batchedName(m)));
console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}`);
console.log(`Every cell: min / median / max over ${PROCESSES} fresh processes (Wander: a warm-up, then the median of ${RUNS} pass${RUNS > 1 ? 'es' : ''}); tokens/s.`);
console.log(`load: the 1-minute load average as a row ended (above ${cpus().length}, other work shared the cores).`);

// The SIMD peak is measured before the rows and again after them, and the higher kept: a ceiling is
// the run least disturbed by other work.
const before = speedModels.length ? await simdPeak(THREADS) : [];

const speeds: SpeedRow[] = [];
if (speedModels.length) {
  const row = table(`Prompt (pp, ${PROMPT} tokens into a fresh cache) and generation (tg, ${GEN} tokens; Wander: greedy, after the prompt; llama-bench: from an empty cache)`,
    ['model', 'threads', 'Wander pp', 'llama.cpp AVX2 pp', 'llama.cpp best pp', 'Wander tg', 'llama.cpp AVX2 tg', 'llama.cpp best tg', 'load']);
  for (const model of speedModels) {
    const path = model.path();
    for (const threads of THREADS) {
      const s = await measureSpeed(model, path, threads);
      speeds.push(s);
      row([model.name, String(threads), cell(s.wander.pp), cell(s.llama.AVX2.pp), cell(s.llama.best.pp), cell(s.wander.tg), cell(s.llama.AVX2.tg), cell(s.llama.best.tg), load()]);
    }
  }
}

const batches: BatchRow[] = [];
if (batchModels.length) {
  const row = table(`${SEQUENCES} sequences × ${BATCH_GEN} tokens decoded together (aggregate tokens/s; B = 1: one sequence alone)`,
    ['model', 'threads', 'Wander B = 1', `Wander B = ${SEQUENCES}`, 'speed-up', 'llama.cpp AVX2 B = 1', `llama.cpp AVX2 B = ${SEQUENCES}`, 'llama.cpp best B = 1', `llama.cpp best B = ${SEQUENCES}`, 'load']);
  for (const model of batchModels) {
    const path = model.path();
    for (const threads of THREADS) {
      const b = await measureBatched(model, path, threads);
      batches.push(b);
      row([model.name, String(threads), cell(b.wander.b1), cell(b.wander.bn), `${ratio(b.wander.bn.median, b.wander.b1.median)}×`,
        cell(b.llama.AVX2.b1), cell(b.llama.AVX2.bn), cell(b.llama.best.b1), cell(b.llama.best.bn), load()]);
    }
  }
}

// The issue's table: medians, Wander against each llama.cpp variant.
const issue = table(`Wander against llama.cpp (medians; llama.cpp best = the ${bestBackend} CPU library)`, ['work', 'Wander (median)', 'llama.cpp AVX2', 'ratio', 'llama.cpp best', 'ratio']);
const issueRow = (work: string, w: number, l: PerVariant<number>) => issue([work, w, l.AVX2, ratio(w, l.AVX2), l.best, ratio(w, l.best)]);
for (const s of speeds) issueRow(`decode, ${s.model.name}, ${threadsLabel(s.threads)}`, s.wander.tg.median, { AVX2: s.llama.AVX2.tg.median, best: s.llama.best.tg.median });
for (const s of speeds.filter((x) => x.model.type === 'F32' || x.model.type === 'Q8_0')) issueRow(`pp${PROMPT}, ${s.model.name}, ${threadsLabel(s.threads)}`, s.wander.pp.median, { AVX2: s.llama.AVX2.pp.median, best: s.llama.best.pp.median });
for (const b of batches) issueRow(`${SEQUENCES} sequences decoded together (aggregate tokens/s), ${b.model.name}, ${threadsLabel(b.threads)}`, b.wander.bn.median, { AVX2: b.llama.AVX2.bn.median, best: b.llama.best.bn.median });

let peaks: SimdPeak[] = [];
if (before.length) {
  const after = await simdPeak(THREADS);
  peaks = before.map((b, i) => {
    const loops = b.loops.map((l, k) => ({ name: l.name, gflops: Math.max(l.gflops, after[i]!.loops[k]!.gflops) }));
    return { threads: b.threads, loops, peak: Math.max(...loops.map((l) => l.gflops)) };
  });
  const row = table('WebAssembly SIMD peak (register-only f32x4 loops, 12 accumulators; GFLOP/s, all threads together; the better of a measurement before the rows and one after)',
    ['threads', ...peaks[0]!.loops.map((l) => l.name), 'peak']);
  for (const p of peaks) row([String(p.threads), ...p.loops.map((l) => l.gflops), p.peak]);
}

// Prompt processing as a share of the SIMD peak: 2 FLOPs per weight of every layer's matmuls per prompt
// token, plus the LM head once (a prompt pass unembeds its last position only).
if (peaks.length) {
  const row = table('Wander prompt processing against the WebAssembly SIMD peak (aim: ≥ 60 %)', ['model', 'threads', 'Wander pp (median)', 'GFLOP/s', 'peak GFLOP/s', '% of peak']);
  for (const s of speeds) {
    const gflops = (2 * (s.matmul.layers * PROMPT + s.matmul.head) * (s.wander.pp.median / PROMPT)) / 1e9;
    const peak = peaks.find((p) => p.threads === s.threads)!.peak;
    row([s.model.name, String(s.threads), s.wander.pp.median, gflops, peak, `${((100 * gflops) / peak).toFixed(0)} %`]);
  }
}

// One Gemma-3-wide layer: the 4-layer model's time per token less the 2-layer one's, halved.
for (const threads of THREADS) {
  const [two, four] = [2, 4].map((n) => speeds.find((s) => s.model.name === gemma(n).name && s.threads === threads));
  if (!two || !four) continue;
  const perLayer = (a: number, b: number) => (1 / b - 1 / a) / 2; // seconds per token per layer
  const line = (two: { pp: number; tg: number }, four: { pp: number; tg: number }) =>
    `decode ${(perLayer(two.tg, four.tg) * 1e3).toFixed(2)} ms/token, prompt ${(perLayer(two.pp, four.pp) * 1e6).toFixed(0)} µs/token`;
  const med = (x: { pp: Spread; tg: Spread }) => ({ pp: x.pp.median, tg: x.tg.median });
  console.log(`\none Gemma-3-wide Q4_K layer, ${threadsLabel(threads)}: Wander ${line(med(two.wander), med(four.wander))}; ` +
    VARIANTS.map((v) => `llama.cpp ${v} ${line(med(two.llama[v]), med(four.llama[v]))}`).join('; '));
}

// Spreads wider than 1.4× (two speeds, or runs disturbed by other work), with every process's figure.
const wide: string[] = [];
const check = (what: string, s: Spread) => { if (s.max / s.min > 1.4) wide.push(`${what}: ${s.all.map(num).join(', ')}`); };
for (const s of speeds) {
  const at = `${s.model.name}, ${threadsLabel(s.threads)}`;
  check(`Wander pp, ${at}`, s.wander.pp); check(`Wander tg, ${at}`, s.wander.tg);
  for (const v of VARIANTS) { check(`llama.cpp ${v} pp, ${at}`, s.llama[v].pp); check(`llama.cpp ${v} tg, ${at}`, s.llama[v].tg); }
}
for (const b of batches) check(`Wander B = ${SEQUENCES}, ${b.model.name}, ${threadsLabel(b.threads)}`, b.wander.bn);
if (wide.length) console.log(`\nmax / min > 1.4 across processes (per process, in the order run):\n${wide.map((w) => `- ${w}`).join('\n')}`);
if (failures.size) console.log(`\nllama.cpp failures:\n${[...failures].map((f) => `- ${f}`).join('\n')}`);
process.exit(0);
