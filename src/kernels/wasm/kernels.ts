// Wander's hot kernels, in AssemblyScript, compiled to WebAssembly SIMD by scripts/build-kernels.mjs.
//
// Every argument is a byte offset into the one shared linear memory (weights, activations, KV cache and
// scratch all live there) or a count. Nothing here allocates: the TypeScript side owns the layout.
// Summation order is fixed (no reassociation depends on threads), so results are bit-identical run to run.

import { T_F32, T_F16, T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1, T_Q8_0, T_Q2_K, T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K, T_IQ4_NL, T_IQ4_XS, T_BF16, KVALUES_IQ4NL, f16ToF32, f16x4ToF32x4, hsum } from './common';

// The sampling math lives in its own file; its functions are exports of this module too.
export * from './sampling';
export * from './kquants';
import { matmulQ8K } from './kquants';

// ---------------------------------------------------------------- dot products (x is f32)

// Every f32-valued dot product (F32, F16 and BF16 weights, and dequantized k-quant rows) uses one
// summation order: four f32x4 accumulators over 16-element strides, then 4-element steps into the
// first, then a scalar tail. The multi-token kernel below keeps exactly this order per token, so a
// token's logits are bit-identical however tokens are grouped (prompt chunks, batches, threads).
const W_F32: i32 = 0, W_F16: i32 = 1, W_BF16: i32 = 2;

@inline function load4(kind: i32, w: usize, i: i32): v128 {
  if (kind == W_F32) return v128.load(w + (<usize>i << 2));
  if (kind == W_F16) return f16x4ToF32x4(v128.load16x4_u(w + (<usize>i << 1)));
  return i32x4.shl(v128.load16x4_u(w + (<usize>i << 1)), 16);
}

@inline function load1(kind: i32, w: usize, i: i32): f32 {
  if (kind == W_F32) return load<f32>(w + (<usize>i << 2));
  if (kind == W_F16) return f16ToF32(load<u16>(w + (<usize>i << 1)));
  return reinterpret<f32>(<u32>load<u16>(w + (<usize>i << 1)) << 16);
}

@inline function dotW(kind: i32, w: usize, x: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    a0 = f32x4.add(a0, f32x4.mul(load4(kind, w, i), v128.load(x + o)));
    a1 = f32x4.add(a1, f32x4.mul(load4(kind, w, i + 4), v128.load(x + o + 16)));
    a2 = f32x4.add(a2, f32x4.mul(load4(kind, w, i + 8), v128.load(x + o + 32)));
    a3 = f32x4.add(a3, f32x4.mul(load4(kind, w, i + 12), v128.load(x + o + 48)));
  }
  for (; i + 4 <= n; i += 4) a0 = f32x4.add(a0, f32x4.mul(load4(kind, w, i), v128.load(x + (<usize>i << 2))));
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; i < n; i++) s += load1(kind, w, i) * load<f32>(x + (<usize>i << 2));
  return s;
}

function dotF32(w: usize, x: usize, n: i32): f32 { return dotW(W_F32, w, x, n); }
function dotF16(w: usize, x: usize, n: i32): f32 { return dotW(W_F16, w, x, n); }
function dotBF16(w: usize, x: usize, n: i32): f32 { return dotW(W_BF16, w, x, n); }

// Two tokens against one f32 row, each in exactly dotF32's order: every weight vector is loaded once
// for two multiply-adds, and eight independent accumulators keep the adds in flight.
function dot2F32(w: usize, x0: usize, x1: usize, n: i32, y0: usize, y1: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const w0 = v128.load(w + o), w1 = v128.load(w + o + 16), w2 = v128.load(w + o + 32), w3 = v128.load(w + o + 48);
    a0 = f32x4.add(a0, f32x4.mul(w0, v128.load(x0 + o)));
    b0 = f32x4.add(b0, f32x4.mul(w0, v128.load(x1 + o)));
    a1 = f32x4.add(a1, f32x4.mul(w1, v128.load(x0 + o + 16)));
    b1 = f32x4.add(b1, f32x4.mul(w1, v128.load(x1 + o + 16)));
    a2 = f32x4.add(a2, f32x4.mul(w2, v128.load(x0 + o + 32)));
    b2 = f32x4.add(b2, f32x4.mul(w2, v128.load(x1 + o + 32)));
    a3 = f32x4.add(a3, f32x4.mul(w3, v128.load(x0 + o + 48)));
    b3 = f32x4.add(b3, f32x4.mul(w3, v128.load(x1 + o + 48)));
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const wv = v128.load(w + o);
    a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(x0 + o)));
    b0 = f32x4.add(b0, f32x4.mul(wv, v128.load(x1 + o)));
  }
  let s0 = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  let s1 = hsum(f32x4.add(f32x4.add(b0, b1), f32x4.add(b2, b3)));
  for (; i < n; i++) {
    const wv = load<f32>(w + (<usize>i << 2));
    s0 += wv * load<f32>(x0 + (<usize>i << 2));
    s1 += wv * load<f32>(x1 + (<usize>i << 2));
  }
  store<f32>(y0, s0);
  store<f32>(y1, s1);
}

// One of dotF32's four accumulators for 2 rows × 4 tokens: lanes g·4 .. g·4+3 of every 16-element stride
// (and, for g = 0, the 4-element steps after the last full stride), each of the eight (row, token) sums in
// exactly the order dotF32 gives that accumulator. Results go to out[8·v128] in (row, token) order.
@inline function pass2x4(g: i32, w0: usize, w1: usize, x0: usize, x1: usize, x2: usize, x3: usize, n: i32, out: usize): void {
  let c00 = f32x4.splat(0), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  const n16 = n & ~15, n4 = g == 0 ? n & ~3 : n16;
  let wa: v128, wb: v128, xv: v128;
  let i = g << 2;
  // Two 16-element strides per turn (the same additions in the same order), then one, then (g = 0) 4-steps.
  // The step is written out three times: an AssemblyScript helper cannot update eight vector locals.
  for (; i + 16 < n16; i += 32) {
    let o = <usize>i << 2;
    wa = v128.load(w0 + o); wb = v128.load(w1 + o);
    xv = v128.load(x0 + o);
    c00 = f32x4.add(c00, f32x4.mul(wa, xv)); c10 = f32x4.add(c10, f32x4.mul(wb, xv));
    xv = v128.load(x1 + o);
    c01 = f32x4.add(c01, f32x4.mul(wa, xv)); c11 = f32x4.add(c11, f32x4.mul(wb, xv));
    xv = v128.load(x2 + o);
    c02 = f32x4.add(c02, f32x4.mul(wa, xv)); c12 = f32x4.add(c12, f32x4.mul(wb, xv));
    xv = v128.load(x3 + o);
    c03 = f32x4.add(c03, f32x4.mul(wa, xv)); c13 = f32x4.add(c13, f32x4.mul(wb, xv));
    o += 64;
    wa = v128.load(w0 + o); wb = v128.load(w1 + o);
    xv = v128.load(x0 + o);
    c00 = f32x4.add(c00, f32x4.mul(wa, xv)); c10 = f32x4.add(c10, f32x4.mul(wb, xv));
    xv = v128.load(x1 + o);
    c01 = f32x4.add(c01, f32x4.mul(wa, xv)); c11 = f32x4.add(c11, f32x4.mul(wb, xv));
    xv = v128.load(x2 + o);
    c02 = f32x4.add(c02, f32x4.mul(wa, xv)); c12 = f32x4.add(c12, f32x4.mul(wb, xv));
    xv = v128.load(x3 + o);
    c03 = f32x4.add(c03, f32x4.mul(wa, xv)); c13 = f32x4.add(c13, f32x4.mul(wb, xv));
  }
  for (; i < n4; i += i < n16 ? 16 : 4) {
    const o = <usize>i << 2;
    wa = v128.load(w0 + o); wb = v128.load(w1 + o);
    xv = v128.load(x0 + o);
    c00 = f32x4.add(c00, f32x4.mul(wa, xv)); c10 = f32x4.add(c10, f32x4.mul(wb, xv));
    xv = v128.load(x1 + o);
    c01 = f32x4.add(c01, f32x4.mul(wa, xv)); c11 = f32x4.add(c11, f32x4.mul(wb, xv));
    xv = v128.load(x2 + o);
    c02 = f32x4.add(c02, f32x4.mul(wa, xv)); c12 = f32x4.add(c12, f32x4.mul(wb, xv));
    xv = v128.load(x3 + o);
    c03 = f32x4.add(c03, f32x4.mul(wa, xv)); c13 = f32x4.add(c13, f32x4.mul(wb, xv));
  }
  v128.store(out, c00); v128.store(out, c01, 16); v128.store(out, c02, 32); v128.store(out, c03, 48);
  v128.store(out, c10, 64); v128.store(out, c11, 80); v128.store(out, c12, 96); v128.store(out, c13, 112);
}

