// The 256-value k-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and IQ4_XS multiplied as llama.cpp multiplies
// them: activations quantized to Q8_K (quantizeRowsQ8_K), exact integer dot products inside each
// 256-value block, then the block sums combined in f32 in the order of ggml's generic C code
// (ggml-cpu/quants.c, ggml_vec_dot_*_q8_K_generic), one rounding per operation and no fused multiply-add.
// matmulQ8Act (kernels.ts) hands these types to matmulQ8K.

import { T_Q2_K, T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K, T_IQ4_XS, f16ToF32 } from './common';

// ---------------------------------------------------------------- Q8_K activations

// One block of 256 activations, Q8_K_ACT_BLOCK bytes, laid out for i32x4.dot_i16x8_s:
//   0..511   the 256 q as i16. Each group of 16 values v0..v15 is stored as v0 v8 v1 v9 … v7 v15, so a
//            dot_i16x8_s of the group's first eight slots gives the sums of the elements whose index
//            is 0, 1, 2, 3 mod 8, and of the last eight 4, 5, 6, 7 mod 8: ggml's eight integer lanes.
//   512..543 bsums: the 16 groups' sums of q, as i16 (ggml's bsums; the mins of Q2_K, Q4_K, Q5_K).
//   544..547 d as f32 (ggml's y.d, negative when the block's largest-magnitude value is positive).
//   548..559 zero.
// (560 ≤ 8 × Q8_ACT_BLOCK, so a buffer sized for Q8_0 activations holds Q8_K ones too.)
export const Q8_K_ACT_BLOCK: i32 = 560;
const XQ_BSUMS: usize = 512;
const XQ_D: usize = 544;

// Quantizes nt rows of n f32 (n a multiple of 256) as ggml's quantize_row_q8_K_ref: per block, the first
// value of largest magnitude m gives iscale = −127/m; q = round-half-even(iscale·x) capped at 127;
// d = 1/iscale; an all-zero block gets d = 0 and q = 0.
export function quantizeRowsQ8_K(x: usize, out: usize, n: i32, nt: i32): void {
  const nb = (n >> 8) * nt;
  const cap = i32x4.splat(127);
  for (let b = 0; b < nb; b++) {
    const xb = x + (<usize>b << 10), blk = out + <usize>b * Q8_K_ACT_BLOCK;
    let av = f32x4.splat(0);
    for (let j = 0; j < 256; j += 4) av = f32x4.max(av, f32x4.abs(v128.load(xb + (<usize>j << 2))));
    const amax = max(max(f32x4.extract_lane(av, 0), f32x4.extract_lane(av, 1)), max(f32x4.extract_lane(av, 2), f32x4.extract_lane(av, 3)));
    memory.fill(blk, 0, Q8_K_ACT_BLOCK);
    if (!(amax > 0)) continue;
    let j = 0;
    while (j < 255 && abs<f32>(load<f32>(xb + (<usize>j << 2))) != amax) j++;
    const iscale = <f32>-127 / load<f32>(xb + (<usize>j << 2));
    const is = f32x4.splat(iscale);
    for (let g = 0; g < 16; g++) {
      const xg = xb + (<usize>g << 6);
      const a0 = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xg), is))), cap);
      const a1 = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xg + 16), is))), cap);
      const a2 = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xg + 32), is))), cap);
      const a3 = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xg + 48), is))), cap);
      const lo = i16x8.narrow_i32x4_s(a0, a1), hi = i16x8.narrow_i32x4_s(a2, a3); // v0..v7, v8..v15
      v128.store(blk + (<usize>g << 5), i16x8.shuffle(lo, hi, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(blk + (<usize>g << 5) + 16, i16x8.shuffle(lo, hi, 4, 12, 5, 13, 6, 14, 7, 15));
      store<i16>(blk + XQ_BSUMS + (<usize>g << 1), <i16>hsumI32(i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3))));
    }
    store<f32>(blk + XQ_D, <f32>1 / iscale);
  }
}

@inline function hsumI32(v: v128): i32 {
  return (i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1)) + (i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3));
}

// ---------------------------------------------------------------- weight blocks, 32 values at a time

// IQ4_XS's levels (ggml's kvalues_iq4nl) in static memory: loaded once per call, where a v128 constant
// would be rebuilt by V8 at every use in the loop.
const KVALUES: usize = memory.data<i8>([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], 16);

