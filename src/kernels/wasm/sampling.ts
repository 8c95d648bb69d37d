// Sampling math over a logit vector in the shared memory, used by src/sampling through vector-math.ts:
// softmax pieces (max, exp and its sum), temperature, entropy, the mass bins behind top-p and
// typical-p, compaction of the survivors, top-k selection, and the cumulative search of a draw.
// Each is one pass. vector-math.ts has a TypeScript twin of every function with bit-identical results:
// where a kernel adds up in a fixed blocked order, the twin adds up in the same blocks; the f64 sums
// that feed a decision (entropy, moments, bin masses, the draw) run in index order, one accumulator.
import { hsum } from './common';

// exp for four f32 lanes (Cephes expf: range reduction by ln 2 and a degree-6 polynomial, ~2e-7
// relative error); inputs below −87 give 0. The clamp uses pmin/pmax (one instruction each; the same
// lanes as min/max, as no bound is zero), and 2^n comes from n's bits after adding 1.5·2^23 (n is a
// whole number in [−126, 127], so this is exact): the same bits as a saturating conversion.
@inline function exp4(x: v128): v128 {
  const lo = f32x4.splat(-87.0);
  const xc = f32x4.pmin(f32x4.pmax(x, lo), f32x4.splat(88.0));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(f32x4.add(n, f32x4.splat(12582912.0)), i32x4.splat(127 - 0x4B400000)), 23);
  const y = f32x4.mul(p, scale);
  return v128.andnot(y, f32x4.le(x, lo));
}

// out[i] = exp(x[i] − shift) for n f32; returns their sum: f32 partial sums over 64-element blocks,
// accumulated in f64.
export function expShift(x: usize, out: usize, n: i32, shift: f32): f64 {
  const s = f32x4.splat(shift);
  let sum: f64 = 0;
  let i = 0;
  while (i + 4 <= n) {
    let acc = f32x4.splat(0);
    const end = min(i + 64, n & ~3);
    for (; i + 8 <= end; i += 8) {
      // Two groups per iteration (more independent work in flight), added to acc in order.
      const o = <usize>i << 2;
      const e0 = exp4(f32x4.sub(v128.load(x + o), s));
      const e1 = exp4(f32x4.sub(v128.load(x + o, 16), s));
      v128.store(out + o, e0);
      v128.store(out + o, e1, 16);
      acc = f32x4.add(f32x4.add(acc, e0), e1);
    }
    for (; i < end; i += 4) {
      const o = <usize>i << 2;
      const e = exp4(f32x4.sub(v128.load(x + o), s));
      v128.store(out + o, e);
      acc = f32x4.add(acc, e);
    }
    sum += <f64>hsum(acc);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(x + o) - shift)), 0);
    store<f32>(out + o, e);
    sum += <f64>e;
  }
  return sum;
}

// Largest of n f32 (−∞ for n = 0; NaN when there is one; +0 over −0).
export function maxF32(x: usize, n: i32): f32 {
  // Four accumulators of pmax (one instruction, where max is several) and a NaN check: pmax finds the
  // same largest value unless there is a NaN or the largest is a zero, and then the exact pass runs.
  let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0, nan = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    m0 = f32x4.pmax(m0, v0); m1 = f32x4.pmax(m1, v1); m2 = f32x4.pmax(m2, v2); m3 = f32x4.pmax(m3, v3);
    nan = v128.or(nan, v128.or(v128.or(f32x4.ne(v0, v0), f32x4.ne(v1, v1)), v128.or(f32x4.ne(v2, v2), f32x4.ne(v3, v3))));
  }
  const m = f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3));
  let r = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  for (; i < n; i++) r = max(r, load<f32>(x + (<usize>i << 2)));
  if (r != 0 && !v128.any_true(nan)) return r;
  return maxExact(x, n);
}

// maxF32 by f32x4.max (NaN-propagating, +0 over −0) in one accumulator, then the tail.
function maxExact(x: usize, n: i32): f32 {
  let m = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) m = f32x4.max(m, v128.load(x + (<usize>i << 2)));
  let r = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  for (; i < n; i++) r = max(r, load<f32>(x + (<usize>i << 2)));
  return r;
}

