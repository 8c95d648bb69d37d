// One Wander measurement in a fresh process, for bench/forward.bench.ts (which starts several and takes
// the spread): prints one line of JSON.
//
//   node --import tsx bench/forward-worker.ts speed MODEL THREADS PROMPT GEN RUNS
//     a short warm-up, then RUNS passes of a PROMPT-token prompt into a fresh cache and GEN greedy decoding
//     steps after it → { pp, tg } (tokens/s, the median pass), matmulParams (see below)
//   node --import tsx bench/forward-worker.ts batched MODEL THREADS SEQUENCES GEN
//     the library's batched generation, SEQUENCES samples × GEN tokens at once (B = SEQUENCES) and one
//     sample alone (B = 1), after a short warm-up → { b1, bn } (aggregate tokens/s)
import { generate } from '../src/generate/generate.js';
import type { ModelConfig } from '../src/model/config.js';
import { loadModel, type Model } from '../src/model/load.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Weights that one prompt token is multiplied by: per layer Q, K, V, O and the feed-forward matrices
 * (GPT-2: up, down; Llama and Gemma: gate, up, down). The LM head is counted apart: a prompt pass
 * unembeds its last position only.
 */
function matmulParams(c: ModelConfig): { layers: number; head: number } {
  const q = c.nHead * c.headDim, kv = c.nHeadKv * c.headDim;
  const attention = c.nEmbd * (q + 2 * kv) + q * c.nEmbd;
  const ff = (c.family === 'gpt2' ? 2 : 3) * c.nEmbd * c.nFf;
  return { layers: c.nLayer * (attention + ff), head: c.vocabSize * c.nEmbd };
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let j = 1; j < x.length; j++) if (x[j]! > x[best]!) best = j;
  return best;
}

function speed(m: Model, prompt: number, gen: number, runs: number) {
  const tokens = Array.from({ length: prompt }, (_, i) => ((i * 7919 + 13) % Math.min(m.config.vocabSize - 1, 500)) + 1);
  const once = (prompt: number, gen: number) => m.withScratch(() => {
    const cache = m.newCache(prompt + gen + 1);
    const t0 = performance.now();
    let logits = m.forward(tokens.slice(0, prompt), cache);
    const t1 = performance.now();
    for (let i = 0; i < gen; i++) logits = m.forward([argmax(logits)], cache);
    const t2 = performance.now();
    return { pp: (prompt / (t1 - t0)) * 1000, tg: (gen / (t2 - t1)) * 1000 };
  });
  // The warm-up reads every weight and runs both kernel paths (many tokens, one token) until V8 has optimized them.
  once(Math.min(prompt, 32), Math.min(gen, 8));
  const passes = Array.from({ length: runs }, () => once(prompt, gen));
  return { pp: median(passes.map((p) => p.pp)), tg: median(passes.map((p) => p.tg)), matmulParams: matmulParams(m.config) };
}

function batched(m: Model, sequences: number, gen: number) {
  const rate = (n: number, tokens: number) => generate(m, 'The', { seed: 1, max_tokens: tokens, n, max_batch_size: n, temperature: 1, min_new_tokens: tokens }).timings.tokens_per_second;
  rate(sequences, 8);
  return { bn: rate(sequences, gen), b1: rate(1, gen) };
}

const [mode, path, threads, ...rest] = process.argv.slice(2);
const nums = rest.map(Number);
const m = loadModel(path!, { threads: Number(threads) });
const result = mode === 'speed' ? speed(m, nums[0]!, nums[1]!, nums[2]!) : batched(m, nums[0]!, nums[1]!);
m.close();
console.log(JSON.stringify(result));
process.exit(0);
