import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { fallbackKernels } from '../kernels/fallback.js';
import { Heap } from '../kernels/heap.js';
import type { Kernels } from '../kernels/kernels.js';
import { MatmulPool } from '../kernels/pool.js';
import { instantiateWasmKernels, wasmSimdAvailable } from '../kernels/wasm.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ModelConfig } from './config.js';
import { openGguf } from './from-gguf.js';
import { openHfFolder } from './from-hf.js';
import type { ForwardOptions } from './transformer.js';
import { CHUNK, scratchBytes, Transformer } from './transformer.js';
import type { GenerationDefaults, ModelSource } from './source.js';
import { kvBytesPerPosition, type KvCache, type KvType } from './kv-cache.js';
import { loadWeights } from './weights.js';

export interface LoadOptions {
  /** Threads for matrix products (default 1). */
  threads?: number;
  /** Kernel implementation: WebAssembly SIMD (default where available) or plain TypeScript. */
  kernels?: 'wasm' | 'typescript';
  /** How KV caches store keys and values (default f32; f16 halves their memory, as llama.cpp does by default). */
  kv?: KvType;
  /** Caps the context (and so every KV cache) at this many positions, at most the model's own context length. */
  context?: number;
}

/**
 * Opens a model path without loading weights: a GGUF file, a Hugging Face folder (or a file in one), or
 * a folder with no config.json that holds exactly one .gguf (the source's path names the file chosen).
 */
export function openModelSource(path: string): ModelSource {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UserError(`${path}: no such file or folder (pass a .gguf file, a model folder, ladder:<size>, or hf:<owner>/<repo>)`, 'model');
  }
  if (st.isDirectory()) {
    const gguf = onlyGguf(path);
    return gguf ? openGguf(gguf) : openHfFolder(path);
  }
  if (basename(path).endsWith('.safetensors') || basename(path) === 'config.json') return openHfFolder(dirname(path));
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') === 'GGUF') return openGguf(path);
  throw new UserError(`${basename(path)}: not a GGUF file (bad magic) and not a Hugging Face model folder`, 'model');
}

/** The one .gguf in a folder that is not a Hugging Face model folder; several are an error naming them. */
function onlyGguf(dir: string): string | undefined {
  const entries = readdirSync(dir);
  if (entries.includes('config.json')) return undefined;
  const ggufs = entries.filter((f) => f.endsWith('.gguf')).sort();
  if (ggufs.length > 1) throw new UserError(`${dir}: the folder holds ${ggufs.length} .gguf files; pass one of them: ${ggufs.slice(0, 8).join(', ')}${ggufs.length > 8 ? ', …' : ''}`, 'model');
  return ggufs.length === 1 ? join(dir, ggufs[0]!) : undefined;
}

/** A loaded model: weights in memory, ready to run. */
export class Model {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly transformer: Transformer;
  readonly parameters: number;
  readonly kernels: string;
  readonly threads: number;
  /** How this model's KV caches store keys and values. */
  readonly kvType: KvType;
  readonly heap: Heap;
  private readonly pool?: MatmulPool;

  constructor(readonly source: ModelSource, opts: LoadOptions = {}) {
    this.tokenizer = source.tokenizer;
    const threads = opts.threads ?? 1;
    this.kvType = opts.kv ?? 'f32';
    this.config = opts.context === undefined ? source.config : { ...source.config, contextLength: opts.context };
    this.heap = new Heap();
    const useWasm = (opts.kernels ?? 'wasm') === 'wasm' && wasmSimdAvailable();
    const kernels: Kernels = useWasm ? instantiateWasmKernels(this.heap.memory) : fallbackKernels(this.heap.memory);
    this.kernels = kernels.name;
    try {
      // Checked inside the try, so a refused option still closes the file.
      if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new UserError(`--threads must be an integer from 1 to 64, got ${threads}`, 'threads');
      if (this.kvType !== 'f32' && this.kvType !== 'f16') throw new UserError(`--kv must be f32 or f16, got ${JSON.stringify(this.kvType)}`, 'kv');
      const trained = source.config.contextLength;
      if (opts.context !== undefined && (!Number.isInteger(opts.context) || opts.context < 1 || opts.context > trained)) {
        throw new UserError(`--context must be an integer from 1 to ${trained} (${basename(source.path)}'s context length), got ${JSON.stringify(opts.context)}`, 'context');
      }
      checkFits(source, opts.context === undefined ? undefined : { positions: opts.context, type: this.kvType });
      const weights = loadWeights(source, this.heap);
      this.parameters = weights.parameters;
      const c = this.config;
      // Workers need the WebAssembly kernels; the TypeScript fallback stays on one thread.
      this.threads = useWasm ? threads : 1;
      if (this.threads > 1) this.pool = new MatmulPool(this.heap, kernels, this.threads, Math.max(c.nEmbd, c.nHead * c.headDim, c.nFf));
      this.transformer = new Transformer(c, weights, this.heap, kernels, this.pool, this.kvType);
    } finally {
      source.close();
    }
  }

