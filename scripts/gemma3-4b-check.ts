// Does a Gemma 3 4B–sized model run in Wander's engine, inside WebAssembly's 4 GiB, with a 4096-position
// KV cache? Writes a model with gemma3-4b's exact shape (random weights, a 262 144-token SentencePiece
// vocabulary) as BF16, streamed tensor by tensor; quantizes it with llama.cpp's own llama-quantize;
// then loads each quantized file in a fresh process, allocates the 4k cache, runs a prompt and greedy
// decoding, and runs the real CLI on it. It also times the tokenizer and the sampling chain at 262k
// tokens against a 32k vocabulary, to show their costs grow linearly with the vocabulary.
//
//   npx tsx scripts/gemma3-4b-check.ts --out /tmp/g4b --llama-quantize /tmp/llama-src/build/bin/llama-quantize \
//     [--types Q4_K_M,Q5_K_M,IQ4_XS] [--keep] [--reuse] [--threads 2] [--context 4096]
//
// --keep leaves the (large) model files in --out; --reuse skips writing/quantizing files already there.
// Disk: ~7.8 GB for the BF16 source plus ~2.5–2.9 GB per quantized file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GgufMeta, readGguf } from '../src/formats/gguf.js';
import { writeGguf, type GgufKv, type GgufTensorOut, type TensorProducer } from '../src/formats/gguf-writer.js';
import { quantize } from '../src/formats/quant/index.js';
import { DType, dtypeName } from '../src/formats/tensor-types.js';
import { DEFAULTS } from '../src/generate/settings.js';
import { Heap } from '../src/kernels/heap.js';
import { loadModel, type LoadOptions } from '../src/model/load.js';
import { argmax, SamplingChain, type ChainInputs, type ChainSettings } from '../src/sampling/chain.js';
import { stepLogprobs } from '../src/sampling/logprobs.js';
import { Rng } from '../src/sampling/rng.js';
import type { SamplingContext } from '../src/sampling/sampler.js';
import { tokenStats } from '../src/sampling/token-stats.js';
import { tokenizerFromGguf } from '../src/tokenizer/from-gguf.js';
import { SpmTokenizer } from '../src/tokenizer/spm.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { vocabTexts } from '../src/tokenizer/vocab-texts.js';
import { GEMMA_CHAT_TEMPLATE, spmTokenizerMeta } from '../test/fixtures/models.js';
import { GEMMA_TURN_TOKENS, spmVocab } from '../test/fixtures/vocab.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SCRIPT), '..');
const GIB = 2 ** 30;

/** google/gemma-3-4b-it's text model, as llama.cpp's converter writes it. */
const GEMMA3_4B = {
  nLayer: 34, nEmbd: 2560, nFf: 10240, nHead: 8, nHeadKv: 4, headDim: 256, ctx: 131072, vocab: 262144,
  window: 1024, period: 6, ropeBase: 1e6, ropeBaseLocal: 10000, ropeScale: 8, eps: 1e-6,
} as const;
type Shape = { [K in keyof typeof GEMMA3_4B]: number };

// ---------------------------------------------------------------------------------------------------
// Vocabulary: the fixtures' SentencePiece vocabulary (bytes, letters, a few merges, Gemma's turn
// tokens), grown to the full size with unique, varied pieces. Every piece's prefixes are pieces too
// (added first, with higher scores), so SentencePiece merging can reach long pieces as in a real vocab;
// the words of the sample text are in it, then pseudo-words of 2–10 letters, most with the ▁ prefix.
// Scores descend with the id. A smaller size gives a prefix of the larger vocabulary.

interface SpmArrays { tokens: string[]; scores: number[]; types: number[] }

function gemmaLikeVocab(size: number): SpmArrays {
  const base = spmVocab(GEMMA_TURN_TOKENS);
  const tokens = [...base.tokens], scores = [...base.scores], types = [...base.types];
  const seen = new Set(tokens);
  let score = -32; // below the fixture's merges (−1 … −31), above its single letters (−1000)
  const add = (piece: string) => {
    const chars = Array.from(piece);
    for (let k = 1; k <= chars.length && tokens.length < size; k++) {
      const p = chars.slice(0, k).join('');
      if (seen.has(p)) continue;
      seen.add(p);
      tokens.push(p);
      scores.push(score);
      types.push(1);
      score -= 1e-4;
    }
  };
  for (const ch of ' 0123456789"#$%&()*+-/:;<=>@[]_`{|}~') add(ch === ' ' ? '▁' : ch);
  for (const p of ['\n', '\n\n', '▁(', '▁"', '▁-', '▁—', '’', '▁’']) add(p);
  const words = [...new Set(ENGLISH.match(/[A-Za-z']+/g) ?? [])];
  for (const w of words) { add(`▁${w}`); add(w); add(`▁${w[0]!.toUpperCase()}${w.slice(1)}`); }
  const rng = new Rng(262144, 11);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.uniform() * xs.length)]!;
  const ONSETS = ['', '', 'b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'y', 'z',
    'bl', 'br', 'ch', 'cl', 'cr', 'dr', 'fl', 'fr', 'gl', 'gr', 'pl', 'pr', 'qu', 'sc', 'sh', 'sk', 'sl', 'sm', 'sn', 'sp',
    'st', 'str', 'sw', 'th', 'tr', 'tw', 'wh'];
  const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'i', 'o', 'y', 'ai', 'ea', 'ee', 'ie', 'oa', 'oo', 'ou', 'au', 'ei'];
  const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'd', 'ck', 'ng', 'nd', 'st', 'rt', 'll', 'ss', 'th', 'sh', 'x', 'nt', 'rk', 'mp', 'ght'];
  while (tokens.length < size) {
    let w = '';
    const syllables = 1 + Math.floor(rng.uniform() * 3.2);
    for (let s = 0; s < syllables; s++) w += pick(ONSETS) + pick(VOWELS) + pick(CODAS);
    if (w.length < 2 || w.length > 10) continue;
    const r = rng.uniform();
    add(r < 0.6 ? `▁${w}` : r < 0.7 ? `▁${w[0]!.toUpperCase()}${w.slice(1)}` : w);
  }
  return { tokens, scores, types };
}