// x[i] /= d for n f32 (temperature).
export function divideF32(x: usize, n: i32, d: f32): void {
  const dv = f32x4.splat(d);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), f32x4.div(v128.load(x + (<usize>i << 2)), dv));
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) / d);
}

// The first i whose running sum (f64) of x[0..i] exceeds target; n − 1 when none does (rounding).
export function cumulativeFind(x: usize, n: i32, target: f64): i32 {
  let cum: f64 = 0;
  for (let i = 0; i < n; i++) {
    cum += <f64>load<f32>(x + (<usize>i << 2));
    if (target < cum) return i;
  }
  return n - 1;
}

// ---------------------------------------------------------------- greedy and entropy

// Index of the largest of n f32, the lowest index on ties (JavaScript's `x[i] > x[best]` scan, which
// a NaN makes order-dependent: then that scan runs as written).
export function argmaxF32(x: usize, n: i32): i32 {
  if (n <= 1) return 0;
  const m = maxF32(x, n);
  if (isNaN(m)) {
    let best = 0;
    let bv = load<f32>(x);
    for (let i = 1; i < n; i++) {
      const v = load<f32>(x + (<usize>i << 2));
      if (v > bv) { best = i; bv = v; }
    }
    return best;
  }
  const mv = f32x4.splat(m);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const bits = i32x4.bitmask(f32x4.eq(v128.load(x + (<usize>i << 2)), mv));
    if (bits != 0) return i + ctz(bits);
  }
  for (; i < n; i++) if (load<f32>(x + (<usize>i << 2)) == m) return i;
  return 0;
}

// −Σ (e_i / sum) · (l_i − max − lnSum) over the entries with e_i > 0, added up in index order in f64:
// the entropy (nats) of the distribution e / sum, with ln p_i computed from the logits.
export function entropyNats(l: usize, e: usize, n: i32, max: f64, sum: f64, lnSum: f64): f64 {
  // Terms two at a time (the divisions are the slow part), a skipped entry's term as +0 (h − 0 = h).
  const mv = f64x2.splat(max), sv = f64x2.splat(sum), lv = f64x2.splat(lnSum), zero = f64x2.splat(0);
  let h: f64 = 0;
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 2;
    const ev = f64x2.promote_low_f32x4(v128.load64_zero(e + o));
    const lx = f64x2.promote_low_f32x4(v128.load64_zero(l + o));
    const t = v128.and(f64x2.mul(f64x2.div(ev, sv), f64x2.sub(f64x2.sub(lx, mv), lv)), f64x2.gt(ev, zero));
    h -= f64x2.extract_lane(t, 0);
    h -= f64x2.extract_lane(t, 1);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const ei = <f64>load<f32>(e + o);
    if (ei > 0) h -= (ei / sum) * (<f64>load<f32>(l + o) - max - lnSum);
  }
  return h;
}

// Σ e_i · (x_i − max) over the entries with e_i > 0, in index order in f64 (the entropy's other form).
export function weightedShift(x: usize, e: usize, n: i32, max: f64): f64 {
  // Terms two at a time; a skipped entry's term is +0, and s + 0 = s as s is never −0.
  const mv = f64x2.splat(max), zero = f64x2.splat(0);
  let s: f64 = 0;
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 2;
    const ev = f64x2.promote_low_f32x4(v128.load64_zero(e + o));
    const t = v128.and(f64x2.mul(ev, f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(x + o)), mv)), f64x2.gt(ev, zero));
    s += f64x2.extract_lane(t, 0);
    s += f64x2.extract_lane(t, 1);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const ei = <f64>load<f32>(e + o);
    if (ei > 0) s += ei * (<f64>load<f32>(x + o) - max);
  }
  return s;
}

