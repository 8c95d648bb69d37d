import { kernelModule, wasmSimdAvailable } from '../kernels/wasm.js';

interface Exports {
  expShift(x: number, out: number, n: number, shift: number): number;
  maxF32(x: number, n: number): number;
  divideF32(x: number, n: number, d: number): void;
  cumulativeFind(x: number, n: number, target: number): number;
  argmaxF32(x: number, n: number): number;
  entropyNats(l: number, e: number, n: number, max: number, sum: number, lnSum: number): number;
  weightedShift(x: number, e: number, n: number, max: number): number;
  countFinite(x: number, n: number): number;
  sumFinite(x: number, n: number): number;
  sqDevFinite(x: number, n: number, mean: number): number;
  binMass(l: number, e: number, n: number, mode: number, a: number, b: number, c: number, scale: number, bins: number, mass: number): void;
  collectBin(bins: number, n: number, bin: number, out: number): number;
  countRanked(l: number, ids: number, n: number, mode: number, a: number, b: number, c: number, k: number, id0: number): number;
  compactRanked(l: number, ids: number, from: number, to: number, w: number, mode: number, a: number, b: number, c: number, k: number, id0: number): number;
  countAtLeast(l: number, n: number, cut: number): number;
  compactAtLeast(l: number, ids: number, from: number, to: number, w: number, cut: number): number;
  compactNotEqual(l: number, ids: number, from: number, to: number, w: number, v: number): number;
  countBand(l: number, ids: number, n: number, lo: number, hi: number, tlo: number, thi: number, id0: number): number;
  compactBand(l: number, ids: number, from: number, to: number, w: number, lo: number, hi: number, tlo: number, thi: number, id0: number): number;
  selectTop(l: number, ids: number, from: number, n: number, k: number, heap: number): void;
}

/** How many bins massCut spreads the ranking keys over. */
export const BINS = 2048;

/**
 * The ranking key of top-p and typical-p, computed from an entry's logit x in f64 exactly as written
 * (the kernels do the same operations): mode 0 (top-p) a − x, the distance below the best logit;
 * mode 1 (typical-p) |a − (x − b) − c| with a = ln Σ, b = max, c = entropy: |surprisal − entropy|.
 */
export interface RankKey {
  mode: 0 | 1;
  a: number;
  b: number;
  c: number;
}

export function rankKey(r: RankKey, x: number): number {
  return r.mode === 0 ? r.a - x : Math.abs(r.a - (x - r.b) - r.c);
}

/** The largest id: a (key, id) bound with it keeps every entry whose key is ≤ the bound's. */
export const ANY_ID = 0x7fffffff;

/**
 * The O(vocabulary) arithmetic of the sampling chain — max, temperature, exp and its sum, entropy,
 * the binning behind top-p and typical-p, the compaction of survivors, top-k selection, the cumulative
 * search of a draw — on arrays that live in a WebAssembly memory, so the SIMD kernels work on them in
 * place. Arrays come from `alloc`/`allocI32` and go back to a free list when garbage-collected.
 *
 * Without WebAssembly SIMD (or with `{ wasm: false }`) every operation runs as plain TypeScript that
 * produces bit-identical results: the same f32 and f64 operations in the same order (f32 arithmetic
 * through Math.fround, exp by the kernels' own polynomial). Sums that a kernel adds up in blocks are
 * added up in the same blocks here; the rest run in index order, as one f64 accumulator.
 */
export class VectorMath {
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
  // Grow-only scratch (contents are garbage between calls): entry bins and the indices of one bin
  // for massCut, the per-bin mass, the top-k heap, and a copy of logits that live elsewhere.
  private bins: Uint16Array = new Uint16Array(0);
  private list: Int32Array = new Int32Array(0);
  private heap: Int32Array = new Int32Array(0);
  private copy: Float32Array = new Float32Array(0);
  private readonly mass: Float64Array;

