// A matmul worker: instantiates the kernel module over the shared heap and, whenever the main thread
// posts a job, claims chunks of its rows until none are left. Plain JS so it runs without a TS loader.
// The control block's layout and protocol are described in pool.ts.
import { workerData } from 'node:worker_threads';

const { module, memory, control, scratch } = workerData;
const { matmul, matmulQ8Act } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const SEQ = 0, NEXT = 1, DONE = 2, SLEEPERS = 3, ARGS = 4, ROW_BITS = 21, ROW_MASK = (1 << ROW_BITS) - 1;
// Spin this long for the next job before sleeping: jobs follow each other within microseconds while a
// forward pass runs, and waking a sleeping thread costs tens of microseconds. Measured in time, not in
// loop turns, since a turn's cost depends on how far V8 has optimized this loop.
const SPIN_MS = 2;

const ready = (seq) => seq === -1 || (seq !== seen && (seq & 1) === 0);

let seen = 0;
const args = new Int32Array(9); // the job's arguments, copied out of the control block
for (;;) {
  let seq = Atomics.load(ctl, SEQ);
  if (!ready(seq)) {
    const until = performance.now() + SPIN_MS;
    for (let spins = 0; ; spins++) {
      seq = Atomics.load(ctl, SEQ);
      if (ready(seq)) break;
      if ((spins & 255) === 255 && performance.now() > until) {
        Atomics.add(ctl, SLEEPERS, 1);
        // Re-check after announcing ourselves, so a job posted in between is not slept through.
        if (Atomics.load(ctl, SEQ) === seq) Atomics.wait(ctl, SEQ, seq, 50);
        Atomics.sub(ctl, SLEEPERS, 1);
      }
    }
  }
  seen = seq;
  if (seq === -1) break; // shutdown
  args.set(ctl.subarray(ARGS, ARGS + 9));
  if (Atomics.load(ctl, SEQ) !== seq) continue; // the arguments changed while we read them: a newer job
  const tag = (((seq - 2) >> 1) << ROW_BITS) | 0; // this job's tag bits (the job number is (seq − 2) / 2)
  for (;;) {
    const word = Atomics.load(ctl, NEXT);
    if ((word & ~ROW_MASK) !== tag) break; // the job has moved on
    const r0 = word & ROW_MASK, chunk = args[7];
    if (r0 >= args[4]) break;
    if (Atomics.compareExchange(ctl, NEXT, word, word + chunk) !== word) continue;
    // The tag holds the job number modulo 2^11, so a worker preempted for 2048 jobs between reading the
    // arguments and claiming could claim rows of a later job with the same tag. The rows are ours either
    // way, and the main thread cannot move past that job before we finish them, so if SEQ moved, that
    // job's arguments are the ones in the block now.
    const moved = Atomics.load(ctl, SEQ) !== seq;
    if (moved) args.set(ctl.subarray(ARGS, ARGS + 9));
    const type = args[0], w = args[1], x = args[2], y = args[3], rows = args[4], cols = args[5], nt = args[6], q8Act = args[8];
    const r1 = Math.min(r0 + chunk, rows);
    if (r1 > r0) {
      if (q8Act) matmulQ8Act(type, w, x, y, rows, cols, nt, r0, r1);
      else matmul(type, w, x, y, rows, cols, nt, r0, r1, scratch);
    }
    Atomics.add(ctl, DONE, Math.max(0, r1 - r0));
    if (moved) break;
  }
}
