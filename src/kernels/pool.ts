import { Worker } from 'node:worker_threads';
import type { Heap } from './heap.js';
import type { Kernels } from './kernels.js';
import { kernelModule } from './wasm.js';

interface MatrixRef { ptr: number; type: number; rows: number; cols: number }

// Control block layout (Int32Array over a SharedArrayBuffer): job sequence number, finished-worker
// count, then the job's arguments. Heap offsets above 2 GiB read back negative, but WebAssembly takes
// them as the same 32 bits, so they still address the right bytes.
const SEQ = 0, DONE = 1, ARGS = 2;
/** Below this many multiply-adds a job is faster on one thread than the cost of waking the others. */
const MIN_WORK = 1 << 19;
const STALL_MS = 30_000;

/**
 * Splits matmul rows across worker threads that run the same WebAssembly kernels over the same shared
 * heap. Each output row is computed whole by one thread, so results do not depend on the thread count.
 */
export class MatmulPool {
  private readonly workers: Worker[] = [];
  private readonly ctl: Int32Array;
  private readonly parts: number;
  private readonly scratch: number;

  constructor(private readonly heap: Heap, private readonly kernels: Kernels, threads: number, maxCols: number) {
    this.parts = threads;
    this.ctl = new Int32Array(new SharedArrayBuffer(64 * 4));
    this.scratch = heap.alloc(maxCols * 4, 'dequant scratch');
    for (let i = 0; i < threads - 1; i++) {
      const scratch = heap.alloc(maxCols * 4, 'dequant scratch');
      const worker = new Worker(new URL('./matmul-worker.mjs', import.meta.url), {
        workerData: { module: kernelModule(), memory: heap.memory, control: this.ctl.buffer, index: i, scratch },
      });
      worker.unref();
      this.workers.push(worker);
    }
  }

  get threads(): number {
    return this.parts;
  }

  worthIt(rows: number, cols: number, nt: number): boolean {
    return rows >= 2 * this.parts && rows * cols * nt >= MIN_WORK;
  }

  /** y = x · mᵀ split by rows; q8Act: x holds Q8_0-quantized activations (matmulQ8Act). */
  matmul(m: MatrixRef, x: number, y: number, nt: number, q8Act: boolean): void {
    const ctl = this.ctl;
    ctl.set([m.type, m.ptr, x, y, m.rows, m.cols, nt, this.parts, q8Act ? 1 : 0], ARGS);
    Atomics.store(ctl, DONE, 0);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    // This thread takes the first share.
    const r1 = Math.floor(m.rows / this.parts);
    if (q8Act) this.kernels.matmulQ8Act(m.type, m.ptr, x, y, m.rows, m.cols, nt, 0, r1);
    else this.kernels.matmul(m.type, m.ptr, x, y, m.rows, m.cols, nt, 0, r1, this.scratch);
    const want = this.workers.length;
    // Spin: the other shares finish within microseconds of ours. A worker that died would hang us, so
    // after a while fall back to timed waits and give up after STALL_MS.
    for (let spins = 0, started = 0; ; spins++) {
      const done = Atomics.load(ctl, DONE);
      if (done >= want) break;
      if (spins < 1_000_000) continue;
      started ||= Date.now();
      if (Date.now() - started > STALL_MS) throw new Error('a matmul worker thread stopped responding');
      Atomics.wait(ctl, DONE, done, 10);
    }
  }

  close(): void {
    this.ctl[ARGS] = -1;
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ);
    for (const w of this.workers) void w.terminate();
  }
}