  /** `wasm: false` forces the TypeScript path (tests compare the two). */
  constructor(opts: { wasm?: boolean } = {}) {
    if (opts.wasm !== false && wasmSimdAvailable()) {
      this.memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
      this.k = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } }).exports as unknown as Exports;
    }
    this.mass = this.view(Float64Array, BINS);
  }

  /** True when the operations run in WebAssembly. */
  get kernels(): boolean {
    return this.k !== undefined;
  }

  /** A zeroed f32 array of n values in kernel memory. */
  alloc(n: number): Float32Array {
    return this.view(Float32Array, n);
  }

  /** A zeroed i32 array of n values in kernel memory. */
  allocI32(n: number): Int32Array {
    return this.view(Int32Array, n);
  }

  private view<T extends Float32Array | Float64Array | Int32Array | Uint16Array>(
    Kind: { new (n: number): T; new (buffer: ArrayBufferLike, offset: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number,
  ): T {
    if (!this.memory) return new Kind(n);
    const bytes = Math.max(64, Math.ceil((n * Kind.BYTES_PER_ELEMENT) / 64) * 64);
    let ptr = this.free.get(bytes)?.pop();
    if (ptr === undefined) {
      ptr = this.top;
      this.top += bytes;
      const have = this.memory.buffer.byteLength;
      if (this.top > have) this.memory.grow(Math.ceil((this.top - have) / 65536));
    }
    const buffer = this.memory.buffer;
    this.ours.add(buffer);
    const arr = new Kind(buffer, ptr, n);
    arr.fill(0);
    this.registry.register(arr, { ptr, bytes });
    return arr;
  }

  private ptr(x: Float32Array | Float64Array | Int32Array | Uint16Array): number | undefined {
    return this.k && this.ours.has(x.buffer) ? x.byteOffset : undefined;
  }

  /** Pointers for all of xs when the kernels can work on them, else undefined. */
  private ptrs(...xs: (Float32Array | Int32Array)[]): number[] | undefined {
    const out: number[] = [];
    for (const x of xs) {
      const p = this.ptr(x);
      if (p === undefined) return undefined;
      out.push(p);
    }
    return out;
  }

  max(x: Float32Array, n: number): number {
    const p = this.ptr(x);
    if (p !== undefined) return this.k!.maxF32(p, n);
    // Four lanes, then a pairwise reduction, then the tail: Math.max is f32x4.max (NaN wins, +0 > −0).
    let m0 = -Infinity, m1 = -Infinity, m2 = -Infinity, m3 = -Infinity, i = 0;
    for (; i + 4 <= n; i += 4) {
      m0 = Math.max(m0, x[i]!); m1 = Math.max(m1, x[i + 1]!); m2 = Math.max(m2, x[i + 2]!); m3 = Math.max(m3, x[i + 3]!);
    }
    let m = Math.max(Math.max(m0, m1), Math.max(m2, m3));
    for (; i < n; i++) m = Math.max(m, x[i]!);
    return m;
  }

  /** Index of the largest of x[0..n), the lowest index on ties (as `x[i] > x[best]` scanning up from 0). */
  argmax(x: Float32Array, n: number): number {
    if (this.k) {
      let p = this.ptr(x);
      if (p === undefined) {
        if (this.copy.length < n) this.copy = this.alloc(n);
        this.copy.set(x.subarray(0, n));
        p = this.copy.byteOffset;
      }
      return this.k.argmaxF32(p, n);
    }
    let best = 0;
    for (let i = 1; i < n; i++) if (x[i]! > x[best]!) best = i;
    return best;
  }

  divide(x: Float32Array, n: number, d: number): void {
    const p = this.ptr(x);
    if (p !== undefined) return this.k!.divideF32(p, n, d);
    const df = Math.fround(d); // the kernel takes d as f32
    for (let i = 0; i < n; i++) x[i] = Math.fround(x[i]! / df);
  }

  /**
   * out[i] = exp(x[i] − shift) for i < n (f32, the kernels' exp); returns the sum: f32 sums per lane
   * over blocks of 64 entries, each block's (lane 0 + lane 1) + (lane 2 + lane 3) added in f64, then
   * the n mod 4 last entries one by one.
   */
  expShift(x: Float32Array, n: number, shift: number, out: Float32Array): number {
    const px = this.ptr(x), po = this.ptr(out);
    if (px !== undefined && po !== undefined) return this.k!.expShift(px, po, n, Math.fround(shift));
    const f = Math.fround, s = f(shift), n4 = n & ~3;
    let sum = 0, i = 0;
    while (i + 4 <= n) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      const end = Math.min(i + 64, n4);
      for (; i < end; i += 4) {
        const e0 = exp32(f(x[i]! - s)), e1 = exp32(f(x[i + 1]! - s)), e2 = exp32(f(x[i + 2]! - s)), e3 = exp32(f(x[i + 3]! - s));
        out[i] = e0; out[i + 1] = e1; out[i + 2] = e2; out[i + 3] = e3;
        a0 = f(a0 + e0); a1 = f(a1 + e1); a2 = f(a2 + e2); a3 = f(a3 + e3);
      }
      sum += f(f(a0 + a1) + f(a2 + a3));
    }
    for (; i < n; i++) {
      const e = exp32(f(x[i]! - s));
      out[i] = e;
      sum += e;
    }
    return sum;
  }

  /** The first i whose running sum of x[0..i] exceeds target (n − 1 when rounding leaves none). */
  cumulativeFind(x: Float32Array, n: number, target: number): number {
    const p = this.ptr(x);
    if (p !== undefined) return this.k!.cumulativeFind(p, n, target);
    let cum = 0;
    for (let i = 0; i < n; i++) { cum += x[i]!; if (target < cum) return i; }
    return n - 1;
  }

  /** Entropy in nats of p = e / sum: −Σ (e_i / sum)·(l_i − max − lnSum) over e_i > 0, in index order. */
  entropyNats(l: Float32Array, e: Float32Array, n: number, max: number, sum: number, lnSum: number): number {
    const p = this.ptrs(l, e);
    if (p) return this.k!.entropyNats(p[0]!, p[1]!, n, max, sum, lnSum);
    let h = 0;
    for (let i = 0; i < n; i++) if (e[i]! > 0) h -= (e[i]! / sum) * (l[i]! - max - lnSum);
    return h;
  }

  /** Σ e_i·(x_i − max) over e_i > 0, in index order. */
  weightedShift(x: Float32Array, e: Float32Array, n: number, max: number): number {
    const p = this.ptrs(x, e);
    if (p) return this.k!.weightedShift(p[0]!, p[1]!, n, max);
    let s = 0;
    for (let i = 0; i < n; i++) if (e[i]! > 0) s += e[i]! * (x[i]! - max);
    return s;
  }

  /** Mean and variance (÷ count) of the finite entries, each sum in index order. */
  finiteMoments(x: Float32Array, n: number): { mean: number; variance: number } {
    const p = this.ptr(x);
    if (p !== undefined) {
      const count = this.k!.countFinite(p, n);
      const mean = this.k!.sumFinite(p, n) / count;
      return { mean, variance: this.k!.sqDevFinite(p, n, mean) / count };
    }
    let sum = 0, count = 0;
    for (let i = 0; i < n; i++) if (Number.isFinite(x[i]!)) { sum += x[i]!; count++; }
    const mean = sum / count;
    let v = 0;
    for (let i = 0; i < n; i++) if (Number.isFinite(x[i]!)) { const d = x[i]! - mean; v += d * d; }
    return { mean, variance: v / count };
  }

  /**
   * One pass: every entry's bin — trunc(key · scale) clamped to [0, BINS − 1], NaN in bin 0 — kept
   * for collectBin, and the mass e per bin (each bin's sum in index order), returned (valid until the
   * next call).
   */
  binMass(r: RankKey, l: Float32Array, e: Float32Array, n: number, scale: number): Float64Array {
    if (this.bins.length < n) this.bins = this.view(Uint16Array, n);
    const bins = this.bins, mass = this.mass;
    const p = this.ptrs(l, e);
    if (p) {
      this.k!.binMass(p[0]!, p[1]!, n, r.mode, r.a, r.b, r.c, scale, bins.byteOffset, mass.byteOffset);
      return mass;
    }
    mass.fill(0);
    for (let i = 0; i < n; i++) {
      const t = rankKey(r, l[i]!) * scale;
      const b = t >= BINS - 1 ? BINS - 1 : t >= 1 ? t | 0 : 0;
      bins[i] = b;
      mass[b]! += e[i]!;
    }
    return mass;
  }

  /** The indices (ascending) of the entries the last binMass put in bin `bin` (valid until the next call). */
  collectBin(n: number, bin: number): Int32Array {
    if (this.list.length < n) this.list = this.view(Int32Array, n);
    const list = this.list, bins = this.bins;
    if (this.k) return list.subarray(0, this.k.collectBin(bins.byteOffset, n, bin, list.byteOffset));
    let count = 0;
    for (let i = 0; i < n; i++) if (bins[i] === bin) list[count++] = i;
    return list.subarray(0, count);
  }

  /** How many entries rank at or before (k, id0): key < k, or key = k and id ≤ id0. */
  countRanked(r: RankKey, l: Float32Array, ids: Int32Array, n: number, k: number, id0: number): number {
    const p = this.ptrs(l, ids);
    if (p) {
      const b = rankBands(r, k);
      if (b) return this.k!.countBand(p[0]!, p[1]!, n, b.lo, b.hi, b.tlo, b.thi, id0);
      return this.k!.countRanked(p[0]!, p[1]!, n, r.mode, r.a, r.b, r.c, k, id0);
    }
    let count = 0;
    for (let i = 0; i < n; i++) {
      const key = rankKey(r, l[i]!);
      if (key < k || (key === k && ids[i]! <= id0)) count++;
    }
    return count;
  }

  /**
   * Moves the entries of [from, to) that rank at or before (k, id0) to start at w ≤ from, in order;
   * returns the new end. Slots past it hold garbage.
   */
  compactRanked(r: RankKey, l: Float32Array, ids: Int32Array, from: number, to: number, w: number, k: number, id0: number): number {
    const p = this.ptrs(l, ids);
    if (p) {
      const b = rankBands(r, k);
      if (b) return this.k!.compactBand(p[0]!, p[1]!, from, to, w, b.lo, b.hi, b.tlo, b.thi, id0);
      return this.k!.compactRanked(p[0]!, p[1]!, from, to, w, r.mode, r.a, r.b, r.c, k, id0);
    }
    for (let i = from; i < to; i++) {
      const x = l[i]!, id = ids[i]!, key = rankKey(r, x);
      if (!(key < k || (key === k && id <= id0))) continue;
      l[w] = x; ids[w++] = id;
    }
    return w;
  }

  /** How many of l[0..n) are ≥ cut (an f64). */
  countAtLeast(l: Float32Array, n: number, cut: number): number {
    const p = this.ptr(l);
    if (p !== undefined) return this.k!.countAtLeast(p, n, f32AtLeast(cut));
    let count = 0;
    for (let i = 0; i < n; i++) if (l[i]! >= cut) count++;
    return count;
  }

  /** As compactRanked, keeping the entries with l ≥ cut (an f64). */
  compactAtLeast(l: Float32Array, ids: Int32Array, from: number, to: number, w: number, cut: number): number {
    const p = this.ptrs(l, ids);
    if (p) return this.k!.compactAtLeast(p[0]!, p[1]!, from, to, w, f32AtLeast(cut));
    for (let i = from; i < to; i++) {
      const x = l[i]!;
      if (!(x >= cut)) continue;
      ids[w] = ids[i]!; l[w++] = x;
    }
    return w;
  }

  /** As compactRanked, keeping the entries with l ≠ −∞. */
  compactFinite(l: Float32Array, ids: Int32Array, from: number, to: number, w: number): number {
    const p = this.ptrs(l, ids);
    if (p) return this.k!.compactNotEqual(p[0]!, p[1]!, from, to, w, -Infinity);
    for (let i = from; i < to; i++) {
      const x = l[i]!;
      if (x === -Infinity) continue;
      ids[w] = ids[i]!; l[w++] = x;
    }
    return w;
  }

  /**
   * The indices of the best k entries of [from, n) — larger logit first, lower id on ties — as a
   * min-heap (the worst kept at index 0); valid until the next call.
   */
  selectTop(l: Float32Array, ids: Int32Array, from: number, n: number, k: number): Int32Array {
    if (this.heap.length < k) this.heap = this.view(Int32Array, k);
    const heap = this.heap;
    const p = this.ptrs(l, ids);
    if (p) {
      this.k!.selectTop(p[0]!, p[1]!, from, n, k, heap.byteOffset);
      return heap.subarray(0, k);
    }
    const worse = (a: number, b: number) => l[a]! < l[b]! || (l[a] === l[b] && ids[a]! > ids[b]!);
    const down = (i: number) => {
      for (;;) {
        const lc = 2 * i + 1, rc = lc + 1;
        let w = i;
        if (lc < k && worse(heap[lc]!, heap[w]!)) w = lc;
        if (rc < k && worse(heap[rc]!, heap[w]!)) w = rc;
        if (w === i) return;
        const t = heap[i]!; heap[i] = heap[w]!; heap[w] = t;
        i = w;
      }
    };
    for (let i = 0; i < k; i++) heap[i] = from + i;
    for (let i = (k >> 1) - 1; i >= 0; i--) down(i);
    for (let i = from + k; i < n; i++) {
      const root = heap[0]!;
      if (l[i]! < l[root]! || (l[i] === l[root] && ids[i]! > ids[root]!)) continue;
      heap[0] = i;
      down(0);
    }
    return heap.subarray(0, k);
  }
}