// How many of n f32 are finite.
export function countFinite(x: usize, n: i32): i32 {
  let count = 0, i = 0;
  const zero = f32x4.splat(0);
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    count += popcnt(i32x4.bitmask(f32x4.eq(f32x4.sub(v, v), zero)));
  }
  for (; i < n; i++) if (isFinite(load<f32>(x + (<usize>i << 2)))) count++;
  return count;
}

// Σ x_i over the finite entries, in index order in f64.
export function sumFinite(x: usize, n: i32): f64 {
  // Four at a time, a non-finite entry as +0 (s + 0 = s: a sum from +0 is never −0).
  const zero = f32x4.splat(0);
  let s: f64 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const f = v128.and(v, f32x4.eq(f32x4.sub(v, v), zero));
    const lo = f64x2.promote_low_f32x4(f), hi = f64x2.promote_low_f32x4(i32x4.shuffle(f, f, 2, 3, 2, 3));
    s += f64x2.extract_lane(lo, 0);
    s += f64x2.extract_lane(lo, 1);
    s += f64x2.extract_lane(hi, 0);
    s += f64x2.extract_lane(hi, 1);
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (isFinite(v)) s += <f64>v;
  }
  return s;
}

// Σ (x_i − mean)² over the finite entries, in index order in f64.
export function sqDevFinite(x: usize, n: i32, mean: f64): f64 {
  // Squares two at a time, a non-finite entry's as +0.
  const mv = f64x2.splat(mean), zero = f32x4.splat(0);
  let s: f64 = 0;
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const v = v128.load64_zero(x + (<usize>i << 2));
    const d = f64x2.sub(f64x2.promote_low_f32x4(v), mv);
    const fin = f32x4.eq(f32x4.sub(v, v), zero); // lanes 0–1: finite
    const t = v128.and(f64x2.mul(d, d), i32x4.shuffle(fin, fin, 0, 0, 1, 1));
    s += f64x2.extract_lane(t, 0);
    s += f64x2.extract_lane(t, 1);
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (isFinite(v)) {
      const d = <f64>v - mean;
      s += d * d;
    }
  }
  return s;
}

// ---------------------------------------------------------------- ranking keys, mass bins, compaction

// Top-p and typical-p rank entries by an f64 key computed from the logit x (promoted from f32), exactly
// as the TypeScript side computes it: mode 0 (top-p) a − x; mode 1 (typical-p) |a − (x − b) − c|.
// Two lanes at a time: keyLo for lanes 0–1 of four logits, keyHi for lanes 2–3.
@inline function key2(mode: i32, d: v128, a: v128, b: v128, c: v128): v128 {
  if (mode == 0) return f64x2.sub(a, d);
  return f64x2.abs(f64x2.sub(f64x2.sub(a, f64x2.sub(d, b)), c));
}
@inline function keyLo(mode: i32, x: v128, a: v128, b: v128, c: v128): v128 {
  return key2(mode, f64x2.promote_low_f32x4(x), a, b, c);
}
@inline function keyHi(mode: i32, x: v128, a: v128, b: v128, c: v128): v128 {
  return key2(mode, f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 2, 3)), a, b, c);
}

const BINS: i32 = 2048;

// Bin numbers of four entries: trunc(key · scale) clamped to [0, BINS − 1], NaN keys in bin 0.
@inline function bins4(mode: i32, x: v128, a: v128, b: v128, c: v128, s: v128): v128 {
  const lo = i32x4.trunc_sat_f64x2_s_zero(f64x2.mul(keyLo(mode, x, a, b, c), s));
  const hi = i32x4.trunc_sat_f64x2_s_zero(f64x2.mul(keyHi(mode, x, a, b, c), s));
  return i32x4.min_s(i32x4.max_s(i32x4.shuffle(lo, hi, 0, 1, 4, 5), i32x4.splat(0)), i32x4.splat(BINS - 1));
}

@inline function addMass(mass: usize, bin: i32, e: f32): void {
  const p = mass + (<usize>bin << 3);
  store<f64>(p, load<f64>(p) + <f64>e);
}

