// A matmul worker: instantiates the kernel module over the shared heap and computes its share of rows
// whenever the main thread bumps the job sequence number. Plain JS so it runs without a TS loader.
import { workerData } from 'node:worker_threads';

const { module, memory, control, index, scratch } = workerData;
const { matmul, matmulQ8Act } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
// Layout of the control block (Int32Array): see pool.ts.
const SEQ = 0, DONE = 1, ARGS = 2, SPIN = 20000;

let seen = 0;
for (;;) {
  let spins = 0;
  while (Atomics.load(ctl, SEQ) === seen) {
    if (++spins > SPIN) Atomics.wait(ctl, SEQ, seen);
  }
  seen = Atomics.load(ctl, SEQ);
  if (ctl[ARGS] === -1) break; // shutdown
  const [type, w, x, y, rows, cols, nt, parts, q8Act] = ctl.subarray(ARGS, ARGS + 9);
  const r0 = Math.floor((rows * (index + 1)) / parts), r1 = Math.floor((rows * (index + 2)) / parts);
  if (r1 > r0) {
    if (q8Act) matmulQ8Act(type, w, x, y, rows, cols, nt, r0, r1);
    else matmul(type, w, x, y, rows, cols, nt, r0, r1, scratch);
  }
  Atomics.add(ctl, DONE, 1);
  Atomics.notify(ctl, DONE);
}
