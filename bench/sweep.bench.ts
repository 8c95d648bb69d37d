// `npm run bench` (part 3): what a sweep costs on top of plain generation — the per-token statistics
// it records (logprob, model entropy, drawn entropy) and one SQLite transaction per sample. Not a test.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultsStore } from '../src/experiments/store.js';
import { generate } from '../src/generate/generate.js';
import { loadModel } from '../src/model/load.js';
import { DType } from '../src/formats/tensor-types.js';
import { fixture, type FixtureSpec } from '../test/fixtures/models.js';

// GPT-2-small's shape and vocabulary, one layer: generation is quick, the vocabulary-wide work is not.
const SPEC: FixtureSpec = { arch: 'gpt2', nLayer: 1, nEmbd: 256, nHead: 4, nHeadKv: 4, nFf: 1024, ctx: 256, seed: 7, vocab: 50257 };
const model = loadModel(fixture('gguf', SPEC, DType.F32), { threads: 1 });
const settings = { temperature: 1, top_p: 0.95, n: 32, max_batch_size: 8, max_tokens: 48, seed: 1 };

const time = (f: () => void) => { const t0 = performance.now(); f(); return performance.now() - t0; };
generate(model, 'The cat', { ...settings, n: 4 }, { tokenStats: true }); // warm-up
const plain = time(() => generate(model, 'The cat', settings));
let tokens = 0;
const stats = time(() => { tokens = generate(model, 'The cat', settings, { tokenStats: true }).usage.completion_tokens; });

const store = ResultsStore.open(join(mkdtempSync(join(tmpdir(), 'wander-bench-')), 'bench.sqlite'));
const cell = store.syncExperiment('bench', {}, undefined, [{
  key: 'k', model_spec: 'm', model_label: 'm', prompt: 'The cat', prompt_label: 'p', chat: false, preset: 'p', settings: {}, seeds: [1], samples: 32,
}])[0]!;
const run = generate(model, 'The cat', settings, { tokenStats: true });
const insert = time(() => { for (const s of run.samples) store.insertSample(cell.id, 1, s, { tokens: 2, ms: 1 }); });
store.close();
model.close();

console.log(`\nSweep overhead: 32 samples × 48 tokens, T 1 · top_p 0.95, a 1-layer 256-wide model with GPT-2's ${SPEC.vocab}-token vocabulary, 1 thread\n`);
console.log('| | ms | per token |');
console.log('| --- | ---: | ---: |');
console.log(`| generate | ${plain.toFixed(0)} | ${((plain / tokens) * 1000).toFixed(0)} µs |`);
console.log(`| generate + token statistics | ${stats.toFixed(0)} | ${((stats / tokens) * 1000).toFixed(0)} µs |`);
console.log(`| store 32 samples (one transaction each) | ${insert.toFixed(1)} | ${((insert / tokens) * 1000).toFixed(1)} µs (${(insert / 32).toFixed(2)} ms / sample) |`);
