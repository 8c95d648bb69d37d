import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Candidates } from '../../src/sampling/candidates.js';
import { Epsilon } from '../../src/sampling/epsilon.js';
import { Eta } from '../../src/sampling/eta.js';
import { MinP } from '../../src/sampling/min-p.js';
import { Rng } from '../../src/sampling/rng.js';
import type { Sampler } from '../../src/sampling/sampler.js';
import { Temperature } from '../../src/sampling/temperature.js';
import { TopK } from '../../src/sampling/top-k.js';
import { TopNSigma } from '../../src/sampling/top-n-sigma.js';
import { TopP } from '../../src/sampling/top-p.js';
import { TypicalP } from '../../src/sampling/typical-p.js';
import { ANY_ID, BINS, exp32, f32AtLeast, rankBands, rankKey, VectorMath, type RankKey } from '../../src/sampling/vector-math.js';

// Every O(vocabulary) pass of the sampling chain runs in a WebAssembly kernel where the runtime has
// SIMD, and as plain TypeScript where it does not (the web lab without cross-origin isolation). The
// two must agree bit for bit, so a draw never depends on where it ran: each test runs an operation
// both ways on awkward inputs and compares every output exactly.
const wasm = new VectorMath();
const ts = new VectorMath({ wasm: false });
const skip = wasm.kernels ? false : 'WebAssembly SIMD is not available here';

const gauss = (r: Rng) => Math.sqrt(-2 * Math.log(Math.max(r.uniform(), 1e-12))) * Math.cos(2 * Math.PI * r.uniform());

/** Named logit vectors: ties, −∞, all equal, ±0, a huge spread, and lengths around multiples of 4, 8, 16, 64. */
function inputs(): [string, Float32Array][] {
  const out: [string, Float32Array][] = [];
  const r = new Rng(1);
  for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 67, 130, 1001]) {
    out.push([`gauss n=${n}`, Float32Array.from({ length: n }, () => 3 * gauss(r))]);
    out.push([`ties n=${n}`, Float32Array.from({ length: n }, () => Math.round(2 * gauss(r)) / 2)]);
    out.push([`-inf n=${n}`, Float32Array.from({ length: n }, (_, i) => (i % 3 === 1 ? -Infinity : gauss(r)))]);
  }
  out.push(['all equal', new Float32Array(203).fill(1.5)]);
  out.push(['all zero with -0', Float32Array.from({ length: 37 }, (_, i) => (i % 2 ? -0 : 0))]);
  out.push(['-0 max', Float32Array.from({ length: 21 }, (_, i) => (i === 5 ? -0 : -1 - i))]);
  out.push(['one finite', Float32Array.from({ length: 11 }, (_, i) => (i === 7 ? 2 : -Infinity))]);
  out.push(['huge spread', Float32Array.from({ length: 99 }, (_, i) => (i % 5 === 0 ? -1e9 : i % 7 === 0 ? 1e-30 : gauss(r)))]);
  out.push(['peaked', Float32Array.from({ length: 4099 }, (_, i) => (i === 77 ? 30 : i === 78 ? 29 : gauss(r)))]);
  out.push(['vocabulary', Float32Array.from({ length: 50257 }, (_, i) => (i % 997 === 0 ? 8 : 0) + 2.5 * gauss(r))]);
  return out;
}