@inline function blockBytesK(type: i32): usize {
  if (type == T_Q2_K) return 84;
  if (type == T_Q3_K) return 110;
  if (type == T_Q4_K) return 144;
  if (type == T_Q5_K) return 176;
  if (type == T_Q6_K) return 210;
  return 136; // IQ4_XS
}

// Byte offset of the block's f16 d (and, for Q2_K, Q4_K and Q5_K, of dmin: two bytes on).
@inline function dOffsetK(type: i32): usize {
  if (type == T_Q2_K) return 80;
  if (type == T_Q3_K) return 108;
  if (type == T_Q6_K) return 208;
  return 0;
}

// Each byte of v shifted and masked: 16-bit lane shifts (one instruction, where i8x16 shifts are
// emulated), whose bits crossing from the neighbouring byte the mask removes.
@inline function shrMask(v: v128, shift: i32, mask: i32): v128 {
  return v128.and(i16x8.shr_u(v, shift), i8x16.splat(<i8>mask));
}
@inline function shlMask(v: v128, shift: i32, mask: i32): v128 {
  return v128.and(i16x8.shl(v, shift), i8x16.splat(<i8>mask));
}

// The sixteen groups' integer scales of a block as i8 lanes (lane g: values 16g..16g+15); IQ4_XS, whose
// scales ggml applies in f32, gets none. sc64: Q4_K/Q5_K's eight sub-block scales (scalesK4).
@inline function groupScales(type: i32, wb: usize, sc64: u64): v128 {
  if (type == T_Q4_K || type == T_Q5_K) {
    const v = i64x2.splat(<i64>sc64);
    return i8x16.shuffle(v, v, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  }
  if (type == T_Q6_K) return v128.load(wb + 192);
  if (type == T_Q2_K) return v128.and(v128.load(wb), i8x16.splat(0x0f));
  if (type == T_Q3_K) {
    // ggml's unpacking of the twelve bytes into sixteen 6-bit scales, less 32.
    const a0 = load<u32>(wb + 96), a1 = load<u32>(wb + 100), tmp = load<u32>(wb + 104);
    let v = i32x4.splat((a0 & 0x0f0f0f0f) | ((tmp & 0x03030303) << 4));
    v = i32x4.replace_lane(v, 1, (a1 & 0x0f0f0f0f) | (((tmp >> 2) & 0x03030303) << 4));
    v = i32x4.replace_lane(v, 2, ((a0 >> 4) & 0x0f0f0f0f) | (((tmp >> 4) & 0x03030303) << 4));
    v = i32x4.replace_lane(v, 3, ((a1 >> 4) & 0x0f0f0f0f) | (((tmp >> 6) & 0x03030303) << 4));
    return i8x16.sub(v, i8x16.splat(32));
  }
  return i8x16.splat(0);
}

// Lane k (0–3) of eight i16 scales as a splat.
@inline function scaleLane(sc: v128, k: i32): v128 {
  if (k == 0) return i16x8.shuffle(sc, sc, 0, 0, 0, 0, 0, 0, 0, 0);
  if (k == 1) return i16x8.shuffle(sc, sc, 1, 1, 1, 1, 1, 1, 1, 1);
  if (k == 2) return i16x8.shuffle(sc, sc, 2, 2, 2, 2, 2, 2, 2, 2);
  return i16x8.shuffle(sc, sc, 3, 3, 3, 3, 3, 3, 3, 3);
}

// The bytes of v in the activation layout's order within each group of 16: v0 v8 v1 v9 … v7 v15. Two
// shuffles that V8 (Node 20) emits as one instruction each, pshufd and punpcklbw; the same permutation as
// one shuffle becomes a pshufb whose mask V8 rebuilds at every use (five instructions).
@inline function interleave(v: v128): v128 {
  return i8x16.shuffle(v, i32x4.shuffle(v, v, 2, 3, 2, 3), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

// Q4_K/Q5_K's 12 bytes of 6-bit scales and mins, unpacked as ggml does (utmp): the eight scales as the
// bytes of a u64 (isMin false), or the eight mins.
@inline function scalesK4(sc: usize, isMin: bool): u64 {
  const u0 = load<u32>(sc), u1 = load<u32>(sc + 4), u2 = load<u32>(sc + 8);
  if (isMin) return <u64>(u1 & 0x3f3f3f3f) | (<u64>(((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4)) << 32);
  return <u64>(u0 & 0x3f3f3f3f) | (<u64>((u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4)) << 32);
}

// IQ4_XS sub-blocks 4k … 4k + 3's 6-bit scales less 32, as f32x4.
@inline function scalesIQ4XS(wb: usize, k: i32): v128 {
  const sl = <i32>load<u16>(wb + 4 + (<usize>k << 1)), sh = <i32>load<u16>(wb + 2) >> (k << 3);
  let v = i32x4.splat((sl & 0xf) | ((sh & 3) << 4));
  v = i32x4.replace_lane(v, 1, ((sl >> 4) & 0xf) | (((sh >> 2) & 3) << 4));
  v = i32x4.replace_lane(v, 2, ((sl >> 8) & 0xf) | (((sh >> 4) & 3) << 4));
  v = i32x4.replace_lane(v, 3, ((sl >> 12) & 0xf) | (((sh >> 6) & 3) << 4));
  return f32x4.convert_i32x4_s(i32x4.sub(v, i32x4.splat(32)));
}

// [a0 + a1, a2 + a3, b0 + b1, b2 + b3]
@inline function pairSums(a: v128, b: v128): v128 {
  return i32x4.add(i32x4.shuffle(a, b, 0, 2, 4, 6), i32x4.shuffle(a, b, 1, 3, 5, 7));
}

// IQ4_XS: sumf += d1·Σ for four sub-blocks in order, d1 = d4d8·(ls − 32) (ggml's generic order), from
// their integer sums S (i32x4) and scales ls (f32x4, less 32).
@inline function addSubBlocks(s: f32, d4d8: f32, ls: v128, S: v128): f32 {
  const t = f32x4.mul(f32x4.mul(f32x4.splat(d4d8), ls), f32x4.convert_i32x4_s(S));
  s += f32x4.extract_lane(t, 0); s += f32x4.extract_lane(t, 1); s += f32x4.extract_lane(t, 2); s += f32x4.extract_lane(t, 3);
  return s;
}

// A group's 16 weights (already interleaved) → its first or second i16x8, times the group's scale sv
// where scaled; signed: the weights may be negative.
@inline function widen(q: v128, second: bool, signed: bool, sv: v128, scaled: bool): v128 {
  let w: v128;
  if (signed) w = second ? i16x8.extend_high_i8x16_s(q) : i16x8.extend_low_i8x16_s(q);
  else w = second ? i16x8.extend_high_i8x16_u(q) : i16x8.extend_low_i8x16_u(q);
  return scaled ? i16x8.mul(w, sv) : w;
}

// ---------------------------------------------------------------- the integer dot of two groups

// acc + the products of two groups' eight weights with their activations at xa and xb, summed in pairs
// (exact in i32). The one place the integer products happen: a relaxed-SIMD variant
// (i32x4.relaxed_dot_i8x16_i7x16_add_s) would go here, taking the weights as unscaled bytes (the scale
// then applied to each group's i32 sum) and activations stored as i8 rather than i16.
@inline function dotPair(acc: v128, wa: v128, xa: usize, wb: v128, xb: usize): v128 {
  return i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(wa, v128.load(xa)), i32x4.dot_i16x8_s(wb, v128.load(xb))));
}

// Σ bsums[g] · m[g] for one token's block, m given as two i16x8 (groups 0–7, 8–15).
@inline function bsumDot(xb: usize, m0: v128, m1: v128): i32 {
  return hsumI32(i32x4.add(i32x4.dot_i16x8_s(v128.load(xb + XQ_BSUMS), m0), i32x4.dot_i16x8_s(v128.load(xb + XQ_BSUMS + 16), m1)));
}

// acc (f32x4) + d · f32(lanes): ggml's sums[l] += d·aux32[l].
@inline function addScaled(acc: v128, lanes: v128, d: f32): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.splat(d), f32x4.convert_i32x4_s(lanes)));
}

