import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../errors.js';
import { rngFor, Rng } from '../sampling/rng.js';
import { HfTokenizer } from '../tokenizer/hf.js';
import { AdamW, ADAMW_DEFAULTS, clipGradNorm, learningRate } from './adamw.js';
import { bpeFromTokenizerJson, trainBpe, type TrainedBpe } from './bpe.js';
import { writeGgufModel, writeHfModel } from './export.js';
import { Gpt2Graph, ParameterSet, parameterLayout, type Gpt2Shape } from './gpt2.js';
import { modelCard } from './model-card.js';
import { SIZES } from './presets.js';

export interface TrainOptions {
  corpus: string[];
  out: string;
  size: string;
  /** Vocabulary of the BPE trained on the corpus (ignored with `tokenizer`). */
  vocab: number;
  /** A tokenizer.json to reuse instead of training one (models of a ladder share one vocabulary). */
  tokenizer?: string;
  steps?: number;
  batch?: number;
  lr?: number;
  /** The cosine schedule ends at lr × minLrRatio. */
  minLrRatio: number;
  /** Warm-up steps (default: 5% of the steps). */
  warmup?: number;
  weightDecay: number;
  /** Global gradient-norm limit (0 = none). */
  clip: number;
  /** Share of the corpus (its end) held out for validation. */
  valFraction: number;
  evalEvery?: number;
  evalBatches: number;
  checkpointEvery?: number;
  seed: number;
  resume: boolean;
  name?: string;
  /** The command that ran, for the model card. */
  command?: string;
  onProgress?: (p: TrainProgress) => void;
  onLog?: (line: string) => void;
}

export const TRAIN_DEFAULTS = { vocab: 2048, minLrRatio: 0.1, weightDecay: ADAMW_DEFAULTS.weightDecay, clip: 1, valFraction: 0.05, evalBatches: 8, seed: 1, resume: false };

export interface TrainProgress {
  step: number;
  steps: number;
  trainLoss: number;
  valLoss?: number;
  tokensPerSecond: number;
  elapsedMs: number;
}

export interface TrainResult {
  out: string;
  parameters: number;
  steps: number;
  tokensSeen: number;
  trainLoss: number;
  valLoss: number;
  elapsedMs: number;
  files: string[];
}

/** What a checkpoint must agree on to be resumed. */
interface RunIdentity {
  shape: Gpt2Shape; corpus: string; seed: number; steps: number; batch: number; lr: number; minLrRatio: number;
  warmup: number; weightDecay: number; clip: number; valFraction: number;
}

interface CheckpointMeta {
  version: 1;
  step: number;
  identity: RunIdentity;
  elapsedMs: number;
  history: { step: number; train: number; val?: number }[];
  file: string;
}

/**
 * Trains a GPT-2-family model from scratch on text files: a byte-level BPE trained on the corpus,
 * AdamW with warm-up and a cosine schedule, gradient clipping, a held-out validation split, periodic
 * checkpoints (resumable, with the same result as an uninterrupted run), and at the end the model
 * as GGUF and as a Hugging Face folder with a model card. Everything is a function of the options
 * and the seed: the same command gives the same model.
 */