// ---------------------------------------------------------------- ranked keeps as f32 value bands

/**
 * The f32 logits x with key(x) < k form one interval [lo, hi], and those with key(x) ≤ k another,
 * [tlo, thi] (empty: lo > hi or a NaN bound), because the keys are monotone in x: a − x falls as x grows, and
 * |a − (x − b) − c| falls then rises (IEEE rounding keeps a monotone formula monotone). Found by
 * bisection over the f32 values with the keys' own f64 formula, the bands test entries in f32 (four
 * per SIMD compare) with exactly the outcome of computing every key. Undefined where the parameters
 * are not finite (then the keys are computed).
 */
interface Bands { lo: number; hi: number; tlo: number; thi: number }
let lastBands: { r: RankKey; k: number; bands: Bands } | undefined;

export function rankBands(r: RankKey, k: number): Bands | undefined {
  if (!Number.isFinite(r.a) || !Number.isFinite(r.b) || !Number.isFinite(r.c) || Number.isNaN(k)) return undefined;
  const last = lastBands;
  if (last && last.k === k && last.r.mode === r.mode && last.r.a === r.a && last.r.b === r.b && last.r.c === r.c) return last.bands;
  let bands: Bands;
  if (r.mode === 0) {
    // key = a − x falls as x rises: both sets run up to +∞.
    bands = { lo: firstF32((x) => r.a - x < k), hi: Infinity, tlo: firstF32((x) => r.a - x <= k), thi: Infinity };
  } else {
    // key = |w(x)| with w(x) = a − (x − b) − c falling as x rises: |w| < k ⇔ −k < w < k.
    const w = (x: number) => r.a - (x - r.b) - r.c;
    bands = { lo: firstF32((x) => w(x) < k), hi: lastF32((x) => w(x) > -k), tlo: firstF32((x) => w(x) <= k), thi: lastF32((x) => w(x) >= -k) };
  }
  lastBands = { r: { ...r }, k, bands };
  return bands;
}

