// `npm run bench` (beam search): beam search with B = 4 and 16 beams, and beam sampling (--do-sample)
// with B = 4, on the GPT-2-small-shaped model, beside its reference measured in the same process: B
// independent greedy decodes of the same length, batched together as `generate --n B` batches samples.
// Both run the same forward work per step (one batch of B one-token sequences), so the difference is
// what beam search adds: B log-softmaxes and top-k selections over the vocabulary (beam sampling: an
// exponential per (beam, token) and 2B draws without replacement from all B × 50257 of them), and the
// KV-cache rows copied when beams are reordered. Medians over REPS runs, with the spread. Not a test.
//
//   BENCH_TOKENS=n   generated tokens per run (default 8)
//   BENCH_REPS=n     runs per figure (default 3)
import { cpus } from 'node:os';
import { DType } from '../src/formats/tensor-types.js';
import { generate } from '../src/generate/generate.js';
import { loadModel } from '../src/model/load.js';
import { fixture, type FixtureSpec } from '../test/fixtures/models.js';

const GPT2_SMALL: FixtureSpec = { arch: 'gpt2', nLayer: 12, nEmbd: 768, nHead: 12, nHeadKv: 12, nFf: 3072, ctx: 1024, seed: 124, vocab: 50257 };
const TOKENS = Number(process.env['BENCH_TOKENS'] ?? 8), REPS = Number(process.env['BENCH_REPS'] ?? 3);
const PROMPT = 'The quick brown fox jumps over the lazy dog';

interface Spread { min: number; median: number; max: number }
function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b), n = s.length;
  return { min: s[0]!, median: (s[(n - 1) >> 1]! + s[n >> 1]!) / 2, max: s[n - 1]! };
}
const show = (x: Spread) => `${x.median.toFixed(2)} (${x.min.toFixed(2)}–${x.max.toFixed(2)})`;

const m = loadModel(fixture('gguf', GPT2_SMALL, DType.F32), { threads: 1 });
console.log(`\nBeam search vs B greedy decodes: GPT-2-small shape (124M, F32), ${m.kernels} × ${m.threads} thread, ${cpus()[0]?.model ?? 'unknown CPU'}`);
console.log(`${TOKENS} generated tokens per sequence (EOS suppressed by min_new_tokens, so every run is full length); generate time only (the prompt excluded); median (min–max) of ${REPS} runs\n`);
console.log('| B | beam search: tokens/s per beam | B greedy decodes: tokens/s per sequence | beam / greedy | beam search: ms per step |');
console.log('| --- | --- | --- | --- | --- |');
// Warm-up: the first run pays for compiling and touching the weights.
generate(m, PROMPT, { temperature: 0, max_tokens: 2 });
for (const [B, sampled] of [[4, false], [16, false], [4, true]] as const) {
  const beam: number[] = [], greedy: number[] = [], step: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const b = generate(m, PROMPT, { num_beams: B, max_tokens: TOKENS, min_new_tokens: TOKENS, ...(sampled && { do_sample: true, seed: r }) });
    const g = generate(m, PROMPT, { temperature: 0, n: B, max_batch_size: B, max_tokens: TOKENS, min_new_tokens: TOKENS, seed: 1 });
    if (b.samples[0]!.token_ids.length !== TOKENS) throw new Error(`beam search stopped after ${b.samples[0]!.token_ids.length} tokens`);
    beam.push(TOKENS / (b.timings.generate_ms / 1000));
    greedy.push(g.timings.tokens_per_second / B);
    step.push(b.timings.generate_ms / TOKENS);
  }
  const ratio = spread(beam).median / spread(greedy).median;
  console.log(`| ${B}${sampled ? ' (beam sampling)' : ''} | ${show(spread(beam))} | ${show(spread(greedy))} | ${ratio.toFixed(2)}× | ${show(spread(step))} |`);
}
m.close();
process.exit(0);
