// Sampling math over a logit vector in the shared memory (softmax pieces, temperature, the cumulative
// search), used by src/sampling through vector-math.ts.
import { hsum } from './common';

// exp for four f32 lanes (Cephes expf: range reduction by ln 2 and a degree-6 polynomial, ~2e-7
// relative error); inputs below −87 give 0.
@inline function exp4(x: v128): v128 {
  const lo = f32x4.splat(-87.0);
  const xc = f32x4.min(f32x4.max(x, lo), f32x4.splat(88.0));
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
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
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

// Largest of n f32 (−∞ for n = 0).
export function maxF32(x: usize, n: i32): f32 {
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