function tokenizerMeta(v: SpmArrays): Record<string, GgufKv> {
  return { 'tokenizer.chat_template': { type: 'string', value: GEMMA_CHAT_TEMPLATE }, ...spmTokenizerMeta(v) };
}

/** The metadata of gemma3-4b's GGUF (as the fixture generator lays it out, at the real model's values). */
function gemma3Meta(s: Shape, v: SpmArrays): Record<string, GgufKv> {
  const u32 = (value: number): GgufKv => ({ type: 'u32', value });
  const f32 = (value: number): GgufKv => ({ type: 'f32', value });
  return {
    'general.architecture': { type: 'string', value: 'gemma3' },
    'general.name': { type: 'string', value: 'wander-gemma3-4b-shaped' },
    'general.file_type': u32(32), // LLAMA_FTYPE_MOSTLY_BF16
    'gemma3.context_length': u32(s.ctx),
    'gemma3.embedding_length': u32(s.nEmbd),
    'gemma3.block_count': u32(s.nLayer),
    'gemma3.feed_forward_length': u32(s.nFf),
    'gemma3.attention.head_count': u32(s.nHead),
    'gemma3.attention.head_count_kv': u32(s.nHeadKv),
    'gemma3.attention.layer_norm_rms_epsilon': f32(s.eps),
    'gemma3.rope.freq_base': f32(s.ropeBase),
    'gemma3.rope.dimension_count': u32(s.headDim),
    'gemma3.attention.key_length': u32(s.headDim),
    'gemma3.attention.value_length': u32(s.headDim),
    'gemma3.attention.sliding_window': u32(s.window),
    'gemma3.attention.sliding_window_pattern': u32(s.period),
    'gemma3.rope.freq_base_swa': f32(s.ropeBaseLocal),
    'gemma3.rope.scaling.type': { type: 'string', value: 'linear' },
    'gemma3.rope.scaling.factor': f32(s.ropeScale),
    ...tokenizerMeta(v),
  };
}

// ---------------------------------------------------------------------------------------------------
// Random weights, streamed: each tensor from its own seeded generator, a few MB of rows at a time.

/** Values per chunk a producer encodes and emits (16 MB of f32). */
const CHUNK_VALUES = 4 << 20;

function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Uniform values of standard deviation `std` around `mean` (mulberry32: fast and deterministic). */
function fillUniform(x: Float32Array, state: { a: number }, mean: number, std: number): void {
  const half = std * Math.sqrt(3);
  let a = state.a;
  for (let i = 0; i < x.length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    x[i] = mean + (2 * u - 1) * half;
  }
  state.a = a;
}

interface WeightSpec { name: string; rows: number; cols: number; mean: number; std: number }

function gemma3Weights(s: Shape): WeightSpec[] {
  const d = s.nEmbd, q = s.nHead * s.headDim, kv = s.nHeadKv * s.headDim;
  const out: WeightSpec[] = [];
  const mat = (name: string, rows: number, cols: number, std = 1 / Math.sqrt(cols)) => out.push({ name, rows, cols, mean: 0, std });
  // Gemma's GGUF stores the RMSNorm weight as 1 + w: values around 1.
  const norm = (name: string, n: number) => out.push({ name, rows: 1, cols: n, mean: 1, std: 0.1 / Math.sqrt(3) });
  // Embeddings: scaled by √d_model on the way in (rms ≈ 2.5) and tied as the unembedding (logit std ≈ 2.5).
  mat('token_embd.weight', s.vocab, d, 0.05);
  for (let i = 0; i < s.nLayer; i++) {
    const p = `blk.${i}.`;
    norm(p + 'attn_norm.weight', d);
    mat(p + 'attn_q.weight', q, d, 2 / Math.sqrt(d));
    mat(p + 'attn_k.weight', kv, d, 2 / Math.sqrt(d));
    mat(p + 'attn_v.weight', kv, d);
    norm(p + 'attn_q_norm.weight', s.headDim);
    norm(p + 'attn_k_norm.weight', s.headDim);
    mat(p + 'attn_output.weight', d, q);
    norm(p + 'post_attention_norm.weight', d);
    norm(p + 'ffn_norm.weight', d);
    norm(p + 'post_ffw_norm.weight', d);
    mat(p + 'ffn_gate.weight', s.nFf, d);
    mat(p + 'ffn_up.weight', s.nFf, d);
    mat(p + 'ffn_down.weight', d, s.nFf);
  }
  norm('output_norm.weight', d);
  return out; // tied embeddings: no output.weight
}

