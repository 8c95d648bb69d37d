import { kernelModule, wasmSimdAvailable } from '../kernels/wasm.js';

interface Exports {
  expShift(x: number, out: number, n: number, shift: number): number;
  maxF32(x: number, n: number): number;
  divideF32(x: number, n: number, d: number): void;
  cumulativeFind(x: number, n: number, target: number): number;
}

/**
 * The O(vocabulary) arithmetic of the sampling chain — max, temperature, exp and its sum, the
 * cumulative search of a draw — on f32 arrays that live in a WebAssembly memory, so the SIMD kernels
 * work on them in place. Arrays come from `alloc` and go back to a free list when garbage-collected.
 * Without WebAssembly SIMD the same operations run as plain loops (same results up to exp's rounding).
 */
class VectorMath {
  private readonly memory?: WebAssembly.Memory;
  private readonly k?: Exports;
  private top = 1 << 20; // above the kernels' static data
  private readonly free = new Map<number, number[]>();
  private readonly ours = new WeakSet<ArrayBufferLike>();
  private readonly registry = new FinalizationRegistry<{ ptr: number; bytes: number }>(({ ptr, bytes }) => {
    const list = this.free.get(bytes) ?? [];
    list.push(ptr);
    this.free.set(bytes, list);
  });

  constructor() {
    if (!wasmSimdAvailable()) return;
    this.memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
    this.k = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } }).exports as unknown as Exports;
  }

  /** A zeroed f32 array of n values in kernel memory. */
  alloc(n: number): Float32Array {
    if (!this.memory) return new Float32Array(n);
    const bytes = Math.ceil((n * 4) / 64) * 64;
    let ptr = this.free.get(bytes)?.pop();
    if (ptr === undefined) {
      ptr = this.top;
      this.top += bytes;
      const have = this.memory.buffer.byteLength;
      if (this.top > have) this.memory.grow(Math.ceil((this.top - have) / 65536));
    }
    const buffer = this.memory.buffer;
    this.ours.add(buffer);
    const arr = new Float32Array(buffer, ptr, n);
    arr.fill(0);
    this.registry.register(arr, { ptr, bytes });
    return arr;
  }

  private ptr(x: Float32Array): number | undefined {
    return this.k && this.ours.has(x.buffer) ? x.byteOffset : undefined;
  }

  max(x: Float32Array, n: number): number {
    const p = this.ptr(x);
    if (p !== undefined) return this.k!.maxF32(p, n);
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (x[i]! > m) m = x[i]!;
    return m;
  }

  divide(x: Float32Array, n: number, d: number): void {
    const p = this.ptr(x);
    if (p !== undefined) return this.k!.divideF32(p, n, d);
    for (let i = 0; i < n; i++) x[i] = Math.fround(x[i]! / d);
  }

  /** out[i] = exp(x[i] − shift) for i < n; returns the sum. */
  expShift(x: Float32Array, n: number, shift: number, out: Float32Array): number {
    const px = this.ptr(x), po = this.ptr(out);
    if (px !== undefined && po !== undefined) return this.k!.expShift(px, po, n, Math.fround(shift));
    let s = 0;
    for (let i = 0; i < n; i++) { out[i] = Math.exp(x[i]! - shift); s += out[i]!; }
    return s;
  }

  /** The first i whose running sum of x[0..i] exceeds target (n − 1 when rounding leaves none). */
  cumulativeFind(x: Float32Array, n: number, target: number): number {
    const p = this.ptr(x);
    if (p !== undefined) return this.k!.cumulativeFind(p, n, target);
    let cum = 0;
    for (let i = 0; i < n; i++) { cum += x[i]!; if (target < cum) return i; }
    return n - 1;
  }
}

export const vectorMath = new VectorMath();
