import assert from 'node:assert/strict';
import { Candidates } from '../../src/sampling/candidates.js';
import type { RandomSource, Sampler, SamplingContext } from '../../src/sampling/sampler.js';

// What the stage tests share: run one stage on a vocabulary of logits and read back what survived.

/** A step with no history: no prompt, nothing generated. */
export const EMPTY: SamplingContext = { tokens: [], promptLength: 0, text: '' };

/** Applies one stage; returns the surviving ids (ascending) with their renormalized probabilities and their logits. */
export function applyStage(s: Sampler, logits: ArrayLike<number>, ctx: SamplingContext = EMPTY, rng?: RandomSource): { ids: number[]; probs: Map<number, number>; logits: Map<number, number> } {
  const c = new Candidates(logits);
  s.apply(c, ctx, rng);
  const p = c.probs();
  const ids = Array.from(c.ids.subarray(0, c.size));
  return {
    ids: [...ids].sort((a, b) => a - b),
    probs: new Map(ids.map((id, i) => [id, p[i]!])),
    logits: new Map(ids.map((id, i) => [id, c.logits[i]!])),
  };
}

/** a equals b within tol (1e-6 unless said). */
export const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) < tol, `${a} ≠ ${b}`);