// f32 values in order as integers: ord(x) = bits for x ≥ 0, −(bits without the sign) for x < 0 (both
// zeros are 0); −∞ and +∞ are the ends.
const ORD_INF = 0x7f800000;
const ordF32 = new Float32Array(1), ordBits = new Int32Array(ordF32.buffer);
function fromOrd(o: number): number {
  ordBits[0] = o >= 0 ? o : -o | 0x80000000;
  return ordF32[0]!;
}

/** The smallest f32 (−∞ … +∞) where pred, false below and true above, holds; NaN (an empty band) when none does. */
function firstF32(pred: (x: number) => boolean): number {
  let lo = -ORD_INF, hi = ORD_INF;
  if (!pred(fromOrd(hi))) return NaN;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (pred(fromOrd(mid))) hi = mid;
    else lo = mid + 1;
  }
  return fromOrd(lo);
}

/** The largest f32 where pred, true below and false above, holds; NaN (an empty band) when none does. */
function lastF32(pred: (x: number) => boolean): number {
  let lo = -ORD_INF, hi = ORD_INF;
  if (!pred(fromOrd(lo))) return NaN;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (pred(fromOrd(mid))) lo = mid;
    else hi = mid - 1;
  }
  return fromOrd(lo);
}

// ---------------------------------------------------------------- f32 helpers for the TypeScript path

