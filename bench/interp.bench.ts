// `npm run bench` (part 5): what looking inside costs. (a) A forward pass with every hook point captured
// (captureActivations) against the same pass with no hooks; (b) head scans and activation patching
// batched (the variants as sequences of forwardMany calls, patches starting from the corrupted run's KV
// cache) against one forward pass per cell. Medians over BENCH_RUNS repetitions, with the range. Not a test.
import { existsSync } from 'node:fs';
import { DType } from '../src/formats/tensor-types.js';
import { captureActivations } from '../src/interp/cache.js';
import { headAblationLogits } from '../src/interp/heads.js';
import { logitDiff, patchResidPre } from '../src/interp/patch.js';
import { loadModel, type Model } from '../src/model/load.js';
import type { Hooks } from '../src/model/hooks.js';
import { modelHookNames } from '../src/interp/hook-select.js';
import { defaultThreads } from '../src/cli/model-flags.js';
import { fixture, type FixtureSpec } from '../test/fixtures/models.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const THREADS = Number(process.env['BENCH_THREADS'] ?? defaultThreads());
const GPT2_SMALL: FixtureSpec = { arch: 'gpt2', nLayer: 12, nEmbd: 768, nHead: 12, nHeadKv: 12, nFf: 3072, ctx: 1024, seed: 124, vocab: 50257 };
const STORIES = '../shared/models/stories260K.gguf';

interface Timing { median: number; min: number; max: number }

/**
 * Median and range (ms) of each function's timings, the functions taking turns so that a change in the
 * machine's load falls on all of them alike: after one warm-up round unless `warm` is false, rounds until
 * each has run RUNS times and the whole has taken at least `atLeast` ms.
 */
function timed<F extends (() => void)[]>(fs: [...F], warm = true, atLeast = 2000): { [K in keyof F]: Timing } {
  if (warm) for (const f of fs) f();
  const ms: number[][] = fs.map(() => []);
  const start = performance.now();
  while (ms[0]!.length < RUNS || performance.now() - start < atLeast) {
    fs.forEach((f, i) => { const t0 = performance.now(); f(); ms[i]!.push(performance.now() - t0); });
  }
  return ms.map((x) => {
    x.sort((a, b) => a - b);
    return { median: x[Math.floor(x.length / 2)]!, min: x[0]!, max: x[x.length - 1]! };
  }) as { [K in keyof F]: Timing };
}
const fmt = (t: Timing) => `${t.median.toFixed(0)} (${t.min.toFixed(0)}–${t.max.toFixed(0)})`;
const prompt = (m: Model, n: number, seed = 0) => Array.from({ length: n }, (_, i) => ((i + seed) * 7919 + 13) % Math.min(m.config.vocabSize, 500) + 1);

// (a) Capture overhead.
console.log(`\n(a) A forward pass with every hook point captured (captureActivations: every hook but hook_logits, all positions) against no hooks; ms, median (range) of at least ${RUNS} runs taking turns after a warm-up, ${THREADS} thread(s)\n`);
console.log('| model | tokens | no hooks (last logits) | no hooks, all logits | every hook, no-op | captureActivations | capture ÷ no hooks | capture ÷ all logits |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const captureModels: [string, string, number][] = [['GPT-2-small shape, F32 (124M)', fixture('gguf', GPT2_SMALL, DType.F32), 128]];
if (existsSync(STORIES)) captureModels.push(['stories260K (F32)', STORIES, 128]);
for (const [name, path, T] of captureModels) {
  const m = loadModel(path, { threads: THREADS });
  const ids = prompt(m, T);
  const pass = (opts: { hooks?: Hooks; allLogits?: boolean }) => () => { m.withScratch(() => m.forward(ids, m.newCache(T), opts)); };
  const noop: Hooks = new Map(modelHookNames(m.config).filter((n) => n !== 'hook_logits').map((n) => [n, () => undefined]));
  const [none, all, hooked, capture] = timed([pass({}), pass({ allLogits: true }), pass({ hooks: noop, allLogits: true }), () => { captureActivations(m, ids); }]);
  console.log(`| ${name} | ${T} | ${fmt(none)} | ${fmt(all)} | ${fmt(hooked)} | ${fmt(capture)} | ${(capture.median / none.median).toFixed(2)}× | ${(capture.median / all.median).toFixed(2)}× |`);
  m.close();
}

// (b) Scans: batched against one forward pass per cell.
const T = 16;
const m = loadModel(fixture('gguf', GPT2_SMALL, DType.F32), { threads: THREADS });
const clean = prompt(m, T), corrupted = clean.map((id, p) => (p === 5 || p === 11 ? id + 1 : id));
const c = m.config;
const heads = c.nLayer * c.nHead, cells = c.nLayer * T;
const metric = logitDiff(3, 5);
console.log(`\n(b) Scans on the GPT-2-small-shaped model (F32, ${c.nLayer} layers × ${c.nHead} heads), ${T}-token prompts, ${THREADS} thread(s); ms, median (range) of ${RUNS} runs taking turns\n`);
console.log('| scan | cells | rows run, batched | rows run, per cell | batched | one pass per cell | speed-up |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
const rows = { heads: heads * T, patch: c.nLayer * (T * (T + 1)) / 2 };
for (const [scan, n, batchedRows, run] of [
  ['heads (zero ablation, every head)', heads, rows.heads, (batched: boolean) => () => { headAblationLogits(m, clean, 'zero', { batched }); }],
  ['patch resid_pre (every layer × position)', cells, rows.patch, (batched: boolean) => () => { patchResidPre(m, clean, corrupted, metric, { batched }); }],
] as const) {
  const [b, one] = timed([run(true), run(false)], false, 0);
  console.log(`| ${scan} | ${n} | ${batchedRows} | ${n * T} | ${fmt(b)} | ${fmt(one)} | ${(one.median / b.median).toFixed(2)}× |`);
}
m.close();
process.exit(0);