// ggml's final sumf += sums[0] … sums[7], in order.
@inline function finish8(s: f32, lo: v128, hi: v128): f32 {
  s += f32x4.extract_lane(lo, 0); s += f32x4.extract_lane(lo, 1); s += f32x4.extract_lane(lo, 2); s += f32x4.extract_lane(lo, 3);
  s += f32x4.extract_lane(hi, 0); s += f32x4.extract_lane(hi, 1); s += f32x4.extract_lane(hi, 2); s += f32x4.extract_lane(hi, 3);
  return s;
}

// ---------------------------------------------------------------- matmul

// y[t][r] = Σ_c W[r][c] · x[t][c] for rows [r0, r1), tokens [0, nt), with x quantized by quantizeRowsQ8_K
// (nt rows of cols/256 blocks). Per block, the integer sums are exact; the f32 arithmetic follows ggml's
// generic code per type:
//   Q3_K, Q4_K, Q5_K, Q6_K: eight integer lanes (element index mod 8) of scale·q·q8 per block;
//     sums[l] += (d_w·d_x)·lane[l]; Q4_K/Q5_K: m −= (dmin_w·d_x)·Σ bsums·min per block; y = m + sums[0] + … + sums[7].
//   Q2_K: y += (d_x·d_w)·Σ scale·q·q8 − (d_x·dmin_w)·Σ bsums·min, per block.
//   IQ4_XS: y += ((d_w·d_x)·(scale − 32))·Σ q·q8, per 32 values.
// Each weight block is decoded once per group of up to four tokens, and every token gets the same
// arithmetic whatever its group, so a (row, token) result does not depend on nt, r0/r1 or threads.
export function matmulQ8K(type: i32, w: usize, xq: usize, y: usize, rows: i32, cols: i32, nt: i32, r0: i32, r1: i32): void {
  if (type == T_Q4_K) matmulK(T_Q4_K, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_Q6_K) matmulK(T_Q6_K, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_Q5_K) matmulK(T_Q5_K, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_IQ4_XS) matmulK(T_IQ4_XS, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_Q3_K) matmulK(T_Q3_K, w, xq, y, rows, cols, nt, r0, r1);
  else if (type == T_Q2_K) matmulK(T_Q2_K, w, xq, y, rows, cols, nt, r0, r1);
  else unreachable();
}

