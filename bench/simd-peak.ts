// The most f32 arithmetic WebAssembly SIMD does on this CPU: loops that touch only registers (12 f32x4
// values, no loads or stores), compiled from AssemblyScript at bench time and run in 1 or more worker
// threads at once. The yardstick for the prompt-processing kernels, whose matmuls are the same f32x4
// multiplies and adds plus the memory traffic.
import { main as asc } from 'assemblyscript/asc';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const ACC = 12; // independent accumulators: enough to cover the latency of a mul feeding an add

/** The three loops, as AssemblyScript; `flops` counts 4 per f32x4 operation. */
const LOOPS = [
  // acc = acc × a + b: a chain of dependent mul, add pairs per accumulator
  { name: 'mul+add chains', flops: 8, body: (i: number) => `x${i} = f32x4.add(f32x4.mul(x${i}, va), vb);` },
  // half the accumulators multiplied (by a = 1), half added to: independent muls and adds
  { name: 'mul ∥ add', flops: 4, body: (i: number) => (i % 2 ? `x${i} = f32x4.add(x${i}, vb);` : `x${i} = f32x4.mul(x${i}, va);`) },
  // acc = acc + b: adds only
  { name: 'add chains', flops: 4, body: (i: number) => `x${i} = f32x4.add(x${i}, vb);` },
];

function source(): string {
  const acc = Array.from({ length: ACC }, (_, i) => i);
  // a and b are arguments, so nothing folds; the accumulators are summed into the result, so nothing is dead.
  const fn = (name: string, body: (i: number) => string) => `
export function ${name}(iters: i32, a: f32, b: f32): f32 {
  const va = f32x4.splat(a), vb = f32x4.splat(b);
  ${acc.map((i) => `let x${i} = f32x4.splat(${1 + i / 16});`).join(' ')}
  for (let i = 0; i < iters; i++) {
    ${acc.map(body).join('\n    ')}
  }
  let s = ${acc.map((i) => `x${i}`).reduce((a, b) => `f32x4.add(${a}, ${b})`)};
  return f32x4.extract_lane(s, 0);
}`;
  return LOOPS.map((l, k) => fn(`loop${k}`, l.body)).join('\n');
}

async function compile(): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'wander-simd-peak-'));
  try {
    writeFileSync(join(dir, 'peak.ts'), source());
    const { error, stderr } = await asc([join(dir, 'peak.ts'), '--outFile', join(dir, 'peak.wasm'), '--optimizeLevel', '3', '--runtime', 'stub', '--use', 'abort=', '--enable', 'simd']);
    if (error) throw new Error(`simd-peak: ${error.message}\n${stderr.toString()}`);
    return readFileSync(join(dir, 'peak.wasm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Each worker warms its loop up (so V8's optimizing tier runs it), says "ready", and on "go" times `iters`
// iterations, the best of 5 (a peak is a ceiling: the best run is the one least disturbed).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { bytes, loop, iters, a } = workerData;
const f = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports[loop];
for (let i = 0; i < 30; i++) f(200000, a, 0.001);
parentPort.postMessage('ready');
parentPort.once('message', () => {
  let best = Infinity;
  for (let r = 0; r < 5; r++) { const t0 = performance.now(); f(iters, a, 0.001); best = Math.min(best, performance.now() - t0); }
  parentPort.postMessage(best);
});`;

/** GFLOP/s of one loop in `threads` workers running together. */
async function measure(bytes: Uint8Array, k: number, threads: number): Promise<number> {
  const iters = 20_000_000, a = k === 0 ? 0.999 : 1;
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { bytes, loop: `loop${k}`, iters, a } }));
  const next = (w: Worker) => new Promise<unknown>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await Promise.all(workers.map(next));
  const done = workers.map(next);
  for (const w of workers) w.postMessage('go');
  const ms = Math.max(...((await Promise.all(done)) as number[]));
  await Promise.all(workers.map((w) => w.terminate()));
  return (threads * iters * ACC * LOOPS[k]!.flops) / ms / 1e6;
}

export interface SimdPeak { threads: number; loops: { name: string; gflops: number }[]; peak: number }

/** Each loop's GFLOP/s at each thread count, and the best of them (the peak). */
export async function simdPeak(threadCounts: readonly number[]): Promise<SimdPeak[]> {
  const bytes = await compile();
  const out: SimdPeak[] = [];
  for (const threads of threadCounts) {
    const loops: { name: string; gflops: number }[] = [];
    for (let k = 0; k < LOOPS.length; k++) loops.push({ name: LOOPS[k]!.name, gflops: await measure(bytes, k, threads) });
    out.push({ threads, loops, peak: Math.max(...loops.map((l) => l.gflops)) });
  }
  return out;
}