function producer(w: WeightSpec, dtype: DType, seed: number): TensorProducer {
  return (emit) => {
    const state = { a: (seedOf(w.name) ^ seed) | 0 };
    const rowsPer = Math.max(1, Math.floor(CHUNK_VALUES / w.cols));
    const buf = new Float32Array(Math.min(rowsPer, w.rows) * w.cols);
    for (let r = 0; r < w.rows; r += rowsPer) {
      const x = buf.subarray(0, Math.min(rowsPer, w.rows - r) * w.cols);
      fillUniform(x, state, w.mean, w.std);
      emit(quantize(dtype, x));
    }
  };
}

function writeSource(path: string, dtype: DType, s: Shape): void {
  let t = performance.now();
  const vocab = gemmaLikeVocab(s.vocab);
  log(`  vocabulary: ${vocab.tokens.length} pieces built in ${secs(t)} (e.g. ${vocab.tokens.slice(2000, 2008).map((x) => JSON.stringify(x)).join(' ')})`);
  const specs = gemma3Weights(s);
  const params = specs.reduce((n, w) => n + w.rows * w.cols, 0);
  log(`  ${specs.length} tensors, ${(params / 1e9).toFixed(3)} B parameters (tied embeddings), ${dtypeName(dtype)} for matrices, F32 for norms`);
  t = performance.now();
  let done = 0;
  const tensors: GgufTensorOut[] = specs.map((w) => {
    const type = w.rows === 1 ? DType.F32 : dtype;
    const make = producer(w, type, 0x9e3779b9);
    return {
      name: w.name, dtype: type, ne: w.rows === 1 ? [w.cols] : [w.cols, w.rows],
      data: (emit) => {
        make(emit);
        done += w.rows * w.cols;
        if (w.name.endsWith('ffn_down.weight') || w.name === 'token_embd.weight') {
          process.stdout.write(`  … ${w.name.padEnd(24)} ${(100 * done / params).toFixed(0).padStart(3)}%  ${secs(t)}\n`);
        }
      },
    };
  });
  writeGguf(path, gemma3Meta(s, vocab), tensors);
  log(`  wrote ${basename(path)}: ${gb(statSync(path).size)} in ${secs(t)}`);
}

// ---------------------------------------------------------------------------------------------------
// Child: one quantized file in a fresh process (so the heap numbers are this model's alone).

interface ModelResult {
  file: string; kv: string; stage: string; error?: string;
  loadS?: number; types?: Record<string, number>; heapAfterLoad?: number; heapAfterCache?: number; cacheBytes?: number;
  heapCapacity?: number; heapAvailableAfterCache?: number; rssMiB?: number; kvApplied?: string;
  promptTokens?: number; promptS?: number; promptTokS?: number; decodeTokens?: number; decodeS?: number; decodeTokS?: number;
  nonFinite?: number; logitStats?: string; text?: string; generated?: number[];
  lateFrom?: number; lateTokS?: number; lateNonFinite?: number; heapAfterRun?: number;
}

const PROMPT = 'The old lighthouse keeper climbed the narrow stairs every evening, lit the great lamp, and watched the ships pass safely through the dark water below.';

