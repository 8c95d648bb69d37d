// `npm run bench`: prompt-processing and generation speed of Wander against llama.cpp (node-llama-cpp)
// on the same GGUF files and thread counts. Median of several runs after a warm-up. Not a test.
import { existsSync } from 'node:fs';
import { DType } from '../src/formats/tensor-types.js';
import { loadModel } from '../src/model/load.js';
import { fixture, type FixtureSpec } from '../test/fixtures/models.js';

const PROMPT = 128, GEN = 32, RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const GPT2_SMALL: FixtureSpec = { arch: 'gpt2', nLayer: 12, nEmbd: 768, nHead: 12, nHeadKv: 12, nFf: 3072, ctx: 1024, seed: 124, vocab: 50257 };
const STORIES = '../shared/models/stories260K.gguf';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const promptTokens = (vocab: number) => Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 13) % Math.min(vocab, 500) + 1);

interface Speed { pp: number; tg: number }

function wander(path: string, threads: number): Speed {
  const m = loadModel(path, { threads });
  const prompt = promptTokens(m.config.vocabSize);
  const once = (): Speed => m.withScratch(() => {
    const cache = m.newCache(PROMPT + GEN + 1);
    const t0 = performance.now();
    let logits = m.forward(prompt, cache);
    const t1 = performance.now();
    for (let i = 0; i < GEN; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
      logits = m.forward([best], cache);
    }
    const t2 = performance.now();
    return { pp: (PROMPT / (t1 - t0)) * 1000, tg: (GEN / (t2 - t1)) * 1000 };
  });
  once();
  const runs = Array.from({ length: RUNS }, once);
  m.close();
  return { pp: median(runs.map((r) => r.pp)), tg: median(runs.map((r) => r.tg)) };
}

async function llamaCpp(path: string, threads: number): Promise<Speed> {
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: path });
  const ctx = await model.createContext({ contextSize: PROMPT + GEN + 16, batchSize: PROMPT, threads, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } as never);
  const prompt = promptTokens(500);
  const once = async (): Promise<Speed> => {
    const seq = ctx.getSequence();
    const t0 = performance.now();
    await seq.controlledEvaluate([...prompt.slice(0, -1), [prompt[PROMPT - 1]!, { generateNext: { token: true } }]] as never);
    const t1 = performance.now();
    let n = 0;
    for await (const _ of seq.evaluate([prompt[PROMPT - 1]!] as never, { temperature: 0 })) if (++n >= GEN) break;
    const t2 = performance.now();
    seq.dispose();
    return { pp: (PROMPT / (t1 - t0)) * 1000, tg: (GEN / (t2 - t1)) * 1000 };
  };
  await once();
  const runs: Speed[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once());
  await ctx.dispose();
  await model.dispose();
  return { pp: median(runs.map((r) => r.pp)), tg: median(runs.map((r) => r.tg)) };
}

// Gemma 3 at gemma3-4b's width (2560, 8 query and 4 KV heads of 256, feed-forward 10240), with 2 and 4
// layers: the difference is the cost of one layer (the vocabulary is cut to 16k so the LM head stays small).
const GEMMA3_WIDE = (nLayer: number): FixtureSpec => ({ arch: 'gemma3', nLayer, nEmbd: 2560, nHead: 8, nHeadKv: 4, headDim: 256, nFf: 10240, ctx: 4096, seed: 125, vocab: 16384 });
const only = process.env['BENCH_ONLY'];
const lazy: [string, () => string][] = [
  ['GPT-2-small shape, F32 (124M)', () => fixture('gguf', GPT2_SMALL, DType.F32)],
  ['GPT-2-small shape, Q8_0 (124M)', () => fixture('gguf', GPT2_SMALL, DType.Q8_0)],
  ['GPT-2-small shape, Q4_K (124M)', () => fixture('gguf', GPT2_SMALL, DType.Q4_K)],
  ['GPT-2-small shape, Q5_K (124M)', () => fixture('gguf', GPT2_SMALL, DType.Q5_K)],
  ['GPT-2-small shape, IQ4_XS (124M)', () => fixture('gguf', GPT2_SMALL, DType.IQ4_XS)],
  ['Gemma-3 shape 2560 wide, 2 layers, Q4_K', () => fixture('gguf', GEMMA3_WIDE(2), DType.Q4_K)],
  ['Gemma-3 shape 2560 wide, 4 layers, Q4_K', () => fixture('gguf', GEMMA3_WIDE(4), DType.Q4_K)],
];
if (existsSync(STORIES)) lazy.push(['stories260K (F32)', () => STORIES]);
// Fixtures are written on first use (build/fixtures/), only for the rows asked for.
// BENCH_ONLY=a,b keeps the rows whose names contain a or b.
const models: [string, string][] = lazy.filter(([name]) => !only || only.split(',').some((o) => name.includes(o))).map(([name, path]) => [name, path()]);

const results = new Map<string, { wander: Speed; llama: Speed }>();
console.log(`prompt ${PROMPT} tokens, then ${GEN} generated; median of ${RUNS} runs after a warm-up; tokens/s\n`);
console.log('| model | threads | Wander pp | llama.cpp pp | ratio | Wander tg | llama.cpp tg | ratio |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [name, path] of models) {
  for (const threads of [1, 2]) {
    const w = wander(path, threads);
    const l = await llamaCpp(path, threads);
    const f = (x: number) => x.toFixed(x >= 100 ? 0 : 1);
    console.log(`| ${name} | ${threads} | ${f(w.pp)} | ${f(l.pp)} | ${(w.pp / l.pp).toFixed(2)} | ${f(w.tg)} | ${f(l.tg)} | ${(w.tg / l.tg).toFixed(2)} |`);
    results.set(`${name}/${threads}`, { wander: w, llama: l });
  }
}
// One Gemma-3-wide layer: the 4-layer model's time per token less the 2-layer one's, halved.
for (const threads of [1, 2]) {
  const two = results.get(`Gemma-3 shape 2560 wide, 2 layers, Q4_K/${threads}`), four = results.get(`Gemma-3 shape 2560 wide, 4 layers, Q4_K/${threads}`);
  if (!two || !four) continue;
  const perLayer = (a: Speed, b: Speed, k: 'pp' | 'tg') => ((1000 / b[k] - 1000 / a[k]) / 2) * (k === 'pp' ? 1000 / PROMPT : 1);
  const line = (who: 'wander' | 'llama') => `decode ${perLayer(two[who], four[who], 'tg').toFixed(2)} ms/token, prompt ${perLayer(two[who], four[who], 'pp').toFixed(0)} µs/token`;
  console.log(`\none Gemma-3-wide Q4_K layer, ${threads} thread${threads > 1 ? 's' : ''}: Wander ${line('wander')}; llama.cpp ${line('llama')}`);
}
process.exit(0);