export function train(o: TrainOptions): TrainResult {
  const preset = SIZES[o.size];
  if (!preset) throw new UserError(`--size must be one of ${Object.keys(SIZES).join(', ')}, got ${JSON.stringify(o.size)}`, 'size');
  const { texts, sha: corpusSha } = readCorpus(o.corpus);
  try {
    mkdirSync(o.out, { recursive: true });
  } catch (e) {
    throw new UserError(`--out ${o.out}: cannot create the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'out');
  }
  const t0 = performance.now();

  // The tokenizer: the run's own (kept beside the checkpoints), a given one, or trained now.
  const tokPath = join(o.out, 'tokenizer.json');
  let bpe: TrainedBpe;
  if (o.resume && existsSync(tokPath)) bpe = bpeFromTokenizerJson(JSON.parse(readFileSync(tokPath, 'utf8')) as Record<string, unknown>, tokPath);
  else if (o.tokenizer) bpe = bpeFromTokenizerJson(readJson(o.tokenizer, '--tokenizer'), o.tokenizer);
  else {
    o.onLog?.(`training a ${o.vocab}-token BPE on ${o.corpus.length} file${o.corpus.length === 1 ? '' : 's'}`);
    bpe = trainBpe(texts, o.vocab);
  }
  writeFileSync(tokPath, JSON.stringify(bpe.json));
  const tok = new HfTokenizer(bpe.json, {}, { bosId: undefined, eosIds: [bpe.eosId] });

  // The corpus as one token stream (an end-of-text token between files); its end is the validation split.
  const ids: number[] = [];
  texts.forEach((t, i) => { if (i > 0) ids.push(bpe.eosId); for (const id of tok.encode(t)) ids.push(id); });
  const data = Int32Array.from(ids);
  const shape: Gpt2Shape = { vocab: bpe.tokens.length, context: preset.context, embd: preset.embd, layers: preset.layers, heads: preset.heads, ff: preset.ff, eps: 1e-5, tied: true };
  const T = shape.context, B = o.batch ?? preset.batch, steps = o.steps ?? preset.steps;
  const valStart = Math.floor(data.length * (1 - o.valFraction));
  if (valStart < T + 1 || data.length - valStart < T + 1) {
    throw new UserError(`--corpus is ${data.length} tokens: too small for ${T}-token training windows with a ${o.valFraction} validation split (need at least ${Math.ceil((T + 1) / Math.min(o.valFraction, 1 - o.valFraction))})`, 'corpus');
  }
  const identity: RunIdentity = {
    shape, corpus: corpusSha, seed: o.seed, steps, batch: B, lr: o.lr ?? preset.lr, minLrRatio: o.minLrRatio,
    warmup: o.warmup ?? Math.max(1, Math.round(steps / 20)), weightDecay: o.weightDecay, clip: o.clip, valFraction: o.valFraction,
  };

  const params = new ParameterSet(shape);
  const decay = decayMask(params);
  const opt = new AdamW(params.count, decay, { ...ADAMW_DEFAULTS, weightDecay: o.weightDecay });
  let step = 0, elapsedBefore = 0;
  let history: CheckpointMeta['history'] = [];
  const metaPath = join(o.out, 'checkpoint.json');
  if (o.resume && existsSync(metaPath)) {
    const meta = readJson(metaPath, 'checkpoint') as unknown as CheckpointMeta;
    const diff = Object.keys(identity).filter((k) => JSON.stringify((identity as unknown as Record<string, unknown>)[k]) !== JSON.stringify((meta.identity as unknown as Record<string, unknown>)[k]));
    if (diff.length) throw new UserError(`--resume: the checkpoint in ${o.out} was made with different ${diff.join(', ')}; use the same options, or another --out`, 'resume');
    const bin = readFileSync(join(o.out, meta.file));
    const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength)); // aligned copy
    if (all.length !== 3 * params.count) throw new UserError(`--resume: ${meta.file} is damaged (${all.length} values, expected ${3 * params.count})`, 'resume');
    params.data.set(all.subarray(0, params.count));
    opt.m.set(all.subarray(params.count, 2 * params.count));
    opt.v.set(all.subarray(2 * params.count));
    opt.t = meta.step;
    step = meta.step;
    elapsedBefore = meta.elapsedMs;
    history = meta.history;
    o.onLog?.(`resuming at step ${step} of ${steps}`);
  } else {
    if (o.resume) o.onLog?.(`--resume: no checkpoint in ${o.out} yet; starting from step 0`);
    initialize(params, o.seed);
  }

  const graph = new Gpt2Graph(params);
  const trainLen = valStart;
  const batch = (s: number) => {
    const rng = rngFor(o.seed, s);
    const x = new Int32Array(B * T), y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = Math.floor(rng.uniform() * (trainLen - T - 1));
      x.set(data.subarray(start, start + T), b * T);
      y.set(data.subarray(start + 1, start + T + 1), b * T);
    }
    return { x, y };
  };
  const valLoss = () => {
    let sum = 0;
    const n = o.evalBatches, span = data.length - valStart - T - 1;
    for (let i = 0; i < n; i++) {
      const start = valStart + Math.floor((span * i) / Math.max(1, n - 1));
      sum += graph.forward(data.subarray(start, start + T), data.subarray(start + 1, start + T + 1), 1, T);
    }
    return sum / n;
  };
  const evalEvery = o.evalEvery ?? Math.max(1, Math.round(steps / 20));
  const checkpointEvery = o.checkpointEvery ?? Math.max(1, Math.round(steps / 10));
  const runStart = performance.now();
  let lastTrain = history.at(-1)?.train ?? NaN, lastVal = [...history].reverse().find((h) => h.val !== undefined)?.val ?? NaN;
  const stepsAtStart = step;

  while (step < steps) {
    const { x, y } = batch(step);
    const loss = graph.forward(x, y, B, T);
    graph.zeroGrad();
    graph.backward();
    clipGradNorm(graph.grads.data, o.clip);
    opt.step(params.data, graph.grads.data, learningRate(step, steps, identity.lr, identity.lr * o.minLrRatio, identity.warmup));
    step++;
    lastTrain = loss;
    const entry: CheckpointMeta['history'][number] = { step, train: round4(loss) };
    if (step % evalEvery === 0 || step === steps) entry.val = lastVal = round4(valLoss());
    history.push(entry);
    const now = performance.now();
    o.onProgress?.({
      step, steps, trainLoss: loss, valLoss: entry.val ?? (Number.isNaN(lastVal) ? undefined : lastVal),
      tokensPerSecond: ((step - stepsAtStart) * B * T) / ((now - runStart) / 1000), elapsedMs: elapsedBefore + (now - t0),
    });
    if (step % checkpointEvery === 0 && step < steps) {
      try {
        saveCheckpoint(o.out, params, opt, { version: 1, step, identity, elapsedMs: elapsedBefore + (now - t0), history, file: '' });
      } catch (e) {
        throw new UserError(`--out ${o.out}: cannot write the step-${step} checkpoint (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the previous checkpoint is kept — free space and run again with --resume`, 'out');
      }
    }
  }
  if (Number.isNaN(lastVal)) lastVal = valLoss();
  const elapsedMs = elapsedBefore + (performance.now() - t0);

  // The model in both formats Wander reads, and its card.
  const name = o.name ?? basename(o.out);
  const files = [join(o.out, `${name}.gguf`), join(o.out, 'hf'), join(o.out, 'README.md'), join(o.out, 'train-log.json'), tokPath];
  const result: TrainResult = { out: o.out, parameters: params.count, steps, tokensSeen: steps * B * T, trainLoss: lastTrain, valLoss: lastVal, elapsedMs, files };
  try {
    writeGgufModel(files[0]!, params, bpe, name);
    writeHfModel(files[1]!, params, bpe);
    writeFileSync(files[3]!, JSON.stringify({ identity, history }, null, 1) + '\n');
    writeFileSync(files[2]!, modelCard({ name, corpus: o.corpus, corpusSha, corpusTokens: data.length, valTokens: data.length - valStart, identity, result, command: o.command }));
  } catch (e) {
    throw new UserError(`--out ${o.out}: cannot write the trained model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); free space and run again with --resume (it continues from the last checkpoint)`, 'out');
  }
  return result;
}

/** The corpus files' text, and one hash over all of them (for the card, and to match a checkpoint). */
function readCorpus(files: string[]): { texts: string[]; sha: string } {
  if (files.length === 0) throw new UserError('--corpus is required: one or more text files', 'corpus');
  const texts = files.map((f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new UserError(`--corpus ${f}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'corpus');
    }
  });
  const hash = createHash('sha256');
  texts.forEach((t) => hash.update(t).update('\u0000'));
  return { texts, sha: hash.digest('hex') };
}