// Two f32 rows against four tokens (a register block: each weight vector is loaded once for four tokens and
// each token vector once for two rows), every (row, token) dot product bit-identical to dotF32's. dotF32
// keeps four accumulators, for lanes 0–3, 4–7, 8–11 and 12–15 of each 16-element stride; they are
// independent sums, so they are computed one after the other (pass2x4) with eight (row, token) accumulators
// each, then combined exactly as dotF32 combines them. part: 4 × 128 bytes of this thread's scratch.
function dot2x4F32(w0: usize, w1: usize, x0: usize, x1: usize, x2: usize, x3: usize, n: i32, y: usize, yStride: usize, part: usize): void {
  for (let g = 0; g < 4; g++) pass2x4(g, w0, w1, x0, x1, x2, x3, n, part + (<usize>g << 7));
  const n4 = n & ~3;
  for (let k = 0; k < 8; k++) {
    const o = <usize>k << 4;
    const a = f32x4.add(f32x4.add(v128.load(part + o), v128.load(part + 128 + o)), f32x4.add(v128.load(part + 256 + o), v128.load(part + 384 + o)));
    let s = hsum(a);
    const wr = k < 4 ? w0 : w1, xt = k & 3;
    const xr = xt == 0 ? x0 : xt == 1 ? x1 : xt == 2 ? x2 : x3;
    for (let i = n4; i < n; i++) s += load<f32>(wr + (<usize>i << 2)) * load<f32>(xr + (<usize>i << 2));
    store<f32>(y + (<usize>(k >> 2) << 2) + <usize>xt * yStride, s);
  }
}

// Q8_0: blocks of 32 weights = f16 scale + 32 int8. The block's int8·f32 sum is exact-ish in f32, then scaled.
function dotQ8_0(w: usize, x: usize, n: i32): f32 {
  let s: f32 = 0;
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const blk = w + <usize>b * 34;
    const q = blk + 2;
    const xb = x + (<usize>b << 7);
    let acc = f32x4.splat(0);
    for (let j = 0; j < 32; j += 8) {
      const q16 = v128.load8x8_s(q + j);
      const lo = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q16));
      const hi = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q16));
      acc = f32x4.add(acc, f32x4.mul(lo, v128.load(xb + (<usize>j << 2))));
      acc = f32x4.add(acc, f32x4.mul(hi, v128.load(xb + (<usize>j << 2) + 16)));
    }
    s += f16ToF32(load<u16>(blk)) * hsum(acc);
  }
  return s;
}

// Q4_0: blocks of 32 = f16 scale + 16 bytes; the low nibbles are elements 0..15, the high ones 16..31.
function dotQ4_0(w: usize, x: usize, n: i32): f32 {
  let s: f32 = 0;
  const nb = n >> 5;
  const mask = i8x16.splat(0x0f);
  const eight = i8x16.splat(8);
  for (let b = 0; b < nb; b++) {
    const blk = w + <usize>b * 18;
    const bytes = v128.load(blk + 2);
    const lo = i8x16.sub(v128.and(bytes, mask), eight);
    const hi = i8x16.sub(i8x16.shr_u(bytes, 4), eight);
    const xb = x + (<usize>b << 7);
    let acc = f32x4.splat(0);
    acc = accI8x16(acc, lo, xb);
    acc = accI8x16(acc, hi, xb + 64);
    s += f16ToF32(load<u16>(blk)) * hsum(acc);
  }
  return s;
}

// acc += 16 int8 lanes of q times 16 f32 at xp.
@inline function accI8x16(acc: v128, q: v128, xp: usize): v128 {
  const a = i16x8.extend_low_i8x16_s(q), b = i16x8.extend_high_i8x16_s(q);
  acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)), v128.load(xp)));
  acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)), v128.load(xp + 16)));
  acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(b)), v128.load(xp + 32)));
  acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(b)), v128.load(xp + 48)));
  return acc;
}

// ---------------------------------------------------------------- 32-value blocks as two i8x16 vectors

// Byte offset of the 16 bytes of nibbles and bytes per block, for the 32-value 4- and 5-bit types.
@inline function blockBytes32(type: i32): usize {
  if (type == T_Q4_0 || type == T_IQ4_NL) return 18;
  if (type == T_Q4_1) return 20;
  if (type == T_Q5_0) return 22;
  return 24; // Q5_1
}
@inline function nibbleOffset32(type: i32): usize {
  if (type == T_Q4_0 || type == T_IQ4_NL) return 2;
  if (type == T_Q4_1) return 4;
  if (type == T_Q5_0) return 6;
  return 8; // Q5_1
}

// Bits 16·half .. 16·half+15 of qh as 16 bytes: 0x10 where the bit is set, else 0 (the fifth bit of Q5_0/Q5_1).
@inline function fifthBits(qh: u32, half: i32): v128 {
  const idx = half == 0 ? i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1) : i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const sel = v128.and(i8x16.swizzle(i32x4.splat(qh), idx), i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128));
  return v128.and(i8x16.ne(sel, i8x16.splat(0)), i8x16.splat(0x10));
}

