import { UserError } from '../errors.js';

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB: the wasm32 address space
/** The kernels' own static data lives below this; everything Wander allocates lives above it. */
const HEAP_START = 1 << 20;

/**
 * The one shared linear memory that holds weights, activations and the KV cache, so the WebAssembly
 * kernels (on any thread) address everything by offset. A bump allocator: models are loaded once and
 * buffers are sized once per model, so nothing is ever freed piecemeal.
 */
export class Heap {
  readonly memory: WebAssembly.Memory;
  private top = HEAP_START;

  constructor() {
    this.memory = new WebAssembly.Memory({ initial: (HEAP_START / PAGE) * 2, maximum: MAX_PAGES, shared: true });
  }

  get used(): number {
    return this.top - HEAP_START;
  }

  /** Bytes still free below WebAssembly's 4 GiB limit. */
  get available(): number {
    return MAX_PAGES * PAGE - this.top;
  }

  /** The most Wander can ever allocate: the 4 GiB address space less the kernels' static data. */
  static readonly capacity = MAX_PAGES * PAGE - HEAP_START;

  alloc(bytes: number, what: string): number {
    const ptr = Math.ceil(this.top / 64) * 64; // cache-line aligned
    const end = ptr + bytes;
    if (end > MAX_PAGES * PAGE) {
      throw new UserError(`not enough memory for ${what}: needs ${(end / 2 ** 30).toFixed(2)} GiB in all, more than WebAssembly's 4 GiB address space (try a quantized model)`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return ptr;
  }

  /** A point to come back to: release(mark) frees everything allocated after it (stack discipline). */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark < HEAP_START || mark > this.top) throw new Error(`heap release to ${mark} outside [${HEAP_START}, ${this.top}]`);
    this.top = mark;
  }

  /** Fresh views: a view made before a grow keeps the old length, so views are never cached. */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }
}
