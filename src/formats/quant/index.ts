import { UserError } from '../../errors.js';
import { DType, dtypeName } from '../tensor-types.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './f16.js';
import { dequantizeQ4_0, quantizeQ4_0 } from './q4_0.js';
import { dequantizeQ4_K, quantizeQ4_K } from './q4_k.js';
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
    default: throw new UserError(`cannot encode ${dtypeName(t)}`);
  }
}
