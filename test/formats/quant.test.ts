import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/formats/quant/f16.js';
import { dequantize, quantize } from '../../src/formats/quant/index.js';
import { DType, byteSize, dtypeName } from '../../src/formats/tensor-types.js';
import { Rng } from '../../src/sampling/rng.js';

function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale);
}

describe('half precision', () => {
  test('f16 conversions are exact where representable and round to nearest even', () => {
    assert.equal(f32ToF16(1), 0x3c00);
    assert.equal(f32ToF16(-2), 0xc000);
    assert.equal(f32ToF16(65504), 0x7bff);
    assert.equal(f32ToF16(1e6), 0x7c00); // overflow → inf
    assert.equal(f32ToF16(2 ** -24), 0x0001); // smallest subnormal
    assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie → even
    assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
    assert.equal(f16ToF32(0x3555), 0.333251953125);
    assert.equal(f16ToF32(0x0001), 2 ** -24);
    for (let h = 0; h < 0x7c00; h += 7) assert.equal(f32ToF16(f16ToF32(h)), h);
  });

  test('bf16 keeps the top 16 bits, rounding to nearest even', () => {
    assert.equal(f32ToBf16(1), 0x3f80);
    assert.equal(bf16ToF32(0x3f80), 1);
    assert.equal(bf16ToF32(f32ToBf16(3.14159)), 3.140625);
  });
});

/**
 * Each format's worst-case error for one value, given its block: half a quantization step d, plus the
 * f16 rounding of the scale (≤ 2^-11 relative, times the largest |q|). Q4_0 maps the largest-magnitude
 * value to −8, so values of the other sign near it clamp at +7: up to a whole step there.
 */
const BOUNDS: Record<number, (block: Float32Array) => number> = {
  [DType.F16]: (b) => Math.max(...b.map(Math.abs)) * 2 ** -11,
  [DType.BF16]: (b) => Math.max(...b.map(Math.abs)) * 2 ** -8,
  [DType.Q8_0]: (b) => (Math.max(...b.map(Math.abs)) / 127) * (0.5 + 127 * 2 ** -11),
  [DType.Q4_0]: (b) => (Math.max(...b.map(Math.abs)) / 8) * (1 + 8 * 2 ** -11),
  [DType.Q4_K]: (b) => ((Math.max(...b) - Math.min(0, ...b)) / 15) * 0.5 * 1.3,
  [DType.Q6_K]: (b) => (Math.max(...b.map(Math.abs)) / 31) * 0.5 * 1.3,
};

describe('block formats dequantize to within their known error', () => {
  for (const t of [DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
    test(dtypeName(t), () => {
      const n = 1024;
      const x = randomValues(n, t, 3);
      const q = quantize(t, x);
      assert.equal(q.length, byteSize(t, n));
      const y = dequantize(t, q, n);
      const block = t === DType.Q4_K || t === DType.Q6_K ? (t === DType.Q6_K ? 16 : 32) : 32;
      for (let b = 0; b < n / block; b++) {
        const xs = x.subarray(b * block, (b + 1) * block);
        const bound = BOUNDS[t]!(t === DType.Q4_K || t === DType.Q6_K ? x.subarray(Math.floor((b * block) / 256) * 256, Math.floor((b * block) / 256) * 256 + 256) : xs);
        for (let i = 0; i < block; i++) {
          const err = Math.abs(y[b * block + i]! - xs[i]!);
          assert.ok(err <= bound, `${dtypeName(t)} value ${b * block + i}: error ${err} > bound ${bound}`);
        }
      }
    });
  }

  test('Q8_0 decodes a hand-made block exactly', () => {
    const block = new Uint8Array(34);
    new DataView(block.buffer).setUint16(0, f32ToF16(0.5), true);
    for (let j = 0; j < 32; j++) block[2 + j] = (j - 16) & 0xff;
    assert.deepEqual([...dequantize(DType.Q8_0, block, 32)], Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5));
  });

  test('Q4_0 decodes a hand-made block exactly: low nibbles first, then high', () => {
    const block = new Uint8Array(18);
    new DataView(block.buffer).setUint16(0, f32ToF16(2), true);
    for (let j = 0; j < 16; j++) block[2 + j] = j | ((15 - j) << 4);
    const want = [...Array.from({ length: 16 }, (_, j) => (j - 8) * 2), ...Array.from({ length: 16 }, (_, j) => (7 - j) * 2)];
    assert.deepEqual([...dequantize(DType.Q4_0, block, 32)], want);
  });
});