// The integer weights of elements 16·half .. 16·half+15 of a 32-value block of Q4_0, Q4_1, Q5_0, Q5_1
// or IQ4_NL, as i8x16: q − 8 (Q4_0), q (Q4_1), q − 16 (Q5_0), q (Q5_1), table[q] (IQ4_NL).
@inline function blockQ32(type: i32, blk: usize, half: i32): v128 {
  const bytes = v128.load(blk + nibbleOffset32(type));
  let q = half == 0 ? v128.and(bytes, i8x16.splat(0x0f)) : i8x16.shr_u(bytes, 4);
  if (type == T_Q4_0) return i8x16.sub(q, i8x16.splat(8));
  if (type == T_IQ4_NL) return i8x16.swizzle(KVALUES_IQ4NL, q);
  if (type == T_Q5_0) return i8x16.sub(v128.or(q, fifthBits(load<u32>(blk + 2), half)), i8x16.splat(16));
  if (type == T_Q5_1) return v128.or(q, fifthBits(load<u32>(blk + 4), half));
  return q; // Q4_1
}

// y[0..16) = f32(q) · d (+ m where hasMin), for 16 int8 lanes: ggml's x·d + m, one rounding per operation.
@inline function storeScaled16(y: usize, q: v128, d: f32, m: f32, hasMin: bool): void {
  const dv = f32x4.splat(d), mv = f32x4.splat(m);
  const a = i16x8.extend_low_i8x16_s(q), b = i16x8.extend_high_i8x16_s(q);
  let v0 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)), dv);
  let v1 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)), dv);
  let v2 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(b)), dv);
  let v3 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(b)), dv);
  if (hasMin) { v0 = f32x4.add(v0, mv); v1 = f32x4.add(v1, mv); v2 = f32x4.add(v2, mv); v3 = f32x4.add(v3, mv); }
  v128.store(y, v0);
  v128.store(y + 16, v1);
  v128.store(y + 32, v2);
  v128.store(y + 48, v3);
}

// y[0..16) = f32(q) · dl − ml for 16 int8 lanes (the k-quants' d·scale·q − dmin·min, one rounding per operation).
@inline function storeAffine16(y: usize, q: v128, dl: f32, ml: f32): void {
  const dv = f32x4.splat(dl), mv = f32x4.splat(ml);
  const a = i16x8.extend_low_i8x16_s(q), b = i16x8.extend_high_i8x16_s(q);
  v128.store(y, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)), dv), mv));
  v128.store(y + 16, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)), dv), mv));
  v128.store(y + 32, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(b)), dv), mv));
  v128.store(y + 48, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(b)), dv), mv));
}

// ---------------------------------------------------------------- dequantize one row (n elements) to f32

@inline function scaleMinK4(j: i32, sc: usize, isMin: bool): u32 {
  if (j < 4) return isMin ? load<u8>(sc + j + 4) & 63 : load<u8>(sc + j) & 63;
  if (isMin) return (load<u8>(sc + j + 4) >> 4) | ((load<u8>(sc + j) >> 6) << 4);
  return (load<u8>(sc + j + 4) & 0xf) | ((load<u8>(sc + j - 4) >> 6) << 4);
}

