// `npm run bench` (part 4): training speed — forward, backward and the AdamW update — for each size
// preset, on batches of random tokens (the speed does not depend on the text). Not a test.
import { AdamW } from '../src/train/adamw.js';
import { Gpt2Graph, ParameterSet, type Gpt2Shape } from '../src/train/gpt2.js';
import { SIZES } from '../src/train/presets.js';
import { Rng } from '../src/sampling/rng.js';

const VOCAB = 2048, STEPS = 3;
console.log(`\nTraining speed: batch × context tokens per step, vocabulary ${VOCAB}, median of ${STEPS} steps after one warm-up step, 1 thread\n`);
console.log('| size | parameters | tokens / step | s / step | tokens / s |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [name, p] of Object.entries(SIZES)) {
  const shape: Gpt2Shape = { vocab: VOCAB, context: p.context, embd: p.embd, layers: p.layers, heads: p.heads, ff: p.ff, eps: 1e-5, tied: true };
  const params = new ParameterSet(shape);
  const rng = new Rng(1);
  for (let i = 0; i < params.count; i++) params.data[i] = (rng.uniform() - 0.5) * 0.04;
  const graph = new Gpt2Graph(params), opt = new AdamW(params.count, new Uint8Array(params.count).fill(1));
  const n = p.batch * p.context;
  const tokens = Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * VOCAB));
  const targets = Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * VOCAB));
  const times: number[] = [];
  for (let s = 0; s <= STEPS; s++) {
    const t0 = performance.now();
    graph.forward(tokens, targets, p.batch, p.context);
    graph.zeroGrad();
    graph.backward();
    opt.step(params.data, graph.grads.data, 1e-3);
    if (s > 0) times.push(performance.now() - t0);
  }
  const med = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]! / 1000;
  console.log(`| ${name} | ${params.count.toLocaleString('en-US')} | ${n} | ${med.toFixed(2)} | ${Math.round(n / med)} |`);
}