const f32 = Math.fround;
const LOG2E = f32(1.44269504088896341), LN2_HI = f32(0.693359375), LN2_LO = f32(-2.12194440e-4);
const P0 = f32(1.9875691500e-4), P1 = f32(1.3981999507e-3), P2 = f32(8.3334519073e-3);
const P3 = f32(4.1665795894e-2), P4 = f32(1.6666665459e-1), P5 = f32(5.0000001201e-1);

/** Round half to even (f32x4.nearest). */
function nearest(v: number): number {
  const r = Math.round(v); // half rounds up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The kernels' exp of an f32 (Cephes expf: x = n ln 2 + r, a degree-6 polynomial in r, times 2^n),
 * every step rounded to f32 as the SIMD lanes round it; x ≤ −87 gives 0.
 */
export function exp32(x: number): number {
  const xc = Math.min(Math.max(x, -87), 88);
  const n = nearest(f32(xc * LOG2E));
  let r = f32(xc - f32(n * LN2_HI));
  r = f32(r - f32(n * LN2_LO));
  let p = P0;
  p = f32(f32(p * r) + P1);
  p = f32(f32(p * r) + P2);
  p = f32(f32(p * r) + P3);
  p = f32(f32(p * r) + P4);
  p = f32(f32(p * r) + P5);
  p = f32(f32(f32(f32(p * r) * r) + r) + 1);
  const y = f32(p * 2 ** (Number.isNaN(n) ? 0 : n));
  return x <= -87 ? 0 : y;
}

const bits = new Int32Array(1), asF32 = new Float32Array(bits.buffer);

/** The smallest f32 ≥ c (NaN for NaN): for an f32 x, x ≥ c exactly when x ≥ f32AtLeast(c). */
export function f32AtLeast(c: number): number {
  const f = f32(c);
  if (!(f < c)) return f;
  if (f === 0) return 2 ** -149;
  asF32[0] = f;
  bits[0]! += f > 0 ? 1 : -1;
  return asF32[0]!;
}

export const vectorMath = new VectorMath();