// Tokens per tile: 16 × 560 bytes per 256 inputs (26 KB at 768 inputs) stay in the L1 cache.
const K_TILE: i32 = 16;

@inline function matmulK(type: i32, w: usize, xq: usize, y: usize, rows: i32, cols: i32, nt: i32, r0: i32, r1: i32): void {
  const nb = cols >> 8;
  const xs = <usize>nb * Q8_K_ACT_BLOCK, ys = <usize>rows << 2, rb = <usize>nb * blockBytesK(type);
  // Tiles of K_TILE tokens, whose quantized activations stay in cache while every row passes over them.
  for (let tt = 0; tt < nt; tt += K_TILE) {
    const te = min(nt, tt + K_TILE);
    for (let r = r0; r < r1; r++) {
      const wr = w + <usize>r * rb, yr = y + (<usize>r << 2);
      let t = tt;
      for (; t + 4 <= te; t += 4) rowTokens(type, 4, wr, xq + <usize>t * xs, xs, nb, yr + <usize>t * ys, ys);
      const n = te - t;
      if (n == 1) rowTokens(type, 1, wr, xq + <usize>t * xs, xs, nb, yr + <usize>t * ys, ys);
      else if (n == 2) rowTokens(type, 2, wr, xq + <usize>t * xs, xs, nb, yr + <usize>t * ys, ys);
      else if (n == 3) rowTokens(type, 3, wr, xq + <usize>t * xs, xs, nb, yr + <usize>t * ys, ys);
    }
  }
}

