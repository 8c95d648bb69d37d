import { UserError } from '../errors.js';
import type { Heap } from '../kernels/heap.js';
import type { ModelConfig } from './config.js';

const GIB = 2 ** 30;

/**
 * Keys and values of every layer for one sequence, `capacity` positions long, in the heap. Row p of a
 * layer's K (or V) holds all KV heads at position p, so attention reads a contiguous row per position.
 */
export class KvCache {
  readonly k: number[] = [];
  readonly v: number[] = [];
  readonly rowFloats: number;
  /** Positions filled so far. */
  length = 0;

  /** Scratch for one chunk's attention probabilities: nHead × chunk × capacity. */
  readonly pattern: number;

  constructor(heap: Heap, config: ModelConfig, readonly capacity: number, chunk: number) {
    this.rowFloats = config.nHeadKv * config.headDim;
    // Checked before allocating, so the message can give the numbers and what to change.
    const perPosition = 2 * config.nLayer * this.rowFloats * 4 + config.nHead * chunk * 4;
    if (capacity * perPosition > heap.available) {
      throw new UserError(`not enough memory for the KV cache: ${capacity} positions need ${(capacity * perPosition / GIB).toFixed(2)} GiB (${(perPosition / 1024).toFixed(1)} KiB each) and only ${(heap.available / GIB).toFixed(2)} GiB of WebAssembly's 4 GiB are left beside the model; ask for fewer tokens (--max-tokens, a shorter prompt, fewer samples at once with --max-batch-size), use a smaller quantization, or run the model through llama.cpp (--model llama.cpp:FILE.gguf)`, 'max_tokens');
    }
    this.pattern = heap.alloc(config.nHead * chunk * capacity * 4, 'attention scratch');
    for (let i = 0; i < config.nLayer; i++) {
      this.k.push(heap.alloc(capacity * this.rowFloats * 4, 'KV cache'));
      this.v.push(heap.alloc(capacity * this.rowFloats * 4, 'KV cache'));
    }
  }

  /**
   * Makes this cache hold the first `length` positions of `other` (default all of them: e.g. a shared
   * prompt), copying their keys and values.
   */
  copyFrom(other: KvCache, heap: Heap, length = other.length): void {
    if (other.rowFloats !== this.rowFloats || other.k.length !== this.k.length) throw new Error('copyFrom() needs a cache of the same model');
    if (!Number.isInteger(length) || length < 0 || length > other.length) throw new Error(`copyFrom(): ${length} positions asked of a cache holding ${other.length}`);
    if (length > this.capacity) throw new Error(`copyFrom(): ${length} positions do not fit a cache of ${this.capacity}`);
    const mem = new Uint8Array(heap.memory.buffer);
    const bytes = length * this.rowFloats * 4;
    for (let l = 0; l < this.k.length; l++) {
      mem.copyWithin(this.k[l]!, other.k[l]!, other.k[l]! + bytes);
      mem.copyWithin(this.v[l]!, other.v[l]!, other.v[l]! + bytes);
    }
    this.length = length;
  }
}