export function dequantRow(type: i32, src: usize, dst: usize, n: i32): void {
  if (type == T_F32) {
    memory.copy(dst, src, <usize>n << 2);
  } else if (type == T_F16) {
    for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), f16ToF32(load<u16>(src + (<usize>i << 1))));
  } else if (type == T_BF16) {
    for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), reinterpret<f32>(<u32>load<u16>(src + (<usize>i << 1)) << 16));
  } else if (type == T_Q8_0) {
    for (let b = 0; b < n >> 5; b++) {
      const blk = src + <usize>b * 34;
      const d = f16ToF32(load<u16>(blk));
      for (let j = 0; j < 32; j++) store<f32>(dst + (<usize>(b * 32 + j) << 2), d * <f32>load<i8>(blk + 2 + j));
    }
  } else if (type == T_Q4_0) {
    for (let b = 0; b < n >> 5; b++) {
      const blk = src + <usize>b * 18;
      const d = f16ToF32(load<u16>(blk));
      for (let j = 0; j < 16; j++) {
        const byte = <i32>load<u8>(blk + 2 + j);
        store<f32>(dst + (<usize>(b * 32 + j) << 2), d * <f32>((byte & 0xf) - 8));
        store<f32>(dst + (<usize>(b * 32 + j + 16) << 2), d * <f32>((byte >> 4) - 8));
      }
    }
  } else if (type == T_Q4_1 || type == T_Q5_0 || type == T_Q5_1 || type == T_IQ4_NL) {
    const bb = blockBytes32(type);
    const hasMin = type == T_Q4_1 || type == T_Q5_1;
    for (let b = 0; b < n >> 5; b++) {
      const blk = src + <usize>b * bb;
      const d = f16ToF32(load<u16>(blk)), m = hasMin ? f16ToF32(load<u16>(blk + 2)) : 0;
      const y = dst + (<usize>b << 7);
      storeScaled16(y, blockQ32(type, blk, 0), d, m, hasMin);
      storeScaled16(y + 64, blockQ32(type, blk, 1), d, m, hasMin);
    }
  } else if (type == T_IQ4_XS) {
    for (let b = 0; b < n >> 8; b++) {
      const blk = src + <usize>b * 136;
      const d = f16ToF32(load<u16>(blk)), sh = <u32>load<u16>(blk + 2);
      for (let ib = 0; ib < 8; ib++) {
        const ls = ((<u32>load<u8>(blk + 4 + (ib >> 1)) >> (4 * (ib & 1))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
        const dl = d * <f32>(<i32>ls - 32);
        const bytes = v128.load(blk + 8 + 16 * ib);
        const y = dst + (<usize>(b * 256 + 32 * ib) << 2);
        storeScaled16(y, i8x16.swizzle(KVALUES_IQ4NL, v128.and(bytes, i8x16.splat(0x0f))), dl, 0, false);
        storeScaled16(y + 64, i8x16.swizzle(KVALUES_IQ4NL, i8x16.shr_u(bytes, 4)), dl, 0, false);
      }
    }
  } else if (type == T_Q2_K) {
    for (let b = 0; b < n >> 8; b++) {
      const blk = src + <usize>b * 84;
      const d = f16ToF32(load<u16>(blk + 80)), dmin = f16ToF32(load<u16>(blk + 82));
      let y = dst + (<usize>(b * 256) << 2);
      let is = 0;
      for (let half = 0; half < 2; half++) {
        const q = blk + 16 + 32 * half;
        for (let shift = 0; shift < 8; shift += 2) {
          for (let k = 0; k < 2; k++) {
            const sc = <u32>load<u8>(blk + is++);
            const dl = d * <f32>(sc & 0xf), ml = dmin * <f32>(sc >> 4);
            storeAffine16(y, v128.and(i8x16.shr_u(v128.load(q + 16 * k), shift), i8x16.splat(3)), dl, ml);
            y += 64;
          }
        }
      }
    }
  } else if (type == T_Q3_K) {
    for (let b = 0; b < n >> 8; b++) {
      const blk = src + <usize>b * 110;
      const d = f16ToF32(load<u16>(blk + 108));
      const sc = blk + 96;
      let y = dst + (<usize>(b * 256) << 2);
      let is = 0;
      for (let half = 0; half < 2; half++) {
        const q = blk + 32 + 32 * half;
        for (let j = 0; j < 4; j++) {
          const shift = 2 * j, bit = 4 * half + j;
          for (let k = 0; k < 2; k++) {
            // Scale `is`: low 4 bits from byte is & 7 (high nibble from 8 on), high 2 from byte 8 + (is & 3).
            const low = is < 8 ? <u32>load<u8>(sc + is) & 0xf : <u32>load<u8>(sc + is - 8) >> 4;
            const s6 = low | (((<u32>load<u8>(sc + 8 + (is & 3)) >> (2 * (is >> 2))) & 3) << 4);
            const dl = d * <f32>(<i32>s6 - 32);
            is++;
            // q = low 2 bits − (high bit set ? 0 : 4) = (low | high << 2) − 4
            const lo = v128.and(i8x16.shr_u(v128.load(q + 16 * k), shift), i8x16.splat(3));
            const hi = v128.and(i8x16.shr_u(v128.load(blk + 16 * k), bit), i8x16.splat(1));
            storeScaled16(y, i8x16.sub(v128.or(lo, i8x16.shl(hi, 2)), i8x16.splat(4)), dl, 0, false);
            y += 64;
          }
        }
      }
    }
  } else if (type == T_Q5_K) {
    for (let b = 0; b < n >> 8; b++) {
      const blk = src + <usize>b * 176;
      const d = f16ToF32(load<u16>(blk)), dmin = f16ToF32(load<u16>(blk + 2));
      const sc = blk + 4, qh = blk + 16;
      let ql = blk + 48;
      let y = dst + (<usize>(b * 256) << 2);
      for (let is = 0; is < 8; is += 2) {
        const d1 = d * <f32>scaleMinK4(is, sc, false), m1 = dmin * <f32>scaleMinK4(is, sc, true);
        const d2 = d * <f32>scaleMinK4(is + 1, sc, false), m2 = dmin * <f32>scaleMinK4(is + 1, sc, true);
        for (let l = 0; l < 32; l += 16) {
          const h = v128.load(qh + l), q = v128.load(ql + l);
          const h1 = i8x16.shl(v128.and(i8x16.shr_u(h, is), i8x16.splat(1)), 4);
          const h2 = i8x16.shl(v128.and(i8x16.shr_u(h, is + 1), i8x16.splat(1)), 4);
          storeAffine16(y + (<usize>l << 2), v128.or(v128.and(q, i8x16.splat(0x0f)), h1), d1, m1);
          storeAffine16(y + (<usize>(l + 32) << 2), v128.or(i8x16.shr_u(q, 4), h2), d2, m2);
        }
        ql += 32;
        y += 256;
      }
    }
  } else if (type == T_Q4_K) {
    for (let b = 0; b < n >> 8; b++) {
      const blk = src + <usize>b * 144;
      const d = f16ToF32(load<u16>(blk)), dmin = f16ToF32(load<u16>(blk + 2));
      const sc = blk + 4;
      let q = blk + 16;
      let y = dst + (<usize>(b * 256) << 2);
      for (let j = 0, is = 0; j < 256; j += 64, is += 2) {
        const d1 = d * <f32>scaleMinK4(is, sc, false), m1 = dmin * <f32>scaleMinK4(is, sc, true);
        const d2 = d * <f32>scaleMinK4(is + 1, sc, false), m2 = dmin * <f32>scaleMinK4(is + 1, sc, true);
        for (let l = 0; l < 32; l += 16) {
          const b = v128.load(q + l);
          storeAffine16(y + (<usize>l << 2), v128.and(b, i8x16.splat(0x0f)), d1, m1);
          storeAffine16(y + (<usize>(l + 32) << 2), i8x16.shr_u(b, 4), d2, m2);
        }
        q += 32;
        y += 256;
      }
    }
  } else if (type == T_Q6_K) {
    for (let b = 0; b < n >> 8; b++) {
      const blk = src + <usize>b * 210;
      let ql = blk, qh = blk + 128, sc = blk + 192;
      const d = f16ToF32(load<u16>(blk + 208));
      let y = dst + (<usize>(b * 256) << 2);
      const lo4 = i8x16.splat(0x0f), two = i8x16.splat(3), bias = i8x16.splat(32);
      for (let half = 0; half < 2; half++) {
        // 16 lanes at a time (one scale per 16): q = 4 low bits from ql | 2 high bits from qh, less 32.
        for (let l = 0, is = 0; l < 32; l += 16, is++) {
          const h = v128.load(qh + l), a = v128.load(ql + l), c = v128.load(ql + l + 32);
          const q1 = i8x16.sub(v128.or(v128.and(a, lo4), i8x16.shl(v128.and(h, two), 4)), bias);
          const q2 = i8x16.sub(v128.or(v128.and(c, lo4), i8x16.shl(v128.and(i8x16.shr_u(h, 2), two), 4)), bias);
          const q3 = i8x16.sub(v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h, 4), two), 4)), bias);
          const q4 = i8x16.sub(v128.or(i8x16.shr_u(c, 4), i8x16.shl(i8x16.shr_u(h, 6), 4)), bias);
          storeScaled16(y + (<usize>l << 2), q1, d * <f32>load<i8>(sc + is), 0, false);
          storeScaled16(y + (<usize>(l + 32) << 2), q2, d * <f32>load<i8>(sc + is + 2), 0, false);
          storeScaled16(y + (<usize>(l + 64) << 2), q3, d * <f32>load<i8>(sc + is + 4), 0, false);
          storeScaled16(y + (<usize>(l + 96) << 2), q4, d * <f32>load<i8>(sc + is + 6), 0, false);
        }
        y += 512;
        ql += 64;
        qh += 32;
        sc += 8;
      }
    }
  } else {
    unreachable();
  }
}

// Bytes per row of n elements, for the supported types.
@inline function rowBytes(type: i32, n: i32): usize {
  if (type == T_F32) return <usize>n << 2;
  if (type == T_F16 || type == T_BF16) return <usize>n << 1;
  if (type == T_Q8_0) return <usize>(n >> 5) * 34;
  if (type == T_Q4_0) return <usize>(n >> 5) * 18;
  if (type == T_Q4_K) return <usize>(n >> 8) * 144;
  if (type == T_Q6_K) return <usize>(n >> 8) * 210;
  if (type == T_Q4_1) return <usize>(n >> 5) * 20;
  if (type == T_Q5_0) return <usize>(n >> 5) * 22;
  if (type == T_Q5_1) return <usize>(n >> 5) * 24;
  if (type == T_IQ4_NL) return <usize>(n >> 5) * 18;
  if (type == T_Q2_K) return <usize>(n >> 8) * 84;
  if (type == T_Q3_K) return <usize>(n >> 8) * 110;
  if (type == T_Q5_K) return <usize>(n >> 8) * 176;
  if (type == T_IQ4_XS) return <usize>(n >> 8) * 136;
  unreachable();
  return 0;
}