@inline function binMassMode(mode: i32, l: usize, e: usize, n: i32, a: f64, b: f64, c: f64, scale: f64, bins: usize, mass: usize): void {
  const av = f64x2.splat(a), bv = f64x2.splat(b), cv = f64x2.splat(c), sv = f64x2.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const k = bins4(mode, v128.load(l + o), av, bv, cv, sv);
    v128.store64_lane(bins + (<usize>i << 1), i16x8.narrow_i32x4_u(k, k), 0);
    const ev = v128.load(e + o);
    addMass(mass, i32x4.extract_lane(k, 0), f32x4.extract_lane(ev, 0));
    addMass(mass, i32x4.extract_lane(k, 1), f32x4.extract_lane(ev, 1));
    addMass(mass, i32x4.extract_lane(k, 2), f32x4.extract_lane(ev, 2));
    addMass(mass, i32x4.extract_lane(k, 3), f32x4.extract_lane(ev, 3));
  }
  for (; i < n; i++) {
    const k = i32x4.extract_lane(bins4(mode, f32x4.splat(load<f32>(l + (<usize>i << 2))), av, bv, cv, sv), 0);
    store<u16>(bins + (<usize>i << 1), <u16>k);
    addMass(mass, k, load<f32>(e + (<usize>i << 2)));
  }
}

// One pass over n entries: each entry's bin (u16, into bins) by its ranking key (see key2), and the
// f64 mass per bin (BINS f64 at mass, zeroed first), each bin's mass added up in index order.
export function binMass(l: usize, e: usize, n: i32, mode: i32, a: f64, b: f64, c: f64, scale: f64, bins: usize, mass: usize): void {
  memory.fill(mass, 0, <usize>BINS << 3);
  if (mode == 0) binMassBelow(l, e, n, a, scale, bins, mass);
  else binMassTypical(l, e, n, a, b, c, scale, bins, mass);
}

// One loop per mode, in functions of their own (here and for the ranked compaction): inlined into one
// function, the optimizer folds the two loops into one that computes both keys and selects.
function binMassBelow(l: usize, e: usize, n: i32, a: f64, scale: f64, bins: usize, mass: usize): void {
  binMassMode(0, l, e, n, a, 0, 0, scale, bins, mass);
}
function binMassTypical(l: usize, e: usize, n: i32, a: f64, b: f64, c: f64, scale: f64, bins: usize, mass: usize): void {
  binMassMode(1, l, e, n, a, b, c, scale, bins, mass);
}

// The indices (ascending, i32 into out) of the entries whose bin (u16) is `bin`; returns how many.
export function collectBin(bins: usize, n: i32, bin: i32, out: usize): i32 {
  const bv = i16x8.splat(<i16>bin);
  let count = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    let bits = i16x8.bitmask(i16x8.eq(v128.load(bins + (<usize>i << 1)), bv));
    while (bits != 0) {
      store<i32>(out + (<usize>count << 2), i + ctz(bits));
      count++;
      bits &= bits - 1;
    }
  }
  for (; i < n; i++) {
    if (<i32>load<u16>(bins + (<usize>i << 1)) == bin) {
      store<i32>(out + (<usize>count << 2), i);
      count++;
    }
  }
  return count;
}

// Keep masks (i32x4 lanes) for four entries. Ranked: (key, id) ≤ (k, id0), i.e. key < k, or key = k
// and id ≤ id0. At least: x ≥ cut (f32).
@inline function keepRanked4(mode: i32, x: v128, ids: v128, a: v128, b: v128, c: v128, k: v128, id0: v128): v128 {
  const lo = keyLo(mode, x, a, b, c), hi = keyHi(mode, x, a, b, c);
  const lt = i32x4.shuffle(f64x2.lt(lo, k), f64x2.lt(hi, k), 0, 2, 4, 6);
  const eq = i32x4.shuffle(f64x2.eq(lo, k), f64x2.eq(hi, k), 0, 2, 4, 6);
  return v128.or(lt, v128.and(eq, i32x4.le_s(ids, id0)));
}