// One weight row against n (a constant, 1–4) tokens whose activation rows start at x0, xs bytes apart;
// results at yr, ys bytes apart. A block is read in four chunks of 64 values (groups 4m … 4m + 3), each
// decoded once into four groups of 16 signed weights with constant shifts (sources that later chunks
// reuse are shifted along), then fed to the tokens two groups at a time.
@inline function rowTokens(type: i32, n: i32, wr: usize, x0: usize, xs: usize, nb: i32, yr: usize, ys: usize): void {
  const bb = blockBytesK(type);
  const lanes8 = type == T_Q3_K || type == T_Q4_K || type == T_Q5_K || type == T_Q6_K;
  const hasMin = type == T_Q4_K || type == T_Q5_K;
  const scaled = type != T_IQ4_XS;
  const zero = i32x4.splat(0), lo4 = i8x16.splat(0x0f);
  const kv = type == T_IQ4_XS ? v128.load(KVALUES) : zero;
  // Per token: ggml's sums[0..8) as two f32x4, and its scalar sumf.
  let fl0 = f32x4.splat(0), fh0 = f32x4.splat(0), fl1 = f32x4.splat(0), fh1 = f32x4.splat(0);
  let fl2 = f32x4.splat(0), fh2 = f32x4.splat(0), fl3 = f32x4.splat(0), fh3 = f32x4.splat(0);
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  const x1 = x0 + xs, x2 = x0 + 2 * xs, x3 = x0 + 3 * xs;
  for (let b = 0; b < nb; b++) {
    const wb = wr + <usize>b * bb, o = <usize>b * Q8_K_ACT_BLOCK;
    const dw = f16ToF32(load<u16>(wb + dOffsetK(type)));
    const xd0 = load<f32>(x0 + o + XQ_D);
    const xd1 = n > 1 ? load<f32>(x1 + o + XQ_D) : 0;
    const xd2 = n > 2 ? load<f32>(x2 + o + XQ_D) : 0;
    const xd3 = n > 3 ? load<f32>(x3 + o + XQ_D) : 0;
    // The groups' scales as i16: sc holds the current chunk's four in lanes 0–3, sn the ones after.
    const sc8 = groupScales(type, wb, hasMin ? scalesK4(wb + 4, false) : 0);
    let sc = i16x8.extend_low_i8x16_s(sc8), sn = i16x8.extend_high_i8x16_s(sc8);
    // Sources shared across chunks, interleaved once and shifted along as they are used (Q5_K: qh;
    // Q6_K: ql, qh; Q3_K: qs, hmask; Q2_K: qs).
    let h0 = zero, h1 = zero, a0 = zero, a1 = zero, c0 = zero, c1 = zero;
    if (type == T_Q5_K) { h0 = interleave(v128.load(wb + 16)); h1 = interleave(v128.load(wb + 32)); }
    if (type == T_Q3_K) { h0 = interleave(v128.load(wb)); h1 = interleave(v128.load(wb + 16)); }
    let il0 = zero, ih0 = zero, il1 = zero, ih1 = zero, il2 = zero, ih2 = zero, il3 = zero, ih3 = zero;
    // IQ4_XS: per token, the pair sums of the previous chunk's two sub-blocks (pairSums).
    let p0 = zero, p1 = zero, p2 = zero, p3 = zero;
    for (let m = 0; m < 4; m++) {
      // The chunk's four groups (4m … 4m + 3) of 16 weights, interleaved, before their scales.
      let q0: v128, q1: v128, q2: v128, q3: v128;
      if (type == T_Q4_K || type == T_Q5_K || type == T_IQ4_XS) {
        // Q4_K/Q5_K: bytes 32m.. of qs, low nibbles (sub-block 2m: groups 4m, 4m + 1) then high (2m + 1).
        // IQ4_XS: sub-block 2m's 16 bytes (low nibbles: group 4m, high: 4m + 1), then sub-block 2m + 1's.
        const qs = wb + (type == T_Q4_K ? 16 : type == T_Q5_K ? 48 : 8) + (<usize>m << 5);
        const b0 = interleave(v128.load(qs)), b1 = interleave(v128.load(qs + 16));
        if (type == T_IQ4_XS) {
          q0 = i8x16.swizzle(kv, v128.and(b0, lo4)); q1 = i8x16.swizzle(kv, shrMask(b0, 4, 0x0f));
          q2 = i8x16.swizzle(kv, v128.and(b1, lo4)); q3 = i8x16.swizzle(kv, shrMask(b1, 4, 0x0f));
        } else {
          q0 = v128.and(b0, lo4); q1 = v128.and(b1, lo4); q2 = shrMask(b0, 4, 0x0f); q3 = shrMask(b1, 4, 0x0f);
          if (type == T_Q5_K) {
            // The fifth bit: bit 2m (2m + 1) of qh[l], qh shifted right by 2 per chunk.
            q0 = v128.or(q0, shlMask(h0, 4, 0x10)); q1 = v128.or(q1, shlMask(h1, 4, 0x10));
            q2 = v128.or(q2, shlMask(h0, 3, 0x10)); q3 = v128.or(q3, shlMask(h1, 3, 0x10));
            h0 = i16x8.shr_u(h0, 2); h1 = i16x8.shr_u(h1, 2);
          }
        }
      } else if (type == T_Q6_K) {
        // m = 2h + p: quarter k = 2p (groups 4m, 4m + 1) and 2p + 1 (4m + 2, 4m + 3) of half h: 4 bits of
        // ql[64h + 32(k & 1) + l] (low nibbles for p = 0), 2 bits of qh[32h + l] (bits 2k, 2k + 1), less 32.
        if ((m & 1) == 0) {
          const ql = wb + (<usize>m << 5), qh = wb + 128 + (<usize>m << 4);
          a0 = interleave(v128.load(ql)); a1 = interleave(v128.load(ql + 16));
          c0 = interleave(v128.load(ql + 32)); c1 = interleave(v128.load(ql + 48));
          h0 = interleave(v128.load(qh)); h1 = interleave(v128.load(qh + 16));
        } else {
          a0 = i16x8.shr_u(a0, 4); a1 = i16x8.shr_u(a1, 4); c0 = i16x8.shr_u(c0, 4); c1 = i16x8.shr_u(c1, 4);
          h0 = i16x8.shr_u(h0, 4); h1 = i16x8.shr_u(h1, 4);
        }
        const bias = i8x16.splat(32);
        q0 = i8x16.sub(v128.or(v128.and(a0, lo4), shlMask(h0, 4, 0x30)), bias);
        q1 = i8x16.sub(v128.or(v128.and(a1, lo4), shlMask(h1, 4, 0x30)), bias);
        q2 = i8x16.sub(v128.or(v128.and(c0, lo4), shlMask(h0, 2, 0x30)), bias);
        q3 = i8x16.sub(v128.or(v128.and(c1, lo4), shlMask(h1, 2, 0x30)), bias);
      } else if (type == T_Q3_K) {
        // m = 2·half + p: j = 2p (groups 4m, 4m + 1) and 2p + 1: bits 2j, 2j + 1 of qs[32·half + 16k + l]
        // (shifted right by 4 per chunk), bit 4·half + j = 2m (2m + 1) of hmask[16k + l] (by 2 per chunk); less 4.
        if ((m & 1) == 0) { a0 = interleave(v128.load(wb + 32 + (<usize>m << 4))); a1 = interleave(v128.load(wb + 48 + (<usize>m << 4))); }
        else { a0 = i16x8.shr_u(a0, 4); a1 = i16x8.shr_u(a1, 4); }
        const four = i8x16.splat(4), three = i8x16.splat(3);
        q0 = i8x16.sub(v128.or(v128.and(a0, three), shlMask(h0, 2, 0x04)), four);
        q1 = i8x16.sub(v128.or(v128.and(a1, three), shlMask(h1, 2, 0x04)), four);
        q2 = i8x16.sub(v128.or(shrMask(a0, 2, 0x03), shlMask(h0, 1, 0x04)), four);
        q3 = i8x16.sub(v128.or(shrMask(a1, 2, 0x03), shlMask(h1, 1, 0x04)), four);
        h0 = i16x8.shr_u(h0, 2); h1 = i16x8.shr_u(h1, 2);
      } else {
        // Q2_K: m = 2·half + p: j = 2p, 2p + 1: bits 2j, 2j + 1 of qs[32·half + 16l] (shifted by 4 per chunk).
        if ((m & 1) == 0) { a0 = interleave(v128.load(wb + 16 + (<usize>m << 4))); a1 = interleave(v128.load(wb + 32 + (<usize>m << 4))); }
        else { a0 = i16x8.shr_u(a0, 4); a1 = i16x8.shr_u(a1, 4); }
        const three = i8x16.splat(3);
        q0 = v128.and(a0, three); q1 = v128.and(a1, three);
        q2 = shrMask(a0, 2, 0x03); q3 = shrMask(a1, 2, 0x03);
      }
      const signed = type == T_Q6_K || type == T_Q3_K || type == T_IQ4_XS;
      const xm = o + (<usize>m << 7);
      // Groups 4m and 4m + 1 (Q4_K/Q5_K: one sub-block, one scale).
      let sA = zero, sB = zero;
      if (scaled) { sA = scaleLane(sc, 0); sB = hasMin ? sA : scaleLane(sc, 1); }
      let wA = widen(q0, false, signed, sA, scaled), wB = widen(q1, false, signed, sB, scaled);
      il0 = dotPair(il0, wA, x0 + xm, wB, x0 + xm + 32);
      if (n > 1) il1 = dotPair(il1, wA, x1 + xm, wB, x1 + xm + 32);
      if (n > 2) il2 = dotPair(il2, wA, x2 + xm, wB, x2 + xm + 32);
      if (n > 3) il3 = dotPair(il3, wA, x3 + xm, wB, x3 + xm + 32);
      wA = widen(q0, true, signed, sA, scaled); wB = widen(q1, true, signed, sB, scaled);
      ih0 = dotPair(ih0, wA, x0 + xm + 16, wB, x0 + xm + 48);
      if (n > 1) ih1 = dotPair(ih1, wA, x1 + xm + 16, wB, x1 + xm + 48);
      if (n > 2) ih2 = dotPair(ih2, wA, x2 + xm + 16, wB, x2 + xm + 48);
      if (n > 3) ih3 = dotPair(ih3, wA, x3 + xm + 16, wB, x3 + xm + 48);
      if (type == T_IQ4_XS) {
        // Sub-block 2m done: keep its sum (as four lanes) in il, and start sub-block 2m + 1 in ih.
        il0 = i32x4.add(il0, ih0); il1 = i32x4.add(il1, ih1); il2 = i32x4.add(il2, ih2); il3 = i32x4.add(il3, ih3);
        ih0 = zero; ih1 = zero; ih2 = zero; ih3 = zero;
      }
      // Groups 4m + 2 and 4m + 3.
      if (scaled) { sA = scaleLane(sc, 2); sB = hasMin ? sA : scaleLane(sc, 3); }
      wA = widen(q2, false, signed, sA, scaled); wB = widen(q3, false, signed, sB, scaled);
      if (type == T_IQ4_XS) {
        // (IQ4_XS: sub-block 2m + 1 sums into ih alone; the order of an integer sum is free.)
        ih0 = dotPair(ih0, wA, x0 + xm + 64, wB, x0 + xm + 96);
        if (n > 1) ih1 = dotPair(ih1, wA, x1 + xm + 64, wB, x1 + xm + 96);
        if (n > 2) ih2 = dotPair(ih2, wA, x2 + xm + 64, wB, x2 + xm + 96);
        if (n > 3) ih3 = dotPair(ih3, wA, x3 + xm + 64, wB, x3 + xm + 96);
      } else {
        il0 = dotPair(il0, wA, x0 + xm + 64, wB, x0 + xm + 96);
        if (n > 1) il1 = dotPair(il1, wA, x1 + xm + 64, wB, x1 + xm + 96);
        if (n > 2) il2 = dotPair(il2, wA, x2 + xm + 64, wB, x2 + xm + 96);
        if (n > 3) il3 = dotPair(il3, wA, x3 + xm + 64, wB, x3 + xm + 96);
      }
      wA = widen(q2, true, signed, sA, scaled); wB = widen(q3, true, signed, sB, scaled);
      ih0 = dotPair(ih0, wA, x0 + xm + 80, wB, x0 + xm + 112);
      if (n > 1) ih1 = dotPair(ih1, wA, x1 + xm + 80, wB, x1 + xm + 112);
      if (n > 2) ih2 = dotPair(ih2, wA, x2 + xm + 80, wB, x2 + xm + 112);
      if (n > 3) ih3 = dotPair(ih3, wA, x3 + xm + 80, wB, x3 + xm + 112);
      if (type == T_IQ4_XS) {
        // Sub-blocks 2m (in il) and 2m + 1 (in ih) done: pair sums now; every second chunk, the four
        // sub-blocks' sums [S(2m − 2), S(2m − 1), S(2m), S(2m + 1)] go into sumf.
        if ((m & 1) == 0) {
          p0 = pairSums(il0, ih0); p1 = pairSums(il1, ih1); p2 = pairSums(il2, ih2); p3 = pairSums(il3, ih3);
        } else {
          const ls = scalesIQ4XS(wb, m >> 1);
          s0 = addSubBlocks(s0, dw * xd0, ls, pairSums(p0, pairSums(il0, ih0)));
          if (n > 1) s1 = addSubBlocks(s1, dw * xd1, ls, pairSums(p1, pairSums(il1, ih1)));
          if (n > 2) s2 = addSubBlocks(s2, dw * xd2, ls, pairSums(p2, pairSums(il2, ih2)));
          if (n > 3) s3 = addSubBlocks(s3, dw * xd3, ls, pairSums(p3, pairSums(il3, ih3)));
        }
        il0 = zero; ih0 = zero; il1 = zero; ih1 = zero; il2 = zero; ih2 = zero; il3 = zero; ih3 = zero;
      }
      if (scaled) { sc = i64x2.shuffle(sc, sn, 1, 2); sn = i64x2.shuffle(sn, sn, 1, 1); }
    }
    if (lanes8) {
      fl0 = addScaled(fl0, il0, dw * xd0); fh0 = addScaled(fh0, ih0, dw * xd0);
      if (n > 1) { fl1 = addScaled(fl1, il1, dw * xd1); fh1 = addScaled(fh1, ih1, dw * xd1); }
      if (n > 2) { fl2 = addScaled(fl2, il2, dw * xd2); fh2 = addScaled(fh2, ih2, dw * xd2); }
      if (n > 3) { fl3 = addScaled(fl3, il3, dw * xd3); fh3 = addScaled(fh3, ih3, dw * xd3); }
    }
    if (hasMin) {
      // sumf −= (dmin·d_x)·Σ_g bsums[g]·min[g/2]
      const dmin = f16ToF32(load<u16>(wb + 2));
      const mv = i64x2.splat(<i64>scalesK4(wb + 4, true));
      const mb = i8x16.shuffle(mv, mv, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
      const m0 = i16x8.extend_low_i8x16_u(mb), m1 = i16x8.extend_high_i8x16_u(mb);
      s0 -= (dmin * xd0) * <f32>bsumDot(x0 + o, m0, m1);
      if (n > 1) s1 -= (dmin * xd1) * <f32>bsumDot(x1 + o, m0, m1);
      if (n > 2) s2 -= (dmin * xd2) * <f32>bsumDot(x2 + o, m0, m1);
      if (n > 3) s3 -= (dmin * xd3) * <f32>bsumDot(x3 + o, m0, m1);
    }
    if (type == T_Q2_K) {
      // sumf += (d_x·d)·isum − (d_x·dmin)·Σ_g bsums[g]·min[g]
      const dmin = f16ToF32(load<u16>(wb + 82));
      const mb = shrMask(v128.load(wb), 4, 0x0f);
      const m0 = i16x8.extend_low_i8x16_u(mb), m1 = i16x8.extend_high_i8x16_u(mb);
      s0 += (xd0 * dw) * <f32>hsumI32(i32x4.add(il0, ih0)) - (xd0 * dmin) * <f32>bsumDot(x0 + o, m0, m1);
      if (n > 1) s1 += (xd1 * dw) * <f32>hsumI32(i32x4.add(il1, ih1)) - (xd1 * dmin) * <f32>bsumDot(x1 + o, m0, m1);
      if (n > 2) s2 += (xd2 * dw) * <f32>hsumI32(i32x4.add(il2, ih2)) - (xd2 * dmin) * <f32>bsumDot(x2 + o, m0, m1);
      if (n > 3) s3 += (xd3 * dw) * <f32>hsumI32(i32x4.add(il3, ih3)) - (xd3 * dmin) * <f32>bsumDot(x3 + o, m0, m1);
    }
  }
  if (lanes8) {
    s0 = finish8(s0, fl0, fh0);
    if (n > 1) s1 = finish8(s1, fl1, fh1);
    if (n > 2) s2 = finish8(s2, fl2, fh2);
    if (n > 3) s3 = finish8(s3, fl3, fh3);
  }
  store<f32>(yr, s0);
  if (n > 1) store<f32>(yr + ys, s1);
  if (n > 2) store<f32>(yr + 2 * ys, s2);
  if (n > 3) store<f32>(yr + 3 * ys, s3);
}
