// `npm run bench` (part 2): the sampling chain's time per step over GPT-2's 50,257-token vocabulary, each
// newer stage's own time, and the aggregate speed-up of batched n-sampling. Not a test.
import { DType } from '../src/formats/tensor-types.js';
import { generate } from '../src/generate/generate.js';
import { DEFAULTS, type Settings } from '../src/generate/settings.js';
import { loadModel } from '../src/model/load.js';
import { Candidates } from '../src/sampling/candidates.js';
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
  ['dry 0.8 (200-token context)', { dry_multiplier: 0.8 }],
  ['dry 0.8 (2048-token context, a repeated phrase)', { dry_multiplier: 0.8 }],
  ['xtc 1 · threshold 0.1', { xtc_probability: 1, xtc_threshold: 0.1 }],
  ['mirostat v1 τ 5', { mirostat: 1 }],
  ['mirostat v2 τ 5', { mirostat: 2 }],
  ['dynatemp T 1 ± 0.5', { dynatemp_range: 0.5 }],
  ['smoothing 0.3 · curve 2', { smoothing_factor: 0.3, smoothing_curve: 2 }],
  ['top_h 0.5', { top_h: 0.5 }],
];
// Every token's text, for DRY's sequence breakers (llama.cpp's defaults: \n : " *), and a long context
// that ends by repeating an earlier phrase, so DRY has real work to do.
const texts = Array.from({ length: V }, (_, i) => (i % 1000 === 7 ? '\n' : i % 1000 === 9 ? ':' : `t${i}`));
const phrase = Array.from({ length: 40 }, (_, i) => (i * 7919) % V);
const longCtx = {
  tokens: [...Array.from({ length: 2008 }, (_, i) => (i < 40 ? phrase[i]! : (i * 104729) % V)), ...phrase],
  promptLength: 2000, text: 'Once upon a time',
};
const path = vectorMath.kernels ? 'WebAssembly SIMD kernels' : 'the TypeScript path (no WebAssembly SIMD here)';
console.log(`\nSampling chain over a ${V}-token vocabulary (${path}): time per step (µs), 200 steps after a warm-up\n`);
console.log('| chain | µs / step (median) | p10–p90 |');
console.log('| --- | --- | --- |');
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
for (const [name, s] of configs) {
  const chain = new SamplingChain({ ...DEFAULTS, ...s } as Settings, { vocabTexts: () => texts });
  const r = new Rng(1);
  // Mirostat keeps μ from step to step: a sample's state, as generate() passes it.
  const stepCtx = { ...(name.includes('2048') ? longCtx : ctx), state: {} };
  for (let i = 0; i < 20; i++) chain.sample(logits, r, stepCtx);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    chain.sample(logits, r, stepCtx);
    times.push(performance.now() - t0);
  }
  const us = (q: number) => (quantile(times, q) * 1000).toFixed(0);
  console.log(`| ${name} | ${(median(times) * 1000).toFixed(0)} | ${us(0.1)}–${us(0.9)} |`);
}

// The new stages on their own: each stage's apply() alone (the copy of the logits and the draw, which
// every chain step above pays, left out), against the 0.5 ms budget per stage.
const NEW_STAGES = ['dry', 'xtc', 'mirostat', 'dynatemp', 'smoothing', 'top_h'];
console.log(`\nThe new stages alone: apply() over the ${V}-token vocabulary (µs), 200 steps after a warm-up; budget 500 µs\n`);
console.log('| stage | settings | µs / step (median) | p10–p90 |');
console.log('| --- | --- | --- | --- |');
const work = new Candidates(logits);
for (const [name, s] of configs) {
  const chain = new SamplingChain({ ...DEFAULTS, ...s } as Settings, { vocabTexts: () => texts });
  const stage = chain.samplers.find((x) => NEW_STAGES.includes(x.name));
  if (!stage) continue;
  const r = new Rng(1);
  const stepCtx = { ...(name.includes('2048') ? longCtx : ctx), state: {} };
  const times: number[] = [];
  for (let i = 0; i < 220; i++) {
    work.reset(logits);
    const t0 = performance.now();
    stage.apply(work, stepCtx, r);
    if (i >= 20) times.push(performance.now() - t0);
    // Let mirostat's μ move as it does in a run: accept the best remaining token.
    stage.accept?.(work.ids[work.best()]!, work, stepCtx);
  }
  const us = (q: number) => (quantile(times, q) * 1000).toFixed(0);
  console.log(`| ${stage.name} | ${name} | ${(median(times) * 1000).toFixed(0)} | ${us(0.1)}–${us(0.9)} |`);
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
