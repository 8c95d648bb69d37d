import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Candidates } from '../../src/sampling/candidates.js';
import { Dry } from '../../src/sampling/dry.js';
import type { SamplingContext } from '../../src/sampling/sampler.js';

// A small vocabulary whose texts the breakers are matched against.
const TEXTS = ['a', 'b', 'c', 'y', ':', 'X', 'EN', 'D', 'XEND', 'Y', '\n'];
const [a, b, c, y, colon, X, EN, D, XEND, Y] = TEXTS.map((_, id) => id) as number[] as [number, number, number, number, number, number, number, number, number, number];
const close = (u: number, v: number, tol = 1e-6) => assert.ok(Math.abs(u - v) < tol, `${u} ≠ ${v}`);

/** The logit of every token after DRY, starting from 0 (so each is minus its penalty). */
function penalties(dry: Dry, tokens: number[], start: ArrayLike<number> = new Float32Array(TEXTS.length)): number[] {
  const cand = new Candidates(start);
  const ctx: SamplingContext = { tokens, promptLength: 0, text: '' };
  dry.apply(cand, ctx);
  const out = new Array<number>(start.length).fill(NaN);
  for (let i = 0; i < cand.size; i++) out[cand.ids[i]!] = cand.logits[i]!;
  return out;
}
/** Only these tokens changed, by these amounts (the rest stay 0). */
function only(got: number[], changed: Record<number, number>): void {
  got.forEach((v, id) => close(v, changed[id] ?? 0));
}
const M = 0.8, BASE = 1.75;

describe('dry (llama.cpp "don\'t repeat yourself")', () => {
  test('penalizes the token that would extend a repeat: multiplier · base^(length − allowed)', () => {
    // llama.cpp's own example: a b c c b c y a b c. The suffix "a b c" (3) was followed by c, "b c" (2)
    // by y, "c" (1) by b: with allowed length 2, c loses 0.8·1.75 and y 0.8; b's repeat is too short.
    only(penalties(new Dry(M, BASE, 2, -1, [], TEXTS), [a, b, c, c, b, c, y, a, b, c]), { [c]: -M * BASE, [y]: -M });
    // A run of one token: "a a" repeats with a after it.
    only(penalties(new Dry(M, BASE, 2, -1, [], TEXTS), [a, a, a]), { [a]: -M });
    // The penalty is subtracted from whatever the logit was.
    const start = Float32Array.from(TEXTS, (_, id) => id / 4);
    close(penalties(new Dry(M, BASE, 2, -1, [], TEXTS), [a, b, c, c, b, c, y, a, b, c], start)[c]!, 0.5 - M * BASE);
  });

  test('an empty or short history changes nothing', () => {
    only(penalties(new Dry(M, BASE, 2, -1, [], TEXTS), []), {});
    only(penalties(new Dry(M, BASE, 2, -1, [], TEXTS), [a, a]), {}); // no more tokens than allowed_length
  });

  test('dry_penalty_last_n: −1 searches everything, N only the last N tokens', () => {
    const seq = [a, b, c, c, b, c, y, a, b, c];
    // The last 8 (c c b c y a b c) no longer hold "a b c … c": only y's "b c" repeat is left.
    only(penalties(new Dry(M, BASE, 2, 8, [], TEXTS), seq), { [y]: -M });
    only(penalties(new Dry(M, BASE, 2, 5, [], TEXTS), seq), {});
    only(penalties(new Dry(M, BASE, 2, 0, [], TEXTS), seq), {}); // 0 = off
  });

  test('a breaker inside the repeated span limits the repeat to the tokens after it', () => {
    const seq = [a, colon, b, c, X, a, colon, b, c];
    // Without breakers "a : b c" (4) repeats, and X would extend it: 0.8·1.75².
    only(penalties(new Dry(M, BASE, 2, -1, [], TEXTS), seq), { [X]: -M * BASE ** 2 });
    // ":" breaks: only "b c" after it counts, so X's repeat is 2 long.
    only(penalties(new Dry(M, BASE, 2, -1, ['\n', ':'], TEXTS), seq), { [X]: -M });
    // With allowed length 3, two tokens after the breaker cannot make a penalized repeat at all.
    only(penalties(new Dry(M, BASE, 3, -1, ['\n', ':'], TEXTS), seq), {});
  });

  test('a breaker spread over tokens: "EN" then "D" breaks "END"; "EN" then anything else does not', () => {
    // EN D a X EN D a: the breaker EN+D sits one token before the end, so the repeat is at most 1.
    only(penalties(new Dry(M, BASE, 1, -1, ['END'], TEXTS), [EN, D, a, X, EN, D, a]), { [X]: -M });
    only(penalties(new Dry(M, BASE, 1, -1, [], TEXTS), [EN, D, a, X, EN, D, a]), { [X]: -M * BASE ** 2 });
    // EN a a X EN a a: no breaker, so "EN a a" (3) repeats before X, and "a" before a.
    only(penalties(new Dry(M, BASE, 1, -1, ['END'], TEXTS), [EN, a, a, X, EN, a, a]), { [X]: -M * BASE ** 2, [a]: -M });
  });

  test('a token whose text contains a breaker breaks on its own and is never penalized', () => {
    only(penalties(new Dry(M, BASE, 1, -1, ['END'], TEXTS), [a, Y, X, a]), { [Y]: -M });
    only(penalties(new Dry(M, BASE, 1, -1, ['END'], TEXTS), [a, XEND, X, a]), {});
    only(penalties(new Dry(M, BASE, 1, -1, [':'], TEXTS), [a, colon, X, a]), {});
  });

  test('the exponent is capped so base^exponent stays below the largest f32', () => {
    // (a b) × 11: the last 20 tokens repeat, so a would extend a 20-token repeat: exponent 18. With
    // base 1000 the cap is trunc(88.7228391 / ln 1000) = 12, so the penalty is 1e−30 · 1000^12 = 1e6.
    const seq = Array.from({ length: 22 }, (_, i) => (i % 2 ? b : a));
    const got = penalties(new Dry(1e-30, 1000, 2, -1, [], TEXTS), seq);
    close(got[a]! / -1e6, 1, 1e-6);
    close(got[b]!, 0);
    // Base 1 has no cap (and no growth): the multiplier alone.
    only(penalties(new Dry(M, 1, 2, -1, [], TEXTS), seq), { [a]: -M });
  });

  test('breakers are cut to 40 bytes, as llama.cpp cuts them', () => {
    // A 45-character breaker cut to its first 40 is exactly token q's text: q then breaks on its own
    // (and is exempt). Uncut, q would only begin it, and a q followed by X is no breaker.
    const texts = [...TEXTS, 'q'.repeat(40)], q = TEXTS.length, zeros = new Float32Array(texts.length);
    only(penalties(new Dry(M, BASE, 1, -1, ['q'.repeat(45)], texts), [a, q, X, a], zeros), {});
    only(penalties(new Dry(M, BASE, 1, -1, [], texts), [a, q, X, a], zeros), { [q]: -M });
  });
});