// For a 4-bit keep mask: the i8x16.swizzle that packs the kept 32-bit lanes to the front.
const PACK: usize = memory.data<u8>([
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 128, 128, 128, 128, 128, 128, 128, 128,
  8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 128, 128, 128, 128,
  12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 128, 128, 128, 128,
  8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128,
  4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
], 16);

// Moves four entries' kept lanes (mask bits) to w; returns the new w. Lanes past the kept ones are
// written too (with zeros), but only at w..w+3 ≤ i+3: slots already read.
@inline function pack4(l: usize, ids: usize, i: i32, w: i32, x: v128, id: v128, bits: i32): i32 {
  if (bits == 15 && w == i) return w + 4;
  if (bits == 0) return w;
  const s = v128.load(PACK + (<usize>bits << 4));
  v128.store(l + (<usize>w << 2), i8x16.swizzle(x, s));
  v128.store(ids + (<usize>w << 2), i8x16.swizzle(id, s));
  return w + popcnt(bits);
}

@inline function compactRankedMode(mode: i32, l: usize, ids: usize, from: i32, to: i32, w: i32, a: f64, b: f64, c: f64, k: f64, id0: i32): i32 {
  const av = f64x2.splat(a), bv = f64x2.splat(b), cv = f64x2.splat(c), kv = f64x2.splat(k), iv = i32x4.splat(id0);
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(l + o), id = v128.load(ids + o);
    w = pack4(l, ids, i, w, x, id, i32x4.bitmask(keepRanked4(mode, x, id, av, bv, cv, kv, iv)));
  }
  for (; i < to; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(l + o), id = load<i32>(ids + o);
    if (i32x4.extract_lane(keepRanked4(mode, f32x4.splat(x), i32x4.splat(id), av, bv, cv, kv, iv), 0) == 0) continue;
    store<f32>(l + (<usize>w << 2), x);
    store<i32>(ids + (<usize>w << 2), id);
    w++;
  }
  return w;
}

// Compacts entries [from, to) of (l, ids) to start at w ≤ from, keeping those whose (key, id) ≤ (k, id0)
// (see keepRanked4), in order; returns the new end. The slots after it hold garbage.
export function compactRanked(l: usize, ids: usize, from: i32, to: i32, w: i32, mode: i32, a: f64, b: f64, c: f64, k: f64, id0: i32): i32 {
  return mode == 0 ? compactRankedBelow(l, ids, from, to, w, a, k, id0) : compactRankedTypical(l, ids, from, to, w, a, b, c, k, id0);
}
function compactRankedBelow(l: usize, ids: usize, from: i32, to: i32, w: i32, a: f64, k: f64, id0: i32): i32 {
  return compactRankedMode(0, l, ids, from, to, w, a, 0, 0, k, id0);
}
function compactRankedTypical(l: usize, ids: usize, from: i32, to: i32, w: i32, a: f64, b: f64, c: f64, k: f64, id0: i32): i32 {
  return compactRankedMode(1, l, ids, from, to, w, a, b, c, k, id0);
}

@inline function countRankedMode(mode: i32, l: usize, ids: usize, n: i32, a: f64, b: f64, c: f64, k: f64, id0: i32): i32 {
  const av = f64x2.splat(a), bv = f64x2.splat(b), cv = f64x2.splat(c), kv = f64x2.splat(k), iv = i32x4.splat(id0);
  let count = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    count += popcnt(i32x4.bitmask(keepRanked4(mode, v128.load(l + o), v128.load(ids + o), av, bv, cv, kv, iv)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    if (i32x4.extract_lane(keepRanked4(mode, f32x4.splat(load<f32>(l + o)), i32x4.splat(load<i32>(ids + o)), av, bv, cv, kv, iv), 0) != 0) count++;
  }
  return count;
}

// How many of n entries compactRanked would keep.
export function countRanked(l: usize, ids: usize, n: i32, mode: i32, a: f64, b: f64, c: f64, k: f64, id0: i32): i32 {
  return mode == 0 ? countRankedBelow(l, ids, n, a, k, id0) : countRankedTypical(l, ids, n, a, b, c, k, id0);
}
function countRankedBelow(l: usize, ids: usize, n: i32, a: f64, k: f64, id0: i32): i32 {
  return countRankedMode(0, l, ids, n, a, 0, 0, k, id0);
}
function countRankedTypical(l: usize, ids: usize, n: i32, a: f64, b: f64, c: f64, k: f64, id0: i32): i32 {
  return countRankedMode(1, l, ids, n, a, b, c, k, id0);
}

// As compactRanked, keeping the entries with l ≥ cut.
export function compactAtLeast(l: usize, ids: usize, from: i32, to: i32, w: i32, cut: f32): i32 {
  const cv = f32x4.splat(cut);
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(l + o);
    w = pack4(l, ids, i, w, x, v128.load(ids + o), i32x4.bitmask(f32x4.ge(x, cv)));
  }
  for (; i < to; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(l + o);
    if (!(x >= cut)) continue;
    store<f32>(l + (<usize>w << 2), x);
    store<i32>(ids + (<usize>w << 2), load<i32>(ids + o));
    w++;
  }
  return w;
}

