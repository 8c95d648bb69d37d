// `npm run bench` (part 2): the sampling chain's time per step over GPT-2's 50,257-token vocabulary, and
// the aggregate speed-up of batched n-sampling. Not a test.
import { DType } from '../src/formats/tensor-types.js';
import { generate } from '../src/generate/generate.js';
import { DEFAULTS, type Settings } from '../src/generate/settings.js';
import { loadModel } from '../src/model/load.js';
import { SamplingChain } from '../src/sampling/chain.js';
import { Rng } from '../src/sampling/rng.js';
import { vectorMath } from '../src/sampling/vector-math.js';
import { fixture, type FixtureSpec } from '../test/fixtures/models.js';

const V = 50257;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Logits shaped like a language model's: a few strong candidates over a long Gaussian tail.
const rng = new Rng(11);
const logits = Float32Array.from({ length: V }, (_, i) => (i % 997 === 0 ? 8 : 0) + 2.5 * Math.sqrt(-2 * Math.log(Math.max(rng.uniform(), 1e-12))) * Math.cos(2 * Math.PI * rng.uniform()));
const ctx = { tokens: Array.from({ length: 200 }, (_, i) => (i * 31) % V), promptLength: 100, text: 'Once upon a time' };

const configs: [string, Partial<Settings>][] = [
  ['greedy', { temperature: 0 }],
  ['temperature 0.8 (no truncation)', { temperature: 0.8 }],
  ['top_k 50', { top_k: 50 }],
  ['top_p 0.95', { top_p: 0.95 }],
  ['min_p 0.05', { min_p: 0.05 }],
  ['top_k 40 · top_p 0.95 · min_p 0.05 · T 0.8 (llama.cpp)', { top_k: 40, top_p: 0.95, min_p: 0.05, temperature: 0.8, chain: 'llama.cpp' }],
  ['repetition 1.1 · frequency 0.5 · top_p 0.9', { repetition_penalty: 1.1, frequency_penalty: 0.5, top_p: 0.9 }],
  ['typical_p 0.9', { typical_p: 0.9 }],
  ['eta 0.0009', { eta_cutoff: 0.0009 }],
  ['top_n_sigma 1', { top_n_sigma: 1 }],
];
const path = vectorMath.kernels ? 'WebAssembly SIMD kernels' : 'the TypeScript path (no WebAssembly SIMD here)';
console.log(`\nSampling chain over a ${V}-token vocabulary (${path}): time per step (µs), 200 steps after a warm-up\n`);
console.log('| chain | µs / step (median) | p10–p90 |');
console.log('| --- | --- | --- |');
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
for (const [name, s] of configs) {
  const chain = new SamplingChain({ ...DEFAULTS, ...s } as Settings);
  const r = new Rng(1);
  for (let i = 0; i < 20; i++) chain.sample(logits, r, ctx);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    chain.sample(logits, r, ctx);
    times.push(performance.now() - t0);
  }
  const us = (q: number) => (quantile(times, q) * 1000).toFixed(0);
  console.log(`| ${name} | ${(median(times) * 1000).toFixed(0)} | ${us(0.1)}–${us(0.9)} |`);
}

const GPT2_SMALL: FixtureSpec = { arch: 'gpt2', nLayer: 12, nEmbd: 768, nHead: 12, nHeadKv: 12, nFf: 3072, ctx: 1024, seed: 124, vocab: 50257 };
const N = 16, TOKENS = 64;
console.log(`\nBatched n-sampling: ${N} samples × ${TOKENS} tokens on the GPT-2-small-shaped model, aggregate tokens/s\n`);
console.log('| weights | threads | B = 1 | B = 4 | B = 16 | speed-up at B = 16 |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const dt of [DType.F32, DType.Q8_0]) {
  for (const threads of [1, 2]) {
    const m = loadModel(fixture('gguf', GPT2_SMALL, dt), { threads });
    const speed = (b: number) => {
      const run = generate(m, 'The', { seed: 1, max_tokens: TOKENS, n: N, max_batch_size: b, temperature: 1, min_new_tokens: TOKENS });
      return run.timings.tokens_per_second;
    };
    const [b1, b4, b16] = [1, 4, 16].map(speed) as [number, number, number];
    console.log(`| ${dt === DType.F32 ? 'F32' : 'Q8_0'} | ${threads} | ${b1.toFixed(1)} | ${b4.toFixed(1)} | ${b16.toFixed(1)} | ${(b16 / b1).toFixed(2)}× |`);
    m.close();
  }
}
process.exit(0);
