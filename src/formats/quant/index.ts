import { UserError } from '../../errors.js';
import { DType, dtypeName } from '../tensor-types.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './f16.js';
import { dequantizeIQ4_NL, dequantizeIQ4_XS, quantizeIQ4_NL, quantizeIQ4_XS } from './iq4.js';
import { dequantizeQ2_K, quantizeQ2_K } from './q2_k.js';
import { dequantizeQ3_K, quantizeQ3_K } from './q3_k.js';
import { dequantizeQ4_0, quantizeQ4_0 } from './q4_0.js';
import { dequantizeQ4_1, quantizeQ4_1 } from './q4_1.js';
import { dequantizeQ4_K, quantizeQ4_K } from './q4_k.js';
import { dequantizeQ5_0, quantizeQ5_0 } from './q5_0.js';
import { dequantizeQ5_1, quantizeQ5_1 } from './q5_1.js';
import { dequantizeQ5_K, quantizeQ5_K } from './q5_k.js';
import { dequantizeQ6_K, quantizeQ6_K } from './q6_k.js';
import { dequantizeQ8_0, quantizeQ8_0 } from './q8_0.js';

/** Reference (TypeScript) dequantization of `n` values of type t to f32. */
export function dequantize(t: DType, src: Uint8Array, n: number): Float32Array {
  switch (t) {
    case DType.F32: return new Float32Array(src.slice(0, n * 4).buffer);
    case DType.F16: {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(src[2 * i]! | (src[2 * i + 1]! << 8));
      return out;
    }
    case DType.BF16: {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(src[2 * i]! | (src[2 * i + 1]! << 8));
      return out;
    }
    case DType.Q8_0: return dequantizeQ8_0(src, n);
    case DType.Q4_0: return dequantizeQ4_0(src, n);
    case DType.Q4_K: return dequantizeQ4_K(src, n);
    case DType.Q6_K: return dequantizeQ6_K(src, n);
    case DType.Q4_1: return dequantizeQ4_1(src, n);
    case DType.Q5_0: return dequantizeQ5_0(src, n);
    case DType.Q5_1: return dequantizeQ5_1(src, n);
    case DType.Q2_K: return dequantizeQ2_K(src, n);
    case DType.Q3_K: return dequantizeQ3_K(src, n);
    case DType.Q5_K: return dequantizeQ5_K(src, n);
    case DType.IQ4_NL: return dequantizeIQ4_NL(src, n);
    case DType.IQ4_XS: return dequantizeIQ4_XS(src, n);
  }
}

/** Encodes f32 values as type t (used by the GGUF writer and the fixture generator). */
export function quantize(t: DType, x: Float32Array): Uint8Array {
  switch (t) {
    case DType.F32: return new Uint8Array(Float32Array.from(x).buffer);
    case DType.F16: {
      const out = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = f32ToF16(x[i]!);
      return new Uint8Array(out.buffer);
    }
    case DType.BF16: {
      const out = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = f32ToBf16(x[i]!);
      return new Uint8Array(out.buffer);
    }
    case DType.Q8_0: return quantizeQ8_0(x);
    case DType.Q4_0: return quantizeQ4_0(x);
    case DType.Q4_K: return quantizeQ4_K(x);
    case DType.Q6_K: return quantizeQ6_K(x);
    case DType.Q4_1: return quantizeQ4_1(x);
    case DType.Q5_0: return quantizeQ5_0(x);
    case DType.Q5_1: return quantizeQ5_1(x);
    case DType.Q2_K: return quantizeQ2_K(x);
    case DType.Q3_K: return quantizeQ3_K(x);
    case DType.Q5_K: return quantizeQ5_K(x);
    case DType.IQ4_NL: return quantizeIQ4_NL(x);
    case DType.IQ4_XS: return quantizeIQ4_XS(x);
    default: throw new UserError(`cannot encode ${dtypeName(t)}`);
  }
}