  get path(): string {
    return this.source.path;
  }

  get format(): 'gguf' | 'safetensors' {
    return this.source.format;
  }

  /** The chat template the file carries (Jinja), if any. */
  get chatTemplate(): string | undefined {
    return this.source.chatTemplate;
  }

  get generationDefaults(): GenerationDefaults {
    return this.source.generationDefaults;
  }

  newCache(capacity?: number): KvCache {
    return this.transformer.newCache(capacity);
  }

  forward(tokens: readonly number[], cache: KvCache, opts?: ForwardOptions): Float32Array {
    return this.transformer.forward(tokens, cache, opts);
  }

  /** Several multi-token sequences in one pass, each sequence's last logits (see Transformer.forwardMany). */
  forwardMany(tokens: readonly (readonly number[])[], caches: readonly KvCache[], opts?: ForwardOptions): Float32Array {
    return this.transformer.forwardMany(tokens, caches, opts);
  }

  /** One decoding step for several sequences (see Transformer.forwardBatch). */
  forwardBatch(tokens: readonly number[], caches: readonly KvCache[], opts?: ForwardOptions): Float32Array {
    return this.transformer.forwardBatch(tokens, caches, opts);
  }

  /** The final norm and unembedding on residual-stream rows, [n, d_model] → [n, d_vocab] (see Transformer.unembed). */
  unembed(resid: Float32Array): Float32Array {
    return this.transformer.unembed(resid);
  }

  /** Runs fn with heap memory allocated inside it (caches) given back afterwards. */
  withScratch<T>(fn: () => T): T {
    const mark = this.heap.mark();
    try {
      return fn();
    } finally {
      this.heap.release(mark);
    }
  }

  close(): void {
    this.pool?.close();
  }
}

export function loadModel(path: string, opts?: LoadOptions): Model {
  return new Model(openModelSource(path), opts);
}

/**
 * Stops a model that cannot fit WebAssembly's 4 GiB address space before a byte of it is read, with the
 * numbers and what to do instead. With `kv`, one KV cache of that many positions must fit beside it too
 * (what --context promises).
 */
export function checkFits(source: ModelSource, kv?: { positions: number; type: KvType }): void {
  const weights = [...source.tensors.values()].reduce((n, t) => n + (t.ne.length === 1 ? t.count * 4 : t.byteLength), 0);
  const scratch = scratchBytes(source.config);
  // A cache also holds its attention scratch (a chunk of probabilities per head per position).
  const perPosition = kv ? kvBytesPerPosition(source.config, kv.type) + source.config.nHead * CHUNK * 4 : 0;
  const cache = kv ? kv.positions * perPosition : 0;
  if (weights + scratch + cache <= Heap.capacity) return;
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
  const gguf = source.format === 'gguf';
  const llamaCpp = gguf ? `, or run it through llama.cpp: --model llama.cpp:${source.path}` : '';
  const name = basename(source.path);
  if (weights + scratch > Heap.capacity) {
    throw new UserError(`${name}: needs ${gib(weights + scratch)} before any KV cache (weights ${gib(weights)}, working memory ${gib(scratch)}), more than WebAssembly's 4 GiB address space; use a smaller quantization (e.g. Q4_K_M or Q8_0)${llamaCpp}`, 'model');
  }
  const room = Heap.capacity - weights - scratch;
  const fits = Math.floor(room / perPosition);
  throw new UserError(`${name}: an ${kv!.type} KV cache of ${kv!.positions} positions needs ${gib(cache)} beside the weights (${gib(weights)}) and working memory (${gib(scratch)}), more than WebAssembly's 4 GiB address space; use --context ${fits} or less${kv!.type === 'f32' ? ', --kv f16 (keys and values in half the bytes)' : ''}, a smaller quantization${llamaCpp}`, 'context');
}