/** GPT-2's initialisation: N(0, 0.02) weights, residual projections scaled by 1/√(2·layers), zero biases, unit LayerNorm gains. */
function initialize(p: ParameterSet, seed: number): void {
  const rng = new Rng(seed ^ 0x5eed);
  const normal = () => {
    const u = Math.max(rng.uniform(), 1e-12), v = rng.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const residualScale = 1 / Math.sqrt(2 * p.shape.layers);
  for (const { name, shape } of parameterLayout(p.shape)) {
    const t = p.get(name);
    if (/norm\.weight$/.test(name)) t.fill(1);
    else if (shape.length === 1) t.fill(0);
    else {
      const std = 0.02 * (/attn_output|ffn_down/.test(name) ? residualScale : 1);
      for (let i = 0; i < t.length; i++) t[i] = normal() * std;
    }
  }
}

/** Weight decay applies to matrices only (not to biases or LayerNorm gains). */
function decayMask(p: ParameterSet): Uint8Array {
  const mask = new Uint8Array(p.count);
  let offset = 0;
  for (const { shape } of parameterLayout(p.shape)) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (shape.length === 2) mask.fill(1, offset, offset + n);
    offset += n;
  }
  return mask;
}

/** Parameters and both Adam moments in one file, then the metadata naming it: a crash leaves the previous checkpoint whole. */
function saveCheckpoint(out: string, params: ParameterSet, opt: AdamW, meta: CheckpointMeta): void {
  const file = `checkpoint-${String(meta.step).padStart(7, '0')}.bin`;
  const all = new Float32Array(3 * params.count);
  all.set(params.data);
  all.set(opt.m, params.count);
  all.set(opt.v, 2 * params.count);
  writeFileSync(join(out, `${file}.tmp`), new Uint8Array(all.buffer));
  renameSync(join(out, `${file}.tmp`), join(out, file));
  const metaPath = join(out, 'checkpoint.json');
  const previous = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as CheckpointMeta).file : undefined;
  writeFileSync(`${metaPath}.tmp`, JSON.stringify({ ...meta, file }));
  renameSync(`${metaPath}.tmp`, metaPath);
  if (previous && previous !== file) rmSync(join(out, previous), { force: true });
}

function readJson(path: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`${what} ${path}: cannot read it as JSON (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, what.replace(/^--/, ''));
  }
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