/** The same data in each side's own arrays. */
function pair(x: Float32Array): [Float32Array, Float32Array] {
  const a = wasm.alloc(x.length), b = ts.alloc(x.length);
  a.set(x); b.set(x);
  return [a, b];
}
function pairIds(n: number): [Int32Array, Int32Array] {
  const a = wasm.allocI32(n), b = ts.allocI32(n);
  for (let i = 0; i < n; i++) a[i] = b[i] = i;
  return [a, b];
}
function same(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}: [${i}] ${a[i]} ≠ ${b[i]}`);
}
const sameNum = (a: number, b: number, what: string) => assert.ok(Object.is(a, b), `${what}: ${a} ≠ ${b}`);

describe('kernels and their TypeScript twin agree bit for bit', { skip }, () => {
  test('max, argmax, temperature', () => {
    for (const [name, x] of inputs()) {
      const [a, b] = pair(x), n = x.length;
      sameNum(wasm.max(a, n), ts.max(b, n), `max ${name}`);
      sameNum(wasm.argmax(a, n), ts.argmax(b, n), `argmax ${name}`);
      sameNum(wasm.argmax(x, n), ts.argmax(x, n), `argmax of outside memory ${name}`);
      for (const t of [0.8, 1.3, 0.07]) {
        wasm.divide(a, n, t); ts.divide(b, n, t);
        same(a, b, `divide ${t} ${name}`);
      }
    }
    const nan = Float32Array.of(1, NaN, 3, 2, 5);
    sameNum(wasm.argmax(nan, 5), ts.argmax(nan, 5), 'argmax with a NaN');
    const [na, nb] = pair(nan);
    sameNum(wasm.max(na, 5), NaN, 'max with a NaN');
    sameNum(ts.max(nb, 5), NaN, 'max with a NaN');
  });

  test('exp: the polynomial over the whole range, and the blocked sum', () => {
    // Every 97th f32 between −100 and 0, then special values.
    const xs: number[] = [];
    const bits = new Int32Array(1), f = new Float32Array(bits.buffer);
    for (let v = 0x80000000 | 0; ; v += 97) {
      bits[0] = v;
      if (f[0]! < -100) break;
      xs.push(f[0]!);
    }
    xs.push(-87, -87.00001, -86.99999, 88, 100, Infinity, -Infinity, 0, -0, 1e-45, -1e-45);
    const x = Float32Array.from(xs);
    const [a, b] = pair(x);
    const [ea, eb] = [wasm.alloc(x.length), ts.alloc(x.length)];
    sameNum(wasm.expShift(a, x.length, 0, ea), ts.expShift(b, x.length, 0, eb), 'sum');
    same(ea, eb, 'exp');
    for (let i = 0; i < x.length; i += 1000) {
      sameNum(exp32(x[i]!), eb[i]!, `exp32(${x[i]})`);
      if (x[i]! > -80) assert.ok(Math.abs(eb[i]! / Math.exp(x[i]!) - 1) < 1e-6, `exp(${x[i]}) ≈ ${eb[i]}`);
    }
    for (const [name, l] of inputs()) {
      const [la, lb] = pair(l), n = l.length;
      const [oa, ob] = [wasm.alloc(n), ts.alloc(n)];
      const max = ts.max(lb, n);
      sameNum(wasm.expShift(la, n, max, oa), ts.expShift(lb, n, max, ob), `expShift sum ${name}`);
      same(oa, ob, `expShift ${name}`);
    }
  });

  /** Both twins' copies of l and their exponentials exp(l − max), with the max and the (wasm) sum. */
  const exps = (l: Float32Array) => {
    const [la, lb] = pair(l), n = l.length;
    const [ea, eb] = [wasm.alloc(n), ts.alloc(n)];
    const max = ts.max(lb, n);
    const sum = wasm.expShift(la, n, max, ea);
    ts.expShift(lb, n, max, eb);
    return { la, lb, ea, eb, n, max, sum };
  };

  test('cumulative search, entropy, weighted sum, moments', () => {
    for (const [name, l] of inputs()) {
      const { la, lb, ea, eb, n, max, sum } = exps(l);
      for (const u of [0, 0.3, 0.999999, 1, 2]) sameNum(wasm.cumulativeFind(ea, n, u * sum), ts.cumulativeFind(eb, n, u * sum), `cumulativeFind ${u} ${name}`);
      const lnSum = Math.log(sum);
      sameNum(wasm.entropyNats(la, ea, n, max, sum, lnSum), ts.entropyNats(lb, eb, n, max, sum, lnSum), `entropy ${name}`);
      sameNum(wasm.weightedShift(la, ea, n, max), ts.weightedShift(lb, eb, n, max), `weightedShift ${name}`);
      const ma = wasm.finiteMoments(la, n), mb = ts.finiteMoments(lb, n);
      sameNum(ma.mean, mb.mean, `mean ${name}`);
      sameNum(ma.variance, mb.variance, `variance ${name}`);
    }
  });

  test('mass bins and the entries of one bin, for both ranking keys', () => {
    for (const [name, l] of inputs()) {
      const { la, lb, ea, eb, n, max, sum } = exps(l);
      const lnSum = Math.log(sum), h = ts.entropyNats(lb, eb, n, max, sum, lnSum);
      const ranks: RankKey[] = [{ mode: 0, a: max, b: 0, c: 0 }, { mode: 1, a: lnSum, b: max, c: h }];
      for (const r of ranks) {
        for (const scale of [BINS / 40, BINS / 0.001]) {
          const mass = Float64Array.from(wasm.binMass(r, la, ea, n, scale));
          same(mass, ts.binMass(r, lb, eb, n, scale), `binMass ${r.mode} ${name}`);
          const bins = new Set([0, BINS - 1, ...Array.from({ length: 8 }, (_, i) => (i * 257) % BINS)]);
          for (const bin of bins) same(Array.from(wasm.collectBin(n, bin)), Array.from(ts.collectBin(n, bin)), `collectBin ${bin} ${r.mode} ${name}`);
          // Every entry is in exactly one bin, and the bin follows the key.
          if (n > 5000) continue;
          let total = 0;
          for (let bin = 0; bin < BINS; bin++) {
            const members = ts.collectBin(n, bin);
            total += members.length;
            for (const i of members) {
              const t = rankKey(r, lb[i]!) * scale;
              assert.equal(bin, Number.isNaN(t) || t < 1 ? 0 : Math.min(BINS - 1, Math.trunc(t)));
            }
          }
          assert.equal(total, n);
        }
      }
    }
  });

  test('ranked and threshold compaction, with ties at the bound and a sorted prefix', () => {
    for (const [name, l] of inputs()) {
      const n = l.length;
      const max = ts.max(l, n);
      const ranks: RankKey[] = [{ mode: 0, a: max, b: 0, c: 0 }, { mode: 1, a: 0.7, b: max, c: 1.1 }];
      const picks = [0, 1, n >> 1, n - 1].filter((i) => i >= 0 && i < n);
      for (const r of ranks) {
        for (const i of picks) {
          for (const [key, id] of [[rankKey(r, l[i]!), i], [rankKey(r, l[i]!), ANY_ID], [rankKey(r, l[i]!) + 1e-12, 0], [Infinity, ANY_ID]] as const) {
            for (const prefix of [0, Math.min(n, 5)]) {
              const [la, lb] = pair(l), [ia, ib] = pairIds(n);
              sameNum(wasm.countRanked(r, la, ia, n, key, id), ts.countRanked(r, lb, ib, n, key, id), `countRanked ${name}`);
              const wa = wasm.compactRanked(r, la, ia, prefix, n, wasm.compactRanked(r, la, ia, 0, prefix, 0, key, id), key, id);
              const wb = ts.compactRanked(r, lb, ib, prefix, n, ts.compactRanked(r, lb, ib, 0, prefix, 0, key, id), key, id);
              sameNum(wa, wb, `compactRanked size ${name}`);
              same(la.subarray(0, wa), lb.subarray(0, wb), `compactRanked logits ${name}`);
              same(ia.subarray(0, wa), ib.subarray(0, wb), `compactRanked ids ${name}`);
            }
          }
        }
      }
      // Cuts at a logit exactly, just either side of it in f64, and at the infinities.
      const cuts = picks.flatMap((i) => [l[i]!, l[i]! + 1e-9, l[i]! - 1e-9, l[i]! * (1 + 2 ** -30)]).concat([-Infinity, Infinity, max]);
      for (const cut of cuts) {
        const [la, lb] = pair(l), [ia, ib] = pairIds(n);
        sameNum(wasm.countAtLeast(la, n, cut), ts.countAtLeast(lb, n, cut), `countAtLeast ${cut} ${name}`);
        const wa = wasm.compactAtLeast(la, ia, 0, n, 0, cut), wb = ts.compactAtLeast(lb, ib, 0, n, 0, cut);
        sameNum(wa, wb, `compactAtLeast ${cut} ${name}`);
        same(ia.subarray(0, wa), ib.subarray(0, wb), `compactAtLeast ids ${name}`);
      }
      const [la, lb] = pair(l), [ia, ib] = pairIds(n);
      const wa = wasm.compactFinite(la, ia, 0, n, 0), wb = ts.compactFinite(lb, ib, 0, n, 0);
      sameNum(wa, wb, `compactFinite ${name}`);
      same(ia.subarray(0, wa), ib.subarray(0, wb), `compactFinite ids ${name}`);
    }
  });

  test('top-k selection keeps the same set', () => {
    for (const [name, l] of inputs()) {
      const n = l.length;
      for (const k of [1, 2, 3, 50, 1024].filter((k) => k <= n)) {
        for (const from of [0, Math.min(3, n - k)]) {
          const [la, lb] = pair(l), [ia, ib] = pairIds(n);
          const a = Array.from(wasm.selectTop(la, ia, from, n, k)).sort((x, y) => x - y);
          const b = Array.from(ts.selectTop(lb, ib, from, n, k)).sort((x, y) => x - y);
          same(a, b, `selectTop ${k} from ${from} ${name}`);
        }
      }
    }
  });
});

describe('each stage gives the same candidates on either path', { skip }, () => {
  const stages: Sampler[] = [
    new Temperature(0.7), new TopK(40), new TopK(3, 5), new TopP(0.9), new TopP(0.3, 4), new TopP(1e-9), new MinP(0.05), new MinP(0.9, 3),
    new TypicalP(0.9), new TypicalP(0.2), new TypicalP(0.05, 4), new Epsilon(1e-4), new Eta(0.0009), new TopNSigma(1), new TopNSigma(0.3, 2),
  ];
  for (const s of stages) {
    test(`${s.name} (${JSON.stringify(s)})`, () => {
      for (const [name, l] of inputs()) {
        const a = new Candidates(l, wasm), b = new Candidates(l, ts);
        for (const c of [a, b]) {
          // Start some runs from a ranked state: a sorted prefix, ids out of order.
          if (name.startsWith('ties')) c.sortTop(Math.min(3, c.size));
          s.apply(c, { tokens: [], promptLength: 0, text: '' });
        }
        assert.equal(a.size, b.size, `${name}: size`);
        assert.equal(a.sortedPrefix, b.sortedPrefix, `${name}: sortedPrefix`);
        same(a.ids.subarray(0, a.size), b.ids.subarray(0, b.size), `${name}: ids`);
        same(a.logits.subarray(0, a.size), b.logits.subarray(0, b.size), `${name}: logits`);
        same(a.probs(), b.probs(), `${name}: probs`);
      }
    });
  }
});

test('f32AtLeast: the smallest f32 at or above an f64', () => {
  const f = Math.fround;
  for (const c of [0, -0, 1, 1 + 2 ** -40, -1 - 2 ** -40, 0.1, -0.1, 1e-46, -1e-46, 3.5e38, -3.5e38, Infinity, -Infinity]) {
    const t = f32AtLeast(c);
    assert.ok(t >= c, `${t} ≥ ${c}`);
    assert.equal(f(t), t);
    // The f32 just below t is below c.
    const bits = new Float32Array([t]), i = new Int32Array(bits.buffer);
    if (t === -Infinity || Object.is(t, 0) || Object.is(t, -0)) continue;
    i[0]! += t > 0 ? -1 : 1;
    assert.ok(bits[0]! < c, `${bits[0]} < ${c}`);
  }
  assert.ok(Number.isNaN(f32AtLeast(NaN)));
});

test('rankBands: f32 value bands hold exactly the logits whose f64 key is below (or at) the bound', () => {
  const r = new Rng(3);
  const f = Math.fround;
  const bits = new Int32Array(1), asF32 = new Float32Array(bits.buffer);
  const nextTo = (x: number, d: number) => { asF32[0] = x; bits[0]! += (x > 0 || Object.is(x, 0) ? d : -d); return asF32[0]!; };
  const inBand = (x: number, lo: number, hi: number) => x >= lo && x <= hi;
  for (let t = 0; t < 300; t++) {
    const max = f(10 * gauss(r));
    const rk: RankKey = t % 2 ? { mode: 0, a: max, b: 0, c: 0 } : { mode: 1, a: 3 * Math.abs(gauss(r)), b: max, c: Math.abs(gauss(r)) * 4 };
    const xs = [f(max - Math.abs(5 * gauss(r))), max, f(max - 1e-7), -Infinity, Infinity, 0, -0, f(1e-30), f(-1e-30)];
    const k = t % 3 === 0 ? rankKey(rk, xs[0]!) : Math.abs(gauss(r)) * 6;
    const b = rankBands(rk, k)!;
    // Probe the band ends and their f32 neighbours, and the sample points.
    const probes = [...xs];
    for (const e of [b.lo, b.hi, b.tlo, b.thi]) if (Number.isFinite(e)) probes.push(e, nextTo(e, 1), nextTo(e, -1));
    for (const x of probes) {
      const key = rankKey(rk, x);
      assert.equal(inBand(x, b.lo, b.hi), key < k, `key(${x}) = ${key} < ${k} (mode ${rk.mode})`);
      assert.equal(inBand(x, b.tlo, b.thi), key <= k, `key(${x}) = ${key} ≤ ${k} (mode ${rk.mode})`);
    }
  }
  assert.equal(rankBands({ mode: 0, a: Infinity, b: 0, c: 0 }, 1), undefined);
  assert.equal(rankBands({ mode: 0, a: 0, b: 0, c: 0 }, NaN), undefined);
});
