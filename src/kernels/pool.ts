import { Worker } from 'node:worker_threads';
import type { Heap } from './heap.js';
import { matmulScratchBytes, type Kernels } from './kernels.js';
import { kernelModule } from './wasm.js';

interface MatrixRef { ptr: number; type: number; rows: number; cols: number }

// The control block (an Int32Array over a SharedArrayBuffer) shared with matmul-worker.mjs:
// - SEQ: 2·job + 1 while the main thread writes a job's arguments, 2·job + 2 once they are complete (a
//   sequence lock: a worker that read the arguments checks SEQ did not move while it read them);
// - NEXT: the job's next unclaimed row in the low ROW_BITS bits, tagged with the job number above them, so
//   a worker that wakes late cannot claim rows of a job that has moved on;
// - DONE: rows finished in the current job; SLEEPERS: workers blocked in Atomics.wait (notified only then);
// - ARGS…: the job's arguments. Heap offsets above 2 GiB read back negative, but WebAssembly takes them as
//   the same 32 bits, so they still address the right bytes.
export const SEQ = 0, NEXT = 1, DONE = 2, SLEEPERS = 3, ARGS = 4;
export const ROW_BITS = 21;
const ROW_MASK = (1 << ROW_BITS) - 1;
/** Below this many multiply-adds a job is faster on one thread than the cost of waking the others. */
const MIN_WORK = 1 << 19;
const STALL_MS = 30_000;

/** The NEXT word for row `row` of job `job` (the job number modulo 2^(32 − ROW_BITS) in the high bits). */
export const nextWord = (job: number, row: number) => ((job << ROW_BITS) | row) | 0;

/**
 * Splits matmul rows across worker threads that run the same WebAssembly kernels over the same shared
 * heap. Every thread, the calling one included, claims chunks of rows from a shared counter until none are
 * left, so a thread that runs slower (an SMT sibling of another, or one the OS preempts) takes fewer rows
 * instead of holding the others up, and a worker that has not woken yet is never waited for. Each output
 * row is computed whole by one thread with the same kernel, so results do not depend on the thread count
 * or on which thread took which rows.
 */
export class MatmulPool {
  private readonly workers: Worker[] = [];
  private readonly ctl: Int32Array;
  private readonly parts: number;
  private readonly scratch: number;
  private job = 0;
  /** Rows computed by the calling thread and by the workers, for `stats()`. */
  private rowsHere = 0;
  private rowsAll = 0;
  private jobs = 0;
  private waitedMs = 0;

  constructor(private readonly heap: Heap, private readonly kernels: Kernels, threads: number, maxCols: number) {
    this.parts = threads;
    this.ctl = new Int32Array(new SharedArrayBuffer(64 * 4));
    this.scratch = heap.alloc(matmulScratchBytes(maxCols), 'matmul scratch');
    for (let i = 0; i < threads - 1; i++) {
      const scratch = heap.alloc(matmulScratchBytes(maxCols), 'matmul scratch');
      const worker = new Worker(new URL('./matmul-worker.mjs', import.meta.url), {
        workerData: { module: kernelModule(), memory: heap.memory, control: this.ctl.buffer, scratch },
      });
      worker.unref();
      this.workers.push(worker);
    }
  }

  get threads(): number {
    return this.parts;
  }

  worthIt(rows: number, cols: number, nt: number): boolean {
    return rows >= 2 * this.parts && rows <= ROW_MASK >> 1 && rows * cols * nt >= MIN_WORK;
  }

  /** y = x · mᵀ split by rows; q8Act: x holds quantized activations (matmulQ8Act). */
  matmul(m: MatrixRef, x: number, y: number, nt: number, q8Act: boolean): void {
    const ctl = this.ctl, job = ++this.job;
    // About eight chunks per thread (a multiple of 4 rows, so row-blocked kernels keep full blocks).
    const chunk = Math.max(4, Math.ceil(m.rows / (8 * this.parts) / 4) * 4);
    Atomics.store(ctl, SEQ, 2 * job + 1);
    ctl.set([m.type, m.ptr, x, y, m.rows, m.cols, nt, chunk, q8Act ? 1 : 0], ARGS);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, NEXT, nextWord(job, 0));
    Atomics.store(ctl, SEQ, 2 * job + 2);
    if (Atomics.load(ctl, SLEEPERS) > 0) Atomics.notify(ctl, SEQ);
    let mine = 0;
    for (;;) {
      const r0 = Atomics.add(ctl, NEXT, chunk) & ROW_MASK;
      if (r0 >= m.rows) break;
      const r1 = Math.min(r0 + chunk, m.rows);
      if (q8Act) this.kernels.matmulQ8Act(m.type, m.ptr, x, y, m.rows, m.cols, nt, r0, r1);
      else this.kernels.matmul(m.type, m.ptr, x, y, m.rows, m.cols, nt, r0, r1, this.scratch);
      mine += r1 - r0;
    }
    this.jobs++;
    this.rowsHere += mine;
    this.rowsAll += m.rows;
    if (Atomics.add(ctl, DONE, mine) + mine >= m.rows) return;
    // The rest are being computed right now by workers that claimed them. A worker that died would hang
    // us, so after a while fall back to timed waits and give up after STALL_MS.
    const t0 = performance.now();
    for (let spins = 0, started = 0; ; spins++) {
      const done = Atomics.load(ctl, DONE);
      if (done >= m.rows) break;
      if (spins < 1_000_000) continue;
      started ||= Date.now();
      if (Date.now() - started > STALL_MS) throw new Error('a matmul worker thread stopped responding');
      Atomics.wait(ctl, DONE, done, 10);
    }
    this.waitedMs += performance.now() - t0;
  }

  /**
   * How the work was shared so far: jobs run on the pool, the share of rows the calling thread computed
   * (1 / threads when all threads run equally fast), and the time it spent waiting for workers' rows.
   */
  stats(): { jobs: number; callerShare: number; waitedMs: number } {
    return { jobs: this.jobs, callerShare: this.rowsAll ? this.rowsHere / this.rowsAll : 0, waitedMs: this.waitedMs };
  }

  close(): void {
    Atomics.store(this.ctl, SEQ, -1);
    Atomics.notify(this.ctl, SEQ);
    for (const w of this.workers) void w.terminate();
  }
}
