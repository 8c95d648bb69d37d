import { UserError } from '../errors.js';
import type { Heap } from '../kernels/heap.js';
import type { ModelConfig } from './config.js';

const GIB = 2 ** 30;

/** How a KV cache stores keys and values: f32 (Wander's default, exact), or f16 (llama.cpp's default, half the memory). */
export type KvType = 'f32' | 'f16';

/**
 * Keys and values of every layer for one sequence, `capacity` positions long, in the heap. Row p of a
 * layer's K (or V) holds all KV heads at position p, so attention reads a contiguous row per position.
 * An f16 cache rounds each key and value to f16 (nearest even) as it is written; attention widens
 * them back exactly, so everything else runs in f32 as before.
 */
export class KvCache {
  readonly k: number[] = [];
  readonly v: number[] = [];
  readonly rowFloats: number;
  /** Bytes per stored value: 4 (f32) or 2 (f16). */
  readonly valueBytes: number;
  /** Positions filled so far. */
  length = 0;

  /** Scratch for one chunk's attention probabilities: nHead × chunk × capacity. */
  readonly pattern: number;

  constructor(heap: Heap, config: ModelConfig, readonly capacity: number, chunk: number, readonly type: KvType = 'f32') {
    this.rowFloats = config.nHeadKv * config.headDim;
    this.valueBytes = type === 'f16' ? 2 : 4;
    // Checked before allocating, so the message can give the numbers and what to change.
    const perPosition = kvBytesPerPosition(config, type) + config.nHead * chunk * 4;
    if (capacity * perPosition > heap.available) {
      throw new UserError(`not enough memory for the KV cache: ${capacity} positions need ${(capacity * perPosition / GIB).toFixed(2)} GiB (${(perPosition / 1024).toFixed(1)} KiB each) and only ${(heap.available / GIB).toFixed(2)} GiB of WebAssembly's 4 GiB are left beside the model; ask for fewer tokens (--max-tokens, a shorter prompt, fewer samples at once with --max-batch-size, a shorter --context)${type === 'f32' ? ', store keys and values in half the bytes with --kv f16' : ''}, use a smaller quantization, or run the model through llama.cpp (--model llama.cpp:FILE.gguf)`, 'max_tokens');
    }
    this.pattern = heap.alloc(config.nHead * chunk * capacity * 4, 'attention scratch');
    for (let i = 0; i < config.nLayer; i++) {
      this.k.push(heap.alloc(capacity * this.rowFloats * this.valueBytes, 'KV cache'));
      this.v.push(heap.alloc(capacity * this.rowFloats * this.valueBytes, 'KV cache'));
    }
  }

  /**
   * Makes this cache hold the first `length` positions of `other` (default all of them: e.g. a shared
   * prompt), copying their keys and values.
   */
  copyFrom(other: KvCache, heap: Heap, length = other.length): void {
    if (other.rowFloats !== this.rowFloats || other.k.length !== this.k.length || other.type !== this.type) throw new Error('copyFrom() needs a cache of the same model and type');
    if (!Number.isInteger(length) || length < 0 || length > other.length) throw new Error(`copyFrom(): ${length} positions asked of a cache holding ${other.length}`);
    if (length > this.capacity) throw new Error(`copyFrom(): ${length} positions do not fit a cache of ${this.capacity}`);
    const mem = new Uint8Array(heap.memory.buffer);
    const bytes = length * this.rowFloats * this.valueBytes;
    for (let l = 0; l < this.k.length; l++) {
      mem.copyWithin(this.k[l]!, other.k[l]!, other.k[l]! + bytes);
      mem.copyWithin(this.v[l]!, other.v[l]!, other.v[l]! + bytes);
    }
    this.length = length;
  }
}

/** Bytes a cache of this type holds per position: keys and values of every layer. */
export function kvBytesPerPosition(config: ModelConfig, type: KvType): number {
  return 2 * config.nLayer * config.nHeadKv * config.headDim * (type === 'f16' ? 2 : 4);
}
