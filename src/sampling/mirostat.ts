import type { Candidates } from './candidates.js';
import { massCut } from './mass-cut.js';
import type { Sampler, SamplingContext } from './sampler.js';
import type { RankKey } from './vector-math.js';

/** Where a sample keeps its running μ (ctx.state). */
export const MIROSTAT_MU = 'mirostat_mu';

/** How many of the most likely tokens v1 fits its Zipf exponent to (llama.cpp's m = 100). */
const M = 100;

/**
 * Mirostat (Basu et al.), v1 and v2 as llama.cpp runs them (llama_sampler_mirostat_apply and
 * llama_sampler_mirostat_v2_apply in src/llama-sampling.cpp): a feedback loop that keeps the surprise
 * of the chosen tokens near a target τ (bits). μ, the largest surprise it allows, starts at 2τ and
 * after every draw moves by μ ← μ − η·(surprise − τ), where the surprise is −log2 p of the chosen
 * token in the truncated, renormalized distribution it was drawn from.
 *
 * v1 estimates the Zipf exponent ŝ of the distribution from its 100 most likely tokens (least squares
 * through the origin of ln(p_i / p_{i+1}) against ln((i + 2)/(i + 1))), turns μ into a number of
 * tokens k = (ε̂ · 2^μ / (1 − N^−ε̂))^(1/ŝ) with ε̂ = ŝ − 1 and N the vocabulary size, and keeps the k
 * most likely. v2 keeps the tokens whose surprise −log2 p is at most μ (at least one).
 *
 * llama.cpp's mirostat draws the token itself; here the chain draws, then calls accept(), which
 * updates μ in ctx.state — so μ lives with the sample, and a one-off step (no state) starts from 2τ.
 * Both versions keep at least min_keep tokens (llama.cpp: 1, Wander's default).
 */
export class Mirostat implements Sampler {
  readonly name = 'mirostat';
  readonly kind = 'warper';
  constructor(readonly version: 1 | 2, readonly tau: number, readonly eta: number, readonly minKeep = 1) {}

  /** The μ this step starts from: the sample's running value, or 2τ at its first step. */
  mu(ctx: SamplingContext): number {
    return ctx.state?.[MIROSTAT_MU] ?? 2 * this.tau;
  }

  apply(c: Candidates, ctx: SamplingContext): void {
    const mu = this.mu(ctx);
    if (this.version === 2) {
      // −log2 p ≤ μ  ⇔  p ≥ 2^−μ  ⇔  logit ≥ max + ln Σ − μ·ln 2: one pass over the candidates.
      const { sum, max } = c.expSum();
      c.keepLogitsAtLeast(max + Math.log(sum) - mu * Math.LN2, this.minKeep);
      return;
    }
    const top = this.best(c);
    const keep = Math.max(this.k(c, mu, top), this.minKeep);
    if (keep >= c.size) return;
    // Keep everything ranked up to the keep-th best (logit descending, lower id first on ties), found
    // among the 100 already ranked or, past them, by massCut counting entries instead of adding mass.
    const below: RankKey = { mode: 0, a: c.maxLogit(), b: 0, c: 0 };
    const cut = keep <= top.length ? top[keep - 1]! : massCut(c, below, this.ones(c), keep, 40);
    if (cut >= 0) c.keepRanked(below, c.rankKey(below, cut), c.ids[cut]!, this.minKeep);
  }

  /** The indices of the (up to) 100 best candidates in canonical order; nothing is moved. */
  private best(c: Candidates): number[] {
    const l = c.logits, ids = c.ids;
    const heap = c.math.selectTop(l, ids, 0, c.size, Math.min(M, c.size));
    return Array.from(heap).sort((a, b) => l[b]! - l[a]! || ids[a]! - ids[b]!);
  }

  /** A weight of 1 per candidate, in kernel memory: massCut over it counts entries. */
  private unit?: Float32Array;
  private ones(c: Candidates): Float32Array {
    if (!this.unit || this.unit.length < c.size) this.unit = c.math.alloc(c.ids.length).fill(1);
    return this.unit;
  }

  /** v1's k, from the best candidates `top` (canonical order; default: found here). */
  k(c: Candidates, mu: number, top: readonly number[] = this.best(c)): number {
    const l = c.logits;
    let tb = 0, tt = 0;
    for (let i = 0; i < M - 1 && i < top.length - 1; i++) {
      const t = Math.log((i + 2) / (i + 1));
      // ln(p_i / p_{i+1}) is the logit difference: no probabilities needed.
      const b = l[top[i]!]! - l[top[i + 1]!]!;
      tb += t * b;
      tt += t * t;
    }
    const s = tb / tt, e = s - 1;
    const k = Math.pow((e * Math.pow(2, mu)) / (1 - Math.pow(c.ids.length, -e)), 1 / s);
    // llama.cpp truncates k to an int and keeps at least 1. An estimate that is not a number (a lone
    // candidate leaves nothing to fit: 0/0) keeps 1 token, and an infinite one (a flat head, ŝ near 0)
    // keeps them all, as the conversion saturates (C++ leaves out-of-range conversions undefined;
    // this is what ARM does).
    if (Number.isNaN(k)) return 1;
    return Math.max(Math.min(Math.trunc(k), c.size), 1);
  }

  /** μ after drawing `token` from `c`. */
  nextMu(token: number, c: Candidates, ctx: SamplingContext): number {
    const { exps, sum } = c.expSum();
    let e = 0;
    for (let i = 0; i < c.size; i++) if (c.ids[i] === token) { e = exps[i]!; break; }
    const surprise = -Math.log2(e / sum);
    return this.mu(ctx) - this.eta * (surprise - this.tau);
  }

  accept(token: number, c: Candidates, ctx: SamplingContext): void {
    if (ctx.state) ctx.state[MIROSTAT_MU] = this.nextMu(token, c, ctx);
  }
}