// How many of n f32 are ≥ cut.
export function countAtLeast(l: usize, n: i32, cut: f32): i32 {
  const cv = f32x4.splat(cut);
  let count = 0, i = 0;
  for (; i + 4 <= n; i += 4) count += popcnt(i32x4.bitmask(f32x4.ge(v128.load(l + (<usize>i << 2)), cv)));
  for (; i < n; i++) if (load<f32>(l + (<usize>i << 2)) >= cut) count++;
  return count;
}

// ---------------------------------------------------------------- top-k selection

// Entry a ranks below entry b: a smaller logit, or the same logit and a larger id.
@inline function worse(l: usize, ids: usize, a: i32, b: i32): bool {
  const la = load<f32>(l + (<usize>a << 2)), lb = load<f32>(l + (<usize>b << 2));
  return la < lb || (la == lb && load<i32>(ids + (<usize>a << 2)) > load<i32>(ids + (<usize>b << 2)));
}

@inline function heapAt(heap: usize, i: i32): i32 {
  return load<i32>(heap + (<usize>i << 2));
}

function siftDown(l: usize, ids: usize, heap: usize, k: i32, i: i32): void {
  for (;;) {
    const lc = 2 * i + 1, rc = lc + 1;
    let w = i;
    if (lc < k && worse(l, ids, heapAt(heap, lc), heapAt(heap, w))) w = lc;
    if (rc < k && worse(l, ids, heapAt(heap, rc), heapAt(heap, w))) w = rc;
    if (w == i) return;
    const t = heapAt(heap, i);
    store<i32>(heap + (<usize>i << 2), heapAt(heap, w));
    store<i32>(heap + (<usize>w << 2), t);
    i = w;
  }
}

// The indices of the best k entries of [from, n) (largest logit, lower id on ties) as a min-heap of
// i32 at heap (worst kept at the root): Candidates.selectHeap's algorithm step for step, with four
// entries at a time skipped while all of them rank below the root.
export function selectTop(l: usize, ids: usize, from: i32, n: i32, k: i32, heap: usize): void {
  for (let j = 0; j < k; j++) store<i32>(heap + (<usize>j << 2), from + j);
  for (let j = (k >> 1) - 1; j >= 0; j--) siftDown(l, ids, heap, k, j);
  let root = heapAt(heap, 0);
  let rl = load<f32>(l + (<usize>root << 2));
  let i = from + k;
  while (i < n) {
    if ((i & 3) == 0) {
      // Skip four at a time while all are strictly below the root's logit: none of them can enter
      // (a NaN is never below, so it is looked at one by one, as the scan above would).
      const rv = f32x4.splat(rl);
      while (i + 4 <= n && i32x4.all_true(f32x4.lt(v128.load(l + (<usize>i << 2)), rv))) i += 4;
      if (i >= n) break;
    }
    const li = load<f32>(l + (<usize>i << 2));
    if (!(li < rl || (li == rl && load<i32>(ids + (<usize>i << 2)) > load<i32>(ids + (<usize>root << 2))))) {
      store<i32>(heap, i);
      siftDown(l, ids, heap, k, 0);
      root = heapAt(heap, 0);
      rl = load<f32>(l + (<usize>root << 2));
    }
    i++;
  }
}

