/**
 * Wander's own seeded PRNG: xoshiro128** (32-bit arithmetic only, so every JS engine on every machine
 * produces the same stream), seeded through SplitMix32 from (seed, stream). `rngFor(seed, i)` gives
 * sample i its own independent stream, so sample i never depends on how many samples run beside it.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream = 0) {
    // Mix the seed's high and low 32 bits and the stream number into the 128-bit state.
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b1) ^ Math.imul(stream >>> 0, 0x85ebca6b);
    const next = () => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /**
   * A generator for another purpose than sampling (noise, say), keyed by any number of 32-bit words:
   * its 128-bit state is mixed from all of them and a domain tag, so keyed streams never coincide with
   * the (seed, stream) sampling streams, nor, in practice, with each other.
   */
  static keyed(domain: string, words: readonly number[]): Rng {
    const r = new Rng(0);
    const state = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344];
    const mix = (w: number) => {
      for (let i = 0; i < 4; i++) {
        let h = Math.imul(state[i]! ^ w, 0xcc9e2d51 + 2 * i);
        h = Math.imul(h ^ (h >>> 15), 0x1b873593);
        state[i] = (h ^ (h >>> 13) ^ state[(i + 1) & 3]!) >>> 0;
      }
    };
    for (const ch of domain) mix(ch.charCodeAt(0));
    for (const w of words) mix(w >>> 0);
    for (let round = 0; round < 4; round++) mix(0x9e3779b9 + round);
    [r.s0, r.s1, r.s2, r.s3] = state as [number, number, number, number];
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) r.s0 = 1;
    return r;
  }

  /** Next uniformly distributed 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function rngFor(seed: number, sampleIndex: number): Rng {
  return new Rng(seed, sampleIndex);
}

/** A fresh seed for runs that did not ask for one; it is reported so the run can be repeated. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}