@inline function dotRow(type: i32, w: usize, x: usize, n: i32): f32 {
  if (type == T_F32) return dotF32(w, x, n);
  if (type == T_Q8_0) return dotQ8_0(w, x, n);
  if (type == T_F16) return dotF16(w, x, n);
  if (type == T_Q4_0) return dotQ4_0(w, x, n);
  return dotBF16(w, x, n);
}

// ---------------------------------------------------------------- matmul

// y[t][r] = Σ_c W[r][c] · x[t][c] for rows r in [r0, r1) and t in [0, nt).
// W is `rows × cols` in its own type, row-major (GGUF order: ne0 = cols). x is nt × cols f32, y is nt × rows f32.
// One token (generation) reads each row once with a fused convert-and-dot (F32, F16, BF16, Q8_0, Q4_0).
// Several tokens (prompt processing, batches), and every token for the other types, convert the row once
// into `scratch` (f32 rows are used in place) and dot it against two tokens at a time. Both give the same
// bits for the same (row, token).
export function matmul(type: i32, w: usize, x: usize, y: usize, rows: i32, cols: i32, nt: i32, r0: i32, r1: i32, scratch: usize): void {
  const rb = rowBytes(type, cols);
  const xStride = <usize>cols << 2, yStride = <usize>rows << 2;
  // Fused for the types with a convert-and-dot (dotRow); every other type is dequantized to scratch.
  const fused = type == T_F32 || type == T_F16 || type == T_BF16 || type == T_Q8_0 || type == T_Q4_0;
  let r = r0;
  // F32 rows against several tokens: register blocks of 2 rows × 4 tokens (dot2x4F32), the rest below.
  if (type == T_F32 && nt >= 4) {
    const part = scratch + (<usize>cols << 2); // after the dequantization row: see the scratch size in kernels.ts
    for (; r + 2 <= r1; r += 2) {
      const wr = w + <usize>r * rb, yr = y + (<usize>r << 2);
      let t = 0;
      for (; t + 4 <= nt; t += 4) {
        const xt = x + <usize>t * xStride;
        dot2x4F32(wr, wr + rb, xt, xt + xStride, xt + 2 * xStride, xt + 3 * xStride, cols, yr + <usize>t * yStride, yStride, part);
      }
      for (; t < nt; t++) {
        store<f32>(yr + <usize>t * yStride, dotF32(wr, x + <usize>t * xStride, cols));
        store<f32>(yr + 4 + <usize>t * yStride, dotF32(wr + rb, x + <usize>t * xStride, cols));
      }
    }
  }
  for (; r < r1; r++) {
    const wr = w + <usize>r * rb;
    const yr = y + (<usize>r << 2);
    if (nt == 1 && fused) {
      store<f32>(yr, dotRow(type, wr, x, cols));
      continue;
    }
    let row = wr;
    if (type != T_F32) {
      dequantRow(type, wr, scratch, cols);
      row = scratch;
    }
    let t = 0;
    for (; t + 2 <= nt; t += 2) dot2F32(row, x + <usize>t * xStride, x + <usize>(t + 1) * xStride, cols, yr + <usize>t * yStride, yr + <usize>(t + 1) * yStride);
    if (t < nt) store<f32>(yr + <usize>t * yStride, dotF32(row, x + <usize>t * xStride, cols));
  }
}

// ---------------------------------------------------------------- elementwise and norms

// y[t][i] += b[i]
export function addBias(y: usize, b: usize, n: i32, nt: i32): void {
  for (let t = 0; t < nt; t++) {
    const row = y + (<usize>(t * n) << 2);
    for (let i = 0; i < n; i++) store<f32>(row + (<usize>i << 2), load<f32>(row + (<usize>i << 2)) + load<f32>(b + (<usize>i << 2)));
  }
}

// x[i] += y[i]
export function addInPlace(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.add(v128.load(x + o), v128.load(y + o)));
  }
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) + load<f32>(y + (<usize>i << 2)));
}

// LayerNorm over each of nt rows of n, with weight and bias (bias may be 0 = none). Statistics in f64.
export function layerNorm(x: usize, out: usize, w: usize, b: usize, n: i32, nt: i32, eps: f32): void {
  for (let t = 0; t < nt; t++) {
    const xr = x + (<usize>(t * n) << 2), yr = out + (<usize>(t * n) << 2);
    let mean: f64 = 0;
    for (let i = 0; i < n; i++) mean += <f64>load<f32>(xr + (<usize>i << 2));
    mean /= <f64>n;
    let vr: f64 = 0;
    for (let i = 0; i < n; i++) {
      const d = <f64>load<f32>(xr + (<usize>i << 2)) - mean;
      vr += d * d;
    }
    const inv = <f32>(1.0 / Math.sqrt(vr / <f64>n + <f64>eps));
    const m = <f32>mean;
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      let v = (load<f32>(xr + o) - m) * inv * load<f32>(w + o);
      if (b != 0) v += load<f32>(b + o);
      store<f32>(yr + o, v);
    }
  }
}

// RMSNorm over each of nt rows of n (weight may be 0 = none, for QK-norm without a scale).
export function rmsNorm(x: usize, out: usize, w: usize, n: i32, nt: i32, eps: f32): void {
  for (let t = 0; t < nt; t++) {
    const xr = x + (<usize>(t * n) << 2), yr = out + (<usize>(t * n) << 2);
    let ss: f64 = 0;
    for (let i = 0; i < n; i++) {
      const v = <f64>load<f32>(xr + (<usize>i << 2));
      ss += v * v;
    }
    const inv = <f32>(1.0 / Math.sqrt(ss / <f64>n + <f64>eps));
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      let v = load<f32>(xr + o) * inv;
      if (w != 0) v *= load<f32>(w + o);
      store<f32>(yr + o, v);
    }
  }
}

// GELU, tanh approximation (GPT-2's "gelu_new").
export function geluTanh(x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o);
    store<f32>(x + o, <f32>(0.5 * v * (1.0 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))));
  }
}

// g[i] = silu(g[i]) · u[i]  (SwiGLU)
export function siluMul(g: usize, u: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(g + o);
    store<f32>(g + o, <f32>(v / (1.0 + Math.exp(-v))) * load<f32>(u + o));
  }
}

// g[i] = gelu_tanh(g[i]) · u[i]  (GeGLU, Gemma's feed-forward): the GELU rounded to f32 first, as geluTanh.
export function geluMul(g: usize, u: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(g + o);
    store<f32>(g + o, <f32>(0.5 * v * (1.0 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))) * load<f32>(u + o));
  }
}

// ---------------------------------------------------------------- rotary position embedding