// As compactAtLeast, keeping the entries with l ≠ v (NaN is kept): dropping banned (−∞) tokens.
export function compactNotEqual(l: usize, ids: usize, from: i32, to: i32, w: i32, v: f32): i32 {
  const vv = f32x4.splat(v);
  let i = from;
  if (w == i) {
    // Nothing dropped yet (the usual case: no banned token at all): skip ahead, moving nothing.
    while (i + 4 <= to && !v128.any_true(f32x4.eq(v128.load(l + (<usize>i << 2)), vv))) i += 4;
    w = i;
  }
  for (; i + 4 <= to; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(l + o);
    w = pack4(l, ids, i, w, x, v128.load(ids + o), i32x4.bitmask(f32x4.ne(x, vv)));
  }
  for (; i < to; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(l + o);
    if (x == v) continue;
    store<f32>(l + (<usize>w << 2), x);
    store<i32>(ids + (<usize>w << 2), load<i32>(ids + o));
    w++;
  }
  return w;
}

// The keep bits of four f32 entries given as value bands: lo ≤ x ≤ hi, or tlo ≤ x ≤ thi and id ≤ id0
// (the tie band; an empty band has lo > hi or a NaN bound). Ranked keeps turn into this (see
// rankBands in vector-math). Ties are rare, so the ids are read only when one is in the group.
@inline function keepBand4(x: v128, ids: usize, lo: v128, hi: v128, tlo: v128, thi: v128, id0: i32): i32 {
  const bits = i32x4.bitmask(v128.and(f32x4.ge(x, lo), f32x4.le(x, hi)));
  const tie = v128.and(f32x4.ge(x, tlo), f32x4.le(x, thi));
  if ((i32x4.bitmask(tie) & ~bits) == 0) return bits;
  return bits | i32x4.bitmask(v128.and(tie, i32x4.le_s(v128.load(ids), i32x4.splat(id0))));
}

@inline function keepBand1(x: f32, id: i32, lo: f32, hi: f32, tlo: f32, thi: f32, id0: i32): bool {
  return (x >= lo && x <= hi) || (x >= tlo && x <= thi && id <= id0);
}

// As compactRanked, keeping the entries in the bands of keepBand4.
export function compactBand(l: usize, ids: usize, from: i32, to: i32, w: i32, lo: f32, hi: f32, tlo: f32, thi: f32, id0: i32): i32 {
  const lv = f32x4.splat(lo), hv = f32x4.splat(hi), tl = f32x4.splat(tlo), th = f32x4.splat(thi);
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(l + o);
    const bits = keepBand4(x, ids + o, lv, hv, tl, th, id0);
    if (bits == 0) continue;
    w = pack4(l, ids, i, w, x, v128.load(ids + o), bits);
  }
  for (; i < to; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(l + o), id = load<i32>(ids + o);
    if (!keepBand1(x, id, lo, hi, tlo, thi, id0)) continue;
    store<f32>(l + (<usize>w << 2), x);
    store<i32>(ids + (<usize>w << 2), id);
    w++;
  }
  return w;
}

// How many of n entries compactBand would keep.
export function countBand(l: usize, ids: usize, n: i32, lo: f32, hi: f32, tlo: f32, thi: f32, id0: i32): i32 {
  const lv = f32x4.splat(lo), hv = f32x4.splat(hi), tl = f32x4.splat(tlo), th = f32x4.splat(thi);
  let count = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    count += popcnt(keepBand4(v128.load(l + o), ids + o, lv, hv, tl, th, id0));
  }
  for (; i < n; i++) if (keepBand1(load<f32>(l + (<usize>i << 2)), load<i32>(ids + (<usize>i << 2)), lo, hi, tlo, thi, id0)) count++;
  return count;
}
