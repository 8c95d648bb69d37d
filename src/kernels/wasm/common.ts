// What every kernel file shares: GGUF's tensor type ids, half-precision conversion and the horizontal sum.

// Tensor type ids, as GGUF numbers them.
export const T_F32: i32 = 0;
export const T_F16: i32 = 1;
export const T_Q4_0: i32 = 2;
export const T_Q4_1: i32 = 3;
export const T_Q5_0: i32 = 6;
export const T_Q5_1: i32 = 7;
export const T_Q8_0: i32 = 8;
export const T_Q2_K: i32 = 10;
export const T_Q3_K: i32 = 11;
export const T_Q4_K: i32 = 12;
export const T_Q5_K: i32 = 13;
export const T_Q6_K: i32 = 14;
export const T_IQ4_NL: i32 = 20;
export const T_IQ4_XS: i32 = 23;
export const T_BF16: i32 = 30;

// IQ4_NL / IQ4_XS levels (ggml's kvalues_iq4nl), looked up 16 at a time with i8x16.swizzle.
export const KVALUES_IQ4NL: v128 = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

// ---------------------------------------------------------------- half precision

// f16 bits → f32 via the "shift and rescale" trick: moving the 15 low bits up by 13 gives an f32 whose
// exponent is 112 too small; multiplying by 2^112 fixes normals and subnormals alike. (Inf/NaN are not
// expected in weights.)
export const F16_RESCALE: f32 = 5.192296858534828e33;

@inline export function f16ToF32(h: u32): f32 {
  const mag = reinterpret<f32>((h & 0x7fff) << 13) * F16_RESCALE;
  return reinterpret<f32>(reinterpret<u32>(mag) | ((h & 0x8000) << 16));
}

@inline export function f16x4ToF32x4(h: v128): v128 {
  const mag = f32x4.mul(i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13), f32x4.splat(F16_RESCALE));
  return v128.or(mag, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}