// Rotates the first ropeDim dims of each head in x (nt × nHeads × headDim). `positions` is nt i32,
// `invFreq` is ropeDim/2 f32. neox = 0: pairs are adjacent (x[2i], x[2i+1]); neox = 1: pairs are (x[i], x[i+half]).
export function rope(x: usize, nt: i32, nHeads: i32, headDim: i32, ropeDim: i32, positions: usize, invFreq: usize, neox: i32): void {
  const half = ropeDim >> 1;
  for (let t = 0; t < nt; t++) {
    const p = <f64>load<i32>(positions + (<usize>t << 2));
    for (let i = 0; i < half; i++) {
      const theta = p * <f64>load<f32>(invFreq + (<usize>i << 2));
      const c = <f32>Math.cos(theta), s = <f32>Math.sin(theta);
      for (let h = 0; h < nHeads; h++) {
        const base = x + (<usize>((t * nHeads + h) * headDim) << 2);
        const a = base + (<usize>(neox ? i : 2 * i) << 2);
        const b = base + (<usize>(neox ? i + half : 2 * i + 1) << 2);
        const x0 = load<f32>(a), x1 = load<f32>(b);
        store<f32>(a, x0 * c - x1 * s);
        store<f32>(b, x0 * s + x1 * c);
      }
    }
  }
}

// ---------------------------------------------------------------- attention

// Causal attention probabilities. q: nt × nHead × hd (query t sits at position pos0 + t); k: cache rows of
// kvStride values (row p = all KV heads at position p), f32, or f16 when kvF16 (widened exactly). pattern: nHead × nt × nKeys, nKeys = pos0 + nt;
// entries a query may not see are written as 0. window > 0: a query at position i sees only keys
// p with i − p < window (sliding-window attention). softcap > 0: each score s becomes
// softcap · tanh(s / softcap) before the softmax (Gemma 2).
export function attnPattern(q: usize, k: usize, pattern: usize, nt: i32, nHead: i32, nHeadKv: i32, hd: i32, pos0: i32, kvStride: i32, scale: f32, window: i32, softcap: f32, kvF16: i32): void {
  const kind = kvF16 ? W_F16 : W_F32, esz: usize = kvF16 ? 2 : 4;
  const nKeys = pos0 + nt;
  const group = nHead / nHeadKv;
  for (let h = 0; h < nHead; h++) {
    const kh = h / group;
    for (let t = 0; t < nt; t++) {
      const qv = q + (<usize>((t * nHead + h) * hd) << 2);
      const row = pattern + (<usize>((h * nt + t) * nKeys) << 2);
      const visible = pos0 + t + 1;
      const from = window > 0 ? max(0, visible - window) : 0;
      for (let p = 0; p < from; p++) store<f32>(row + (<usize>p << 2), 0);
      let mx: f32 = -Infinity;
      for (let p = from; p < visible; p++) {
        let sc = dotW(kind, k + <usize>(p * kvStride + kh * hd) * esz, qv, hd) * scale;
        if (softcap > 0) sc = <f32>(<f64>softcap * Math.tanh(<f64>sc / <f64>softcap));
        store<f32>(row + (<usize>p << 2), sc);
        if (sc > mx) mx = sc;
      }
      let sum: f64 = 0;
      for (let p = from; p < visible; p++) {
        const e = Math.exp(<f64>(load<f32>(row + (<usize>p << 2)) - mx));
        store<f32>(row + (<usize>p << 2), <f32>e);
        sum += e;
      }
      const inv = <f32>(1.0 / sum);
      for (let p = from; p < visible; p++) store<f32>(row + (<usize>p << 2), load<f32>(row + (<usize>p << 2)) * inv);
      for (let p = visible; p < nKeys; p++) store<f32>(row + (<usize>p << 2), 0);
    }
  }
}

// z[t][h] = Σ_p pattern[h][t][p] · v[p][kv head of h] over the keys the query sees (window as in
// attnPattern). z: nt × nHead × hd.
export function attnApply(pattern: usize, v: usize, z: usize, nt: i32, nHead: i32, nHeadKv: i32, hd: i32, pos0: i32, kvStride: i32, window: i32, kvF16: i32): void {
  const kind = kvF16 ? W_F16 : W_F32, esz: usize = kvF16 ? 2 : 4;
  const nKeys = pos0 + nt;
  const group = nHead / nHeadKv;
  for (let h = 0; h < nHead; h++) {
    const vh = h / group;
    for (let t = 0; t < nt; t++) {
      const zr = z + (<usize>((t * nHead + h) * hd) << 2);
      const row = pattern + (<usize>((h * nt + t) * nKeys) << 2);
      memory.fill(zr, 0, <usize>hd << 2);
      const visible = pos0 + t + 1;
      for (let p = window > 0 ? max(0, visible - window) : 0; p < visible; p++) {
        const a = load<f32>(row + (<usize>p << 2));
        const vr = v + <usize>(p * kvStride + vh * hd) * esz;
        const av = f32x4.splat(a);
        let i = 0;
        for (; i + 4 <= hd; i += 4) {
          const o = <usize>i << 2;
          v128.store(zr + o, f32x4.add(v128.load(zr + o), f32x4.mul(av, load4(kind, vr, i))));
        }
        for (; i < hd; i++) store<f32>(zr + (<usize>i << 2), load<f32>(zr + (<usize>i << 2)) + a * load1(kind, vr, i));
      }
    }
  }
}

// ---------------------------------------------------------------- Q8_0 activations (llama.cpp's integer path)

// Quantizes nt rows of n f32 (n a multiple of 32) as llama.cpp does before a matmul with Q8_0, Q4_0,
// Q5_0 or IQ4_NL weights (Q8_0 activations) or Q4_1, Q5_1 weights (Q8_1: the same plus the block sum):
// per block of 32, d = amax/127 rounded to f16, q = round-half-even(x · 127/amax), s = (amax/127)·Σq
// rounded to f16. The block is stored ready for integer dot products: d as f32 (the f16 value), the 32 q
// widened to i16, then s as f32 (the f16 value) (72 bytes), so the kernels never widen an activation twice.
export const Q8_ACT_BLOCK: i32 = 72;

export function quantizeRowsQ8_0(x: usize, out: usize, n: i32, nt: i32): void {
  const nb = (n >> 5) * nt;
  for (let b = 0; b < nb; b++) {
    const xb = x + (<usize>b << 7);
    let amax = f32x4.splat(0);
    for (let j = 0; j < 32; j += 4) amax = f32x4.max(amax, f32x4.abs(v128.load(xb + (<usize>j << 2))));
    const m = max(max(f32x4.extract_lane(amax, 0), f32x4.extract_lane(amax, 1)), max(f32x4.extract_lane(amax, 2), f32x4.extract_lane(amax, 3)));
    const blk = out + <usize>b * Q8_ACT_BLOCK;
    const d = m / 127;
    store<f32>(blk, f16ToF32(f32ToF16(d)));
    const id = f32x4.splat(m != 0 ? <f32>127 / m : 0);
    let sum = i32x4.splat(0);
    for (let j = 0; j < 32; j += 8) {
      const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xb + (<usize>j << 2)), id)));
      const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xb + (<usize>(j + 4) << 2)), id)));
      sum = i32x4.add(sum, i32x4.add(a, c));
      v128.store(blk + 4 + (<usize>j << 1), i16x8.narrow_i32x4_s(a, c));
    }
    const total = (i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1)) + (i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3));
    store<f32>(blk + 68, f16ToF32(f32ToF16(d * <f32>total)));
  }
}