function childModel(file: string, kv: string, resultPath: string, threads: number, context: number, decode: number): void {
  const r: ModelResult = { file, kv, stage: 'load' };
  const save = () => writeFileSync(resultPath, JSON.stringify(r, null, 2));
  try {
    const opts: LoadOptions & { kv?: 'f32' | 'f16' } = { threads, ...(kv === 'f16' ? { kv: 'f16' as const } : {}) };
    let t = performance.now();
    const model = loadModel(file, opts);
    r.loadS = (performance.now() - t) / 1000;
    const types: Record<string, number> = {};
    for (const ti of model.source.tensors.values()) types[dtypeName(ti.dtype)] = (types[dtypeName(ti.dtype)] ?? 0) + 1;
    r.types = types;
    r.heapAfterLoad = model.heap.used;
    r.heapCapacity = Heap.capacity;
    out(`    loaded in ${r.loadS.toFixed(1)} s with ${model.kernels}, ${model.threads} threads; ${(model.parameters / 1e9).toFixed(3)} B parameters`);
    out(`    tensor types: ${Object.entries(types).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    out(`    heap after load: ${gib(model.heap.used)} used of ${gib(Heap.capacity)} (${gib(model.heap.available)} free)`);
    r.stage = 'cache'; save();
    const before = model.heap.used;
    const cache = model.newCache(context);
    r.heapAfterCache = model.heap.used;
    r.cacheBytes = model.heap.used - before;
    r.heapAvailableAfterCache = model.heap.available;
    const type = (cache as { type?: string }).type ?? 'f32';
    r.kvApplied = type;
    out(`    KV cache: ${cache.capacity} positions, ${type}, ${gib(r.cacheBytes)} (incl. attention scratch); heap now ${gib(model.heap.used)} used, ${gib(model.heap.available)} free`);
    if (kv === 'f16' && type !== 'f16') throw new Error(`asked for kv f16 but the cache is ${type}`);

    r.stage = 'prompt'; save();
    const tok = model.tokenizer;
    const ids = tok.encode(PROMPT).slice(0, 20);
    r.promptTokens = ids.length;
    out(`    prompt: ${ids.length} tokens ${JSON.stringify(tok.decode(ids))}`);
    t = performance.now();
    let logits = Float32Array.from(model.forward(ids, cache));
    r.promptS = (performance.now() - t) / 1000;
    r.promptTokS = ids.length / r.promptS;
    r.logitStats = stats(logits);
    let nonFinite = countNonFinite(logits);
    out(`    prompt pass: ${r.promptS.toFixed(2)} s (${r.promptTokS.toFixed(2)} tok/s); logits ${r.logitStats}`);

    r.stage = 'decode'; save();
    const generated: number[] = [];
    t = performance.now();
    for (let i = 0; i < decode; i++) {
      const next = argmax(logits);
      generated.push(next);
      logits = Float32Array.from(model.forward([next], cache));
      nonFinite += countNonFinite(logits);
    }
    r.decodeS = (performance.now() - t) / 1000;
    r.decodeTokens = decode;
    r.decodeTokS = decode / r.decodeS;
    r.nonFinite = nonFinite;
    r.generated = generated;
    r.text = tok.decode(generated);
    out(`    decode: ${decode} greedy steps in ${r.decodeS.toFixed(2)} s (${r.decodeTokS.toFixed(2)} tok/s); non-finite logits: ${nonFinite}`);
    out(`    generated ids ${JSON.stringify(generated)}`);
    out(`    text ${JSON.stringify(r.text)}`);

    // The top of the cache: positions context−4 … context−1, the last rows of the heap's KV buffers.
    // Earlier positions are left as allocated (zeros), not computed: this checks addressing and
    // finiteness at the end of a full 4k context, and decode speed when global layers attend to 4k keys.
    r.stage = 'late'; save();
    const late = 4;
    cache.length = cache.capacity - late;
    r.lateFrom = cache.length;
    let lateNonFinite = 0;
    t = performance.now();
    for (let i = 0; i < late; i++) {
      const next = argmax(logits);
      logits = Float32Array.from(model.forward([next], cache));
      lateNonFinite += countNonFinite(logits);
    }
    r.lateTokS = late / ((performance.now() - t) / 1000);
    r.lateNonFinite = lateNonFinite;
    out(`    end of the cache: positions ${r.lateFrom}…${cache.length - 1} at ${r.lateTokS.toFixed(2)} tok/s; non-finite logits: ${lateNonFinite}; cache length ${cache.length}/${cache.capacity}`);
    r.heapAfterRun = model.heap.used;
    r.rssMiB = process.memoryUsage().rss / 2 ** 20;
    out(`    heap after the run: ${gib(model.heap.used)} (unchanged: ${model.heap.used === r.heapAfterCache}); process RSS ${r.rssMiB.toFixed(0)} MiB`);
    r.stage = 'done';
    model.close();
  } catch (e) {
    r.error = (e as Error).stack ?? String(e);
    out(`    FAILED at ${r.stage}: ${(e as Error).message}`);
    process.exitCode = 1;
  }
  save();
}

// ---------------------------------------------------------------------------------------------------
// Child: tokenizer and sampling chain at 32k and 262k.

interface Timing { op: string; small: number; large: number; unit: string; note?: string }

function childVocab(srcModel: string, outDir: string, resultPath: string): void {
  const sizes = [32768, GEMMA3_4B.vocab];
  const rows: Timing[] = [];
  const per: Record<number, Record<string, number>> = {};
  const notes: string[] = [];
  const text = tenKb();
  out(`    sample text: ${text.length} characters (${Buffer.byteLength(text)} bytes)`);
  for (const V of sizes) {
    const m: Record<string, number> = (per[V] = {});
    let t = performance.now();
    const v = gemmaLikeVocab(V);
    m.build = ms(t);
    const path = join(outDir, `vocab-${V}.gguf`);
    writeGguf(path, { 'general.architecture': { type: 'string', value: 'gemma3' }, ...tokenizerMeta(v) }, []);
    // Tokenizer construction: the GGUF metadata read and the tokenizer built from it.
    t = performance.now();
    const f = readGguf(path);
    m.readMeta = ms(t);
    t = performance.now();
    const tok = tokenizerFromGguf(new GgufMeta(f));
    m.construct = ms(t);
    f.close();
    t = performance.now();
    new SpmTokenizer({ ...v, bosId: 1, eosIds: [2], unkId: 0, addBos: true, addSpacePrefix: true });
    m.constructDirect = ms(t);
    // Encoding: the 10 kB text, and 4× that, best of 5 after a warm-up.
    const ids = tok.encode(text);
    m.tokens = ids.length;
    m.encode = best(5, () => tok.encode(text));
    m.encodePerToken = (m.encode * 1000) / ids.length;
    const text4 = text.repeat(4);
    const ids4 = tok.encode(text4);
    m.encode4 = best(3, () => tok.encode(text4));
    m.encode4PerToken = (m.encode4 * 1000) / ids4.length;
    const text16 = text.repeat(16);
    const ids16 = tok.encode(text16);
    m.encode16 = best(2, () => tok.encode(text16));
    m.encode16PerToken = (m.encode16 * 1000) / ids16.length;
    m.decode = best(5, () => tok.decode(ids));
    if (tok.decode(ids) !== ` ${text}`) notes.push(`${V}: decode(encode(text)) is not ' ' + text`);
    t = performance.now();
    vocabTexts(tok, V);
    m.vocabTexts = ms(t);
    out(`    ${V} pieces: built ${m.build.toFixed(0)} ms; GGUF metadata read ${m.readMeta.toFixed(1)} ms; tokenizerFromGguf ${m.construct.toFixed(1)} ms (direct ${m.constructDirect.toFixed(1)} ms); ` +
      `encode 10 kB → ${ids.length} tokens in ${m.encode.toFixed(2)} ms (${m.encodePerToken.toFixed(2)} µs/token), 40 kB ${m.encode4.toFixed(2)} ms (${m.encode4PerToken.toFixed(2)} µs/token), 160 kB ${m.encode16.toFixed(1)} ms (${m.encode16PerToken.toFixed(2)} µs/token); decode ${m.decode.toFixed(2)} ms; vocabTexts ${m.vocabTexts.toFixed(0)} ms`);
    sampling(V, m, tok);
  }
  // The real model file (262k): its metadata read and tokenizer, as loadModel does it.
  if (existsSync(srcModel)) {
    let t = performance.now();
    const f = readGguf(srcModel);
    const readMs = ms(t);
    t = performance.now();
    const tok = tokenizerFromGguf(new GgufMeta(f));
    const tokMs = ms(t);
    f.close();
    notes.push(`${basename(srcModel)}: header read ${readMs.toFixed(1)} ms, tokenizerFromGguf ${tokMs.toFixed(1)} ms (${tok.vocabSize} tokens)`);
  }
  const [a, b] = sizes.map((V) => per[V]!) as [Record<string, number>, Record<string, number>];
  const add = (op: string, key: string, unit: string) => rows.push({ op, small: a[key]!, large: b[key]!, unit });
  add('tokenizerFromGguf (construct)', 'construct', 'ms');
  add('GGUF metadata read', 'readMeta', 'ms');
  add('encode 10 kB, per token', 'encodePerToken', 'µs');
  add('encode 40 kB, per token', 'encode4PerToken', 'µs');
  add('encode 160 kB, per token', 'encode16PerToken', 'µs');
  add('decode 10 kB', 'decode', 'ms');
  add('vocabTexts (all token texts, once)', 'vocabTexts', 'ms');
  for (const k of Object.keys(b).filter((k) => k.startsWith('step:'))) add(k.slice(5), k, 'ms');
  writeFileSync(resultPath, JSON.stringify({ rows, per, notes }, null, 2));
  for (const n of notes) out(`    note: ${n}`);
}

/** One sampling step (median of many) through several chains, on logits shaped like a language model's. */
function sampling(V: number, m: Record<string, number>, tok: Tokenizer): void {
  const rng = new Rng(7, 1);
  const logits = new Float32Array(V);
  for (let i = 0; i < V; i++) logits[i] = 2.5 * gauss(rng);
  for (let i = 0; i < 20; i++) logits[Math.floor(rng.uniform() * V)] = 9 + 3 * rng.uniform(); // a few clear favourites
  const flat = logits.map((x) => x * 0.2); // a flat distribution: top-p/typical keep most of the vocabulary
  const ctx: SamplingContext = { tokens: [1, 500, 600], promptLength: 2, text: 'The K' };
  const base = { ...DEFAULTS } as ChainSettings;
  const usual = { temperature: 0.8, top_k: 40, top_p: 0.95, min_p: 0.05, typical_p: 0.95 };
  const chains: [string, Partial<ChainSettings>, Float32Array, ChainInputs?][] = [
    ['defaults (T=1, nothing truncated)', {}, logits],
    ['hf: T0.8 top-k40 top-p0.95 min-p0.05 typical0.95', usual, logits],
    ['llama.cpp order, same settings', { ...usual, chain: 'llama.cpp' }, logits],
    ['no top-k: T0.8 top-p0.95 typical0.95', { temperature: 0.8, top_p: 0.95, typical_p: 0.95 }, logits],
    ['no top-k, flat logits: T0.8 top-p0.95 typical0.95', { temperature: 0.8, top_p: 0.95, typical_p: 0.95 }, flat],
    ['penalties + top-k40 (rep 1.1, freq 0.2)', { ...usual, repetition_penalty: 1.1, frequency_penalty: 0.2 }, logits],
    ['banned string "Kwa" (vocab scan) + usual', usual, logits, { bannedStrings: ['Kwa'] }],
    ['greedy (T=0)', { temperature: 0 }, logits],
  ];
  for (const [name, settings, l, inputs] of chains) {
    const chain = new SamplingChain({ ...base, ...settings }, { eosIds: tok.eosIds, vocabTexts: () => vocabTexts(tok, V), ...inputs });
    const r = new Rng(1, 0);
    m[`step:${name}`] = median(V > 100000 ? 15 : 40, () => chain.sample(l, r, ctx));
  }
  const usualChain = new SamplingChain({ ...base, ...usual }, { eosIds: tok.eosIds });
  const r = new Rng(2, 0);
  m['step:sampleWithEntropy (usual)'] = median(15, () => usualChain.sampleWithEntropy(logits, r, ctx));
  m['step:sampleWithTrace top 10 (usual)'] = median(10, () => usualChain.sampleWithTrace(logits, r, ctx, 10, (id) => tok.tokenText(id)));
  m['step:stepLogprobs top 5'] = median(15, () => stepLogprobs(logits, 5, 5, (id) => tok.tokenText(id)));
  m['step:tokenStats'] = median(15, () => tokenStats(logits, 5));
  m['step:argmax'] = median(15, () => argmax(logits));
  out(`    ${V} sampling steps (ms): ${Object.entries(m).filter(([k]) => k.startsWith('step:')).map(([k, x]) => `${k.slice(5)} ${x.toFixed(3)}`).join('; ')}`);
}

// ---------------------------------------------------------------------------------------------------
// Parent: the whole check.

interface QuantResult { type: string; file: string; ok: boolean; seconds: number; bytes: number; detail: string }
interface CliResult { ok: boolean; code: number | null; seconds: number; stdout: string; stderr: string; kv: string }

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      'llama-quantize': { type: 'string' },
      types: { type: 'string', default: 'Q4_K_M,Q5_K_M,IQ4_XS' },
      keep: { type: 'boolean', default: false },
      reuse: { type: 'boolean', default: false },
      threads: { type: 'string', default: '2' },
      context: { type: 'string', default: '4096' },
      decode: { type: 'string', default: '16' },
      layers: { type: 'string', default: String(GEMMA3_4B.nLayer) }, // fewer, for a quick smoke test of the script
      source: { type: 'string', default: 'bf16' },
      child: { type: 'string' },
      file: { type: 'string' },
      kv: { type: 'string', default: 'f32' },
      result: { type: 'string' },
    },
    strict: true,
  });
  const threads = Number(values.threads), context = Number(values.context), decode = Number(values.decode);
  if (values.child === 'model') return childModel(values.file!, values.kv!, values.result!, threads, context, decode);
  if (values.child === 'vocab') return childVocab(values.file!, values.out!, values.result!);
  if (!values.out || !values['llama-quantize']) {
    console.error('usage: npx tsx scripts/gemma3-4b-check.ts --out DIR --llama-quantize PATH [--types Q4_K_M,Q5_K_M,IQ4_XS] [--keep] [--reuse] [--threads 2] [--context 4096] [--source bf16|f16]');
    process.exitCode = 2;
    return;
  }
  const outDir = resolve(values.out), lq = resolve(values['llama-quantize']);
  const types = values.types!.split(',').map((s) => s.trim()).filter(Boolean);
  const srcType = values.source === 'f16' ? DType.F16 : DType.BF16;
  mkdirSync(outDir, { recursive: true });
  const started = performance.now();
  log(`# gemma3-4b-shaped check — ${new Date().toISOString()}`);
  log(`node ${process.version}, ${availableParallelism()} cores; out ${outDir}; llama-quantize ${lq}; types ${types.join(', ')}; threads ${threads}; context ${context}`);
  const s: Shape = { ...GEMMA3_4B, nLayer: Number(values.layers) };
  log(`shape: gemma3, ${s.nLayer} layers, d_model ${s.nEmbd}, d_ff ${s.nFf}, ${s.nHead} heads / ${s.nHeadKv} KV heads × ${s.headDim}, vocab ${s.vocab}, window ${s.window} (1 global layer in ${s.period}), context ${s.ctx}`);
  const kvLib = /kv\?\s*:/.test(readFileSync(join(ROOT, 'src/model/load.ts'), 'utf8'));
  const help = spawnSync(process.execPath, [join(ROOT, 'bin/wander.mjs'), 'generate', '--help'], { cwd: ROOT, encoding: 'utf8' });
  const kvCli = /--kv\b/.test(help.stdout ?? '');
  log(`f16 KV cache: LoadOptions.kv ${kvLib ? 'present' : 'absent'}; CLI --kv ${kvCli ? 'present' : 'absent'}`);

  // 1. The BF16 (or F16) source.
  const tag = s.nLayer === GEMMA3_4B.nLayer ? 'gemma3-4b-shaped' : `gemma3-4b-shaped-${s.nLayer}layers`;
  const src = join(outDir, `${tag}-${dtypeName(srcType).toLowerCase()}.gguf`);
  log(`\n## 1. Source model ${basename(src)}`);
  if (values.reuse && existsSync(src)) log(`  reusing ${src} (${gb(statSync(src).size)})`);
  else writeSource(src, srcType, s);

  // 2. llama-quantize.
  log('\n## 2. llama-quantize');
  const quants: QuantResult[] = [];
  const env = { ...process.env, LD_LIBRARY_PATH: [dirname(lq), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  for (const type of types) {
    const file = join(outDir, `${tag}-${type}.gguf`);
    if (values.reuse && existsSync(file)) {
      quants.push({ type, file, ok: true, seconds: 0, bytes: statSync(file).size, detail: 'reused' });
      log(`  ${type}: reusing ${basename(file)} (${gb(statSync(file).size)})`);
      continue;
    }
    const t = performance.now();
    const r = spawnSync(lq, [src, file, type, String(availableParallelism())], { env, encoding: 'utf8', maxBuffer: 512 << 20 });
    const seconds = (performance.now() - t) / 1000;
    const all = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    const logFile = join(outDir, `llama-quantize-${type}.log`);
    writeFileSync(logFile, `$ ${lq} ${src} ${file} ${type}\n${all}`);
    const ok = r.status === 0 && existsSync(file);
    const bytes = ok ? statSync(file).size : 0;
    const key = all.split('\n').filter((l) => /model size|quant size|quantize time|total time|error|failed|warning/i.test(l)).map((l) => l.trim());
    quants.push({ type, file, ok, seconds, bytes, detail: key.join(' | ') });
    log(`  ${type}: ${ok ? 'ok' : `FAILED (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}${r.error ? `, ${r.error.message}` : ''})`} in ${seconds.toFixed(1)} s, ${gb(bytes)}; full output in ${basename(logFile)}`);
    for (const l of key) log(`    ${l}`);
    if (!ok) for (const l of all.trim().split('\n').slice(-8)) log(`    | ${l}`);
  }

  // 3. Tokenizer and sampling at 32k vs 262k.
  log('\n## 3. Tokenizer and sampling: 32 768 vs 262 144 tokens');
  const vocabResult = join(outDir, 'vocab-result.json');
  rmSync(vocabResult, { force: true });
  const vr = child(['--child', 'vocab', '--file', src, '--out', outDir, '--result', vocabResult]);
  let vocab: { rows: Timing[]; notes: string[] } | undefined;
  if (existsSync(vocabResult)) vocab = JSON.parse(readFileSync(vocabResult, 'utf8'));
  else log(`  vocabulary child failed (exit ${vr.status}${vr.signal ? `, ${vr.signal}` : ''})`);

  // 4. Each quantized file in Wander's engine.
  log(`\n## 4. Wander's engine: load, ${context}-position KV cache, prompt, decode; and the CLI`);
  const runs: { q: QuantResult; m?: ModelResult; exit: string; cli?: CliResult }[] = [];
  for (const q of quants.filter((x) => x.ok)) {
    for (const kv of kvLib ? ['f32', 'f16'] : ['f32']) {
      log(`\n### ${q.type}, KV ${kv} — ${basename(q.file)} (${gb(q.bytes)})`);
      const resultPath = join(outDir, `result-${q.type}-${kv}.json`);
      rmSync(resultPath, { force: true });
      const r = child(['--child', 'model', '--file', q.file, '--kv', kv, '--result', resultPath, '--threads', String(threads), '--context', String(context), '--decode', String(decode)]);
      const m: ModelResult | undefined = existsSync(resultPath) ? JSON.parse(readFileSync(resultPath, 'utf8')) : undefined;
      const exit = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
      if (!m || m.error || r.status !== 0) log(`    child ${exit}${m?.error ? `; error: ${m.error.split('\n')[0]}` : ''} (stage ${m?.stage ?? 'start'})`);
      const cli = kv === 'f32' || kvCli ? runCli(q.file, threads, kv === 'f16' ? 'f16' : undefined) : undefined;
      runs.push({ q, m, exit, cli });
    }
    if (!kvLib) log('    (f16 KV not measured: LoadOptions has no kv option in this tree)');
  }

  // 5. Summary.
  log('\n## Summary');
  log(`source ${basename(src)}: ${existsSync(src) ? gb(statSync(src).size) : '(gone)'}`);
  log('\n| type | KV | file size | quantize s | load s | heap after load GiB | heap with 4k cache GiB | free GiB | prompt tok/s | decode tok/s | decode tok/s @4k | finite | CLI ok |');
  log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const { q, m, exit, cli } of runs) {
    const f = (x: number | undefined, d = 2) => (x === undefined ? '—' : x.toFixed(d));
    const finite = m?.nonFinite === undefined ? '—' : m.nonFinite + (m.lateNonFinite ?? 0) === 0 ? 'yes' : `NO (${m.nonFinite}+${m.lateNonFinite ?? '?'})`;
    const fail = m?.error || exit !== 'exit 0' ? ` (${m?.stage ?? 'start'}: ${exit})` : '';
    log(`| ${q.type}${fail} | ${m?.kvApplied ?? m?.kv ?? '?'} | ${gb(q.bytes)} | ${q.seconds ? q.seconds.toFixed(0) : 'reused'} | ${f(m?.loadS, 1)} | ${f(m?.heapAfterLoad && m.heapAfterLoad / GIB, 3)} | ${f(m?.heapAfterCache && m.heapAfterCache / GIB, 3)} | ${f(m?.heapAvailableAfterCache && m.heapAvailableAfterCache / GIB, 3)} | ${f(m?.promptTokS)} | ${f(m?.decodeTokS)} | ${f(m?.lateTokS)} | ${finite} | ${cli ? (cli.ok ? `yes (${cli.seconds.toFixed(0)} s)` : `NO (exit ${cli.code})`) : 'not run'} |`);
  }
  for (const q of quants.filter((x) => !x.ok)) log(`| ${q.type} | — | quantize FAILED | ${q.seconds.toFixed(0)} | | | | | | | | | |`);
  if (vocab) {
    log('\n| operation | 32 768 | 262 144 | ratio (8 = linear) |');
    log('|---|---|---|---|');
    for (const r of vocab.rows) log(`| ${r.op} | ${r.small.toFixed(3)} ${r.unit} | ${r.large.toFixed(3)} ${r.unit} | ${(r.large / r.small).toFixed(1)}× |`);
    for (const n of vocab.notes) log(`note: ${n}`);
  }
  log(`\ntotal ${secs(started)}`);

  if (!values.keep) {
    for (const p of [src, ...quants.map((q) => q.file), join(outDir, 'vocab-32768.gguf'), join(outDir, `vocab-${GEMMA3_4B.vocab}.gguf`)]) rmSync(p, { force: true });
    log(`deleted the model files (pass --keep to keep them)`);
  }
}

function child(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: ROOT, stdio: 'inherit' });
}

