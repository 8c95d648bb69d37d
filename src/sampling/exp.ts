import { kernelModule, wasmSimdAvailable } from '../kernels/wasm.js';

/**
 * exp(x − shift) over many logits at once — the one O(vocabulary) transcendental the samplers need
 * (normalizers, entropies, draws). WebAssembly SIMD does 50,257 of them in tens of microseconds where
 * Math.exp takes most of a millisecond; both are deterministic, so either gives the same tokens on
 * every machine that uses it.
 */
class ExpKernel {
  private memory?: WebAssembly.Memory;
  private fn?: (x: number, out: number, n: number, shift: number) => number;
  private capacity = 0;
  private static readonly BASE = 1 << 20; // above the kernels' static data

  constructor() {
    if (!wasmSimdAvailable()) return;
    this.memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
    const exports = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } }).exports as { expShift: ExpKernel['fn'] };
    this.fn = exports.expShift;
  }

  /** Writes exp(x[i] − shift) for i < n into out (n ≤ out.length) and returns their sum. */
  expShift(x: Float32Array, n: number, shift: number, out: Float32Array): number {
    if (!this.fn || !this.memory) {
      let s = 0;
      for (let i = 0; i < n; i++) { out[i] = Math.exp(x[i]! - shift); s += out[i]!; }
      return s;
    }
    if (n > this.capacity) {
      const need = ExpKernel.BASE + 8 * n;
      const have = this.memory.buffer.byteLength;
      if (need > have) this.memory.grow(Math.ceil((need - have) / 65536));
      this.capacity = n;
    }
    const buf = this.memory.buffer;
    const xs = ExpKernel.BASE, ys = ExpKernel.BASE + 4 * this.capacity;
    new Float32Array(buf, xs, n).set(x.subarray(0, n));
    const sum = this.fn(xs, ys, n, Math.fround(shift));
    out.set(new Float32Array(buf, ys, n));
    return sum;
  }
}

let kernel: ExpKernel | undefined;

export function expShift(x: Float32Array, n: number, shift: number, out: Float32Array): number {
  kernel ??= new ExpKernel();
  return kernel.expShift(x, n, shift, out);
}