// f32 → f16 bits, round to nearest even (normals and subnormals; scales are never inf/NaN).
function f32ToF16(v: f32): u16 {
  const x = reinterpret<u32>(v);
  const sign = (x >> 16) & 0x8000;
  const exp = <i32>((x >> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp >= 31) return <u16>(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return <u16>sign;
    mant |= 0x800000;
    const shift = <u32>(14 - exp);
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1), mid = <u32>1 << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1) != 0)) half++;
    return <u16>(sign | half);
  }
  let half = (<u32>exp << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) half++;
  return <u16>(sign | half);
}

// n f32 values → f16 bits, rounded to nearest even (an F16 KV cache's rows).
export function toF16(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u16>(dst + (<usize>i << 1), f32ToF16(load<f32>(src + (<usize>i << 2))));
}

// A Q8_0 weight block widened to four i16x8 vectors (elements 0–7, 8–15, 16–23, 24–31).
@inline function widenQ8_0(wb: usize, k: i32): v128 {
  // k selects which 8 of the 32 int8 weights (after the 2-byte scale).
  return v128.load8x8_s(wb + 2 + (<usize>k << 3));
}

// acc += (Σ w·x over one block, as four i32 partial sums) · d_w · d_x.
@inline function accBlock(acc: v128, w0: v128, w1: v128, w2: v128, w3: v128, dw: f32, xb: usize): v128 {
  const s01 = i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(xb + 4)), i32x4.dot_i16x8_s(w1, v128.load(xb + 20)));
  const s23 = i32x4.add(i32x4.dot_i16x8_s(w2, v128.load(xb + 36)), i32x4.dot_i16x8_s(w3, v128.load(xb + 52)));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.add(s01, s23)), f32x4.splat(dw * load<f32>(xb))));
}

// Rows [r0, r1) × tokens [t0, t0 + N) of matmulQ8Act for one weight type (a constant once inlined, so
// each type gets its own straight-line code: no type tests or spills in the inner loop). Each weight block
// is widened once and used for the N tokens (N is 4 or 1, also a constant).
@inline function q8ActRows(type: i32, N: i32, w: usize, xq: usize, y: usize, rows: i32, cols: i32, t0: i32, r0: i32, r1: i32): void {
  const rb = rowBytes(type, cols);
  const xStride = <usize>(cols >> 5) * Q8_ACT_BLOCK, yStride = <usize>rows << 2;
  const nb = cols >> 5;
  const hasMin = type == T_Q4_1 || type == T_Q5_1;
  const bb: usize = type == T_Q8_0 ? 34 : blockBytes32(type);
  const x0 = xq + <usize>t0 * xStride;
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let m0: f32 = 0, m1: f32 = 0, m2: f32 = 0, m3: f32 = 0;
    for (let b = 0; b < nb; b++) {
      const wb = wr + <usize>b * bb;
      let w0: v128, w1: v128, w2: v128, w3: v128;
      if (type == T_Q8_0) {
        w0 = widenQ8_0(wb, 0); w1 = widenQ8_0(wb, 1); w2 = widenQ8_0(wb, 2); w3 = widenQ8_0(wb, 3);
      } else {
        const lo = blockQ32(type, wb, 0), hi = blockQ32(type, wb, 1);
        w0 = i16x8.extend_low_i8x16_s(lo); w1 = i16x8.extend_high_i8x16_s(lo);
        w2 = i16x8.extend_low_i8x16_s(hi); w3 = i16x8.extend_high_i8x16_s(hi);
      }
      const dw = f16ToF32(load<u16>(wb));
      const xb = x0 + <usize>b * Q8_ACT_BLOCK;
      a0 = accBlock(a0, w0, w1, w2, w3, dw, xb);
      if (N > 1) a1 = accBlock(a1, w0, w1, w2, w3, dw, xb + xStride);
      if (N > 2) {
        a2 = accBlock(a2, w0, w1, w2, w3, dw, xb + 2 * xStride);
        a3 = accBlock(a3, w0, w1, w2, w3, dw, xb + 3 * xStride);
      }
      if (hasMin) {
        const mw = f16ToF32(load<u16>(wb + 2));
        m0 += mw * load<f32>(xb + 68);
        if (N > 1) m1 += mw * load<f32>(xb + xStride + 68);
        if (N > 2) {
          m2 += mw * load<f32>(xb + 2 * xStride + 68);
          m3 += mw * load<f32>(xb + 3 * xStride + 68);
        }
      }
    }
    const yr = y + (<usize>r << 2) + <usize>t0 * yStride;
    store<f32>(yr, hasMin ? hsum(a0) + m0 : hsum(a0));
    if (N > 1) store<f32>(yr + yStride, hasMin ? hsum(a1) + m1 : hsum(a1));
    if (N > 2) {
      store<f32>(yr + 2 * yStride, hasMin ? hsum(a2) + m2 : hsum(a2));
      store<f32>(yr + 3 * yStride, hasMin ? hsum(a3) + m3 : hsum(a3));
    }
  }
}

// Tokens per tile: the tile's quantized activations (16 × 72 bytes per block of 32 inputs, 27 KB at 768
// inputs) stay in the L1 cache while every row of the range is multiplied against them.
const Q8_TILE: i32 = 16;
const Q8_GROUP: i32 = 4;

@inline function q8ActTiled(type: i32, w: usize, xq: usize, y: usize, rows: i32, cols: i32, nt: i32, r0: i32, r1: i32): void {
  for (let tt = 0; tt < nt; tt += Q8_TILE) {
    const te = min(nt, tt + Q8_TILE);
    let t = tt;
    for (; t + Q8_GROUP <= te; t += Q8_GROUP) q8ActRows(type, Q8_GROUP, w, xq, y, rows, cols, t, r0, r1);
    for (; t < te; t++) q8ActRows(type, 1, w, xq, y, rows, cols, t, r0, r1);
  }
}

// matmul for Q8_0, Q4_0, Q5_0, IQ4_NL (Q8_0 activations) and Q4_1, Q5_1 (Q8_1 activations) weights against
// activations quantized by quantizeRowsQ8_0: exact integer sums per block, scaled by d_w·d_x and
// accumulated in four f32 lanes (as llama.cpp's AVX code accumulates); Q4_1 and Q5_1 add m_w·s_x per block
// to a separate f32 sum added at the end (as llama.cpp's summs). Every (row, token) gets the same
// arithmetic whatever its tile, group or row range, so results do not depend on batching or threads.
// The 256-value k-quants and IQ4_XS (Q8_K activations) go to matmulQ8K (kquants.ts).
export function matmulQ8Act(type: i32, w: usize, xq: usize, y: usize, rows: i32, cols: i32, nt: i32, r0: i32, r1: i32): void {
  if (type == T_Q8_0) q8ActTiled(T_Q8_0, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_Q4_0) q8ActTiled(T_Q4_0, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_Q4_1) q8ActTiled(T_Q4_1, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_Q5_0) q8ActTiled(T_Q5_0, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_Q5_1) q8ActTiled(T_Q5_1, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_IQ4_NL) q8ActTiled(T_IQ4_NL, w, xq, y, rows, cols, nt, r0, r1);
  else matmulQ8K(type, w, xq, y, rows, cols, nt, r0, r1); // the k-quants and IQ4_XS; anything else traps there
}