function runCli(file: string, threads: number, kv?: string): CliResult {
  const args = [join(ROOT, 'bin/wander.mjs'), 'generate', '--model', file, '--prompt', 'Once upon a time', '--max-tokens', '8', '--temperature', '0', '--threads', String(threads), ...(kv ? ['--kv', kv] : [])];
  log(`    $ node bin/wander.mjs ${args.slice(1).map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t) / 1000;
  const res: CliResult = { ok: r.status === 0, code: r.status, seconds, stdout: r.stdout ?? '', stderr: r.stderr ?? '', kv: kv ?? 'f32' };
  log(`    exit ${r.status}${r.signal ? ` (${r.signal})` : ''} after ${seconds.toFixed(1)} s`);
  for (const l of res.stdout.trimEnd().split('\n')) log(`    stdout| ${l}`);
  for (const l of res.stderr.trimEnd().split('\n').filter(Boolean).slice(-15)) log(`    stderr| ${l}`);
  return res;
}

// ---------------------------------------------------------------------------------------------------
// Helpers.

function log(s: string): void {
  process.stdout.write(`${s}\n`);
}
const out = log;
const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const ms = (t0: number) => performance.now() - t0;
const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
const gib = (n: number) => `${(n / GIB).toFixed(3)} GiB`;

function best(n: number, f: () => unknown): number {
  f();
  let b = Infinity;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

function median(n: number, f: () => unknown): number {
  for (let i = 0; i < 3; i++) f();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  xs.sort((a, b) => a - b);
  return xs[Math.floor(n / 2)]!;
}

function gauss(rng: Rng): number {
  const u = Math.max(rng.uniform(), 1e-12), v = rng.uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function countNonFinite(x: Float32Array): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) n++;
  return n;
}

function stats(x: Float32Array): string {
  let min = Infinity, max = -Infinity, sum = 0, sq = 0, n = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) continue;
    min = Math.min(min, v); max = Math.max(max, v); sum += v; sq += v * v; n++;
  }
  const mean = sum / n;
  return `min ${min.toFixed(2)} max ${max.toFixed(2)} mean ${mean.toFixed(2)} std ${Math.sqrt(Math.max(0, sq / n - mean * mean)).toFixed(2)} over ${x.length}`;
}

/** About 10 kB of plain English prose. */
function tenKb(): string {
  let s = '';
  for (let i = 0; Buffer.byteLength(s) < 10_000; i++) s += (i ? '\n\n' : '') + ENGLISH_PARAGRAPHS[i % ENGLISH_PARAGRAPHS.length];
  return s;
}

const ENGLISH_PARAGRAPHS = [
  'The village sat at the bottom of a long valley, where the river slowed and spread into a wide, shallow lake. In the summer the children swam from the wooden pier, and in the winter the whole town came out to skate on the ice. Nobody could remember when the first houses had been built, but the oldest people said their grandparents had told them stories about the time before the road, when everything had to be carried over the mountain on the backs of mules.',
  'Scientists have long wondered why some birds migrate thousands of miles every year while others stay close to home. Recent studies suggest that the answer depends on food, weather, and the length of the day. When the days grow shorter, hormones change the behaviour of the birds, and they begin to eat more, storing fat for the journey. Some species fly at night, using the stars to find their way, while others follow rivers and coastlines that they seem to remember from previous years.',
  'She opened the letter slowly, as if the paper itself might break. It was written in a careful, old-fashioned hand, and it was signed by a man she had never met. He said that he had known her mother many years ago, before the war, and that he had something to give her: a small wooden box, locked, with a key that he had kept on a chain around his neck for almost forty years. He asked her to come to the station on Thursday, at noon, and to wear a blue scarf so that he would know her.',
  'To make good bread you need only four things: flour, water, salt, and time. Mix the flour and water first and let them rest for half an hour; this helps the dough develop strength without much kneading. Then add the salt and a little yeast, fold the dough a few times over the next two hours, and leave it to rise slowly in a cool place overnight. In the morning, shape the loaf gently, let it rise once more, and bake it in a very hot oven until the crust is dark and crisp.',
  'The committee met again on Monday to discuss the budget for the coming year. Several members argued that the library should receive more money, because the number of visitors had doubled since the new reading room opened. Others pointed out that the roads were in poor condition and that the bridge over the canal would need repairs before the spring floods. After three hours of debate, they agreed to postpone the decision until the next meeting, when the engineers would present their report.',
];
const ENGLISH = ENGLISH_PARAGRAPHS.join(' ');

main();