// ---------------------------------------------------------------- training (f32)

// y[i] += a·x[i]
@inline function axpy(y: usize, x: usize, a: f32, n: i32): void {
  const av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(av, v128.load(x + o))));
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), load<f32>(y + (<usize>i << 2)) + a * load<f32>(x + (<usize>i << 2)));
}

// y[i] += a0·x0[i] + a1·x1[i] + a2·x2[i] + a3·x3[i]: four rows per pass over y.
@inline function axpy4(y: usize, x0: usize, x1: usize, x2: usize, x3: usize, a0: f32, a1: f32, a2: f32, a3: f32, n: i32): void {
  const v0 = f32x4.splat(a0), v1 = f32x4.splat(a1), v2 = f32x4.splat(a2), v3 = f32x4.splat(a3);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const s = f32x4.add(f32x4.add(f32x4.mul(v0, v128.load(x0 + o)), f32x4.mul(v1, v128.load(x1 + o))), f32x4.add(f32x4.mul(v2, v128.load(x2 + o)), f32x4.mul(v3, v128.load(x3 + o))));
    v128.store(y + o, f32x4.add(v128.load(y + o), s));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + ((a0 * load<f32>(x0 + o) + a1 * load<f32>(x1 + o)) + (a2 * load<f32>(x2 + o) + a3 * load<f32>(x3 + o))));
  }
}

// The input gradient of a linear layer out[n][o] = Σ_i x[n][i]·w[o][i]: dx[n][·] += Σ_o dout[n][o]·w[o][·],
// four weight rows per pass over dx[n].
export function linearBackInput(dout: usize, w: usize, dx: usize, N: i32, C: i32, OC: i32): void {
  const rowBytes = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const dxr = dx + <usize>n * rowBytes, dr = dout + (<usize>(n * OC) << 2);
    let o = 0;
    for (; o + 4 <= OC; o += 4) {
      const wr = w + <usize>o * rowBytes;
      axpy4(dxr, wr, wr + rowBytes, wr + 2 * rowBytes, wr + 3 * rowBytes,
        load<f32>(dr + (<usize>o << 2)), load<f32>(dr + (<usize>(o + 1) << 2)), load<f32>(dr + (<usize>(o + 2) << 2)), load<f32>(dr + (<usize>(o + 3) << 2)), C);
    }
    for (; o < OC; o++) axpy(dxr, w + <usize>o * rowBytes, load<f32>(dr + (<usize>o << 2)), C);
  }
}

// Its weight and bias gradients: dw[o][·] += Σ_n dout[n][o]·x[n][·], db[o] += Σ_n dout[n][o] (db may be 0 = none),
// four input rows per pass over dw[o].
export function linearBackWeight(dout: usize, x: usize, dw: usize, db: usize, N: i32, C: i32, OC: i32): void {
  const rowBytes = <usize>C << 2, dStride = <usize>OC << 2;
  for (let o = 0; o < OC; o++) {
    const dwr = dw + <usize>o * rowBytes, dcol = dout + (<usize>o << 2);
    let sum: f32 = 0;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const d0 = load<f32>(dcol + <usize>n * dStride), d1 = load<f32>(dcol + <usize>(n + 1) * dStride);
      const d2 = load<f32>(dcol + <usize>(n + 2) * dStride), d3 = load<f32>(dcol + <usize>(n + 3) * dStride);
      const xr = x + <usize>n * rowBytes;
      axpy4(dwr, xr, xr + rowBytes, xr + 2 * rowBytes, xr + 3 * rowBytes, d0, d1, d2, d3, C);
      sum += (d0 + d1) + (d2 + d3);
    }
    for (; n < N; n++) {
      const d = load<f32>(dcol + <usize>n * dStride);
      axpy(dwr, x + <usize>n * rowBytes, d, C);
      sum += d;
    }
    if (db) store<f32>(db + (<usize>o << 2), load<f32>(db + (<usize>o << 2)) + sum);
  }
}

// Causal attention of one head over T positions, on contiguous q, k, v (T × hs, f32): att (T × T) gets
// the softmaxed pattern (zeros above the diagonal), y (T × hs) the mixed values.
export function attnHeadForward(q: usize, k: usize, v: usize, att: usize, y: usize, T: i32, hs: i32, scale: f32): void {
  const rowBytes = <usize>hs << 2;
  for (let t = 0; t < T; t++) {
    const qr = q + <usize>t * rowBytes, ar = att + (<usize>(t * T) << 2), yr = y + <usize>t * rowBytes;
    let max: f32 = -Infinity;
    for (let u = 0; u <= t; u++) {
      const s = dotF32(qr, k + <usize>u * rowBytes, hs) * scale;
      store<f32>(ar + (<usize>u << 2), s);
      if (s > max) max = s;
    }
    let sum: f64 = 0;
    for (let u = 0; u <= t; u++) {
      const e = Mathf.exp(load<f32>(ar + (<usize>u << 2)) - max);
      store<f32>(ar + (<usize>u << 2), e);
      sum += e;
    }
    const inv = <f32>(1 / sum);
    for (let i = 0; i < hs; i++) store<f32>(yr + (<usize>i << 2), 0);
    for (let u = 0; u <= t; u++) {
      const p = load<f32>(ar + (<usize>u << 2)) * inv;
      store<f32>(ar + (<usize>u << 2), p);
      axpy(yr, v + <usize>u * rowBytes, p, hs);
    }
    for (let u = t + 1; u < T; u++) store<f32>(ar + (<usize>u << 2), 0);
  }
}

// Its backward pass: from dy (T × hs) and the saved pattern, accumulate dq, dk, dv (T × hs each).
// dP[u] = dy·v[u]; dv[u] += P[u]·dy; dS = P ⊙ (dP − Σ P·dP)·scale; dq += dS·k[u]; dk[u] += dS·q.
export function attnHeadBackward(q: usize, k: usize, v: usize, att: usize, dy: usize, dq: usize, dk: usize, dv: usize, T: i32, hs: i32, scale: f32, scratch: usize): void {
  const rowBytes = <usize>hs << 2;
  for (let t = 0; t < T; t++) {
    const ar = att + (<usize>(t * T) << 2), dyr = dy + <usize>t * rowBytes, qr = q + <usize>t * rowBytes, dqr = dq + <usize>t * rowBytes;
    let dot: f32 = 0;
    for (let u = 0; u <= t; u++) {
      const p = load<f32>(ar + (<usize>u << 2));
      const s = dotF32(dyr, v + <usize>u * rowBytes, hs);
      store<f32>(scratch + (<usize>u << 2), s);
      axpy(dv + <usize>u * rowBytes, dyr, p, hs);
      dot += p * s;
    }
    for (let u = 0; u <= t; u++) {
      const dS = load<f32>(ar + (<usize>u << 2)) * (load<f32>(scratch + (<usize>u << 2)) - dot) * scale;
      if (dS == 0) continue;
      axpy(dqr, k + <usize>u * rowBytes, dS, hs);
      axpy(dk + <usize>u * rowBytes, qr, dS, hs);
    }
  }
}
