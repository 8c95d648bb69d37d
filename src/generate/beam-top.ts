import type { RandomSource } from '../sampling/sampler.js';
import { drawDistinct } from './beam-draw.js';
import { byScore, topTokens, type BeamRule, type Candidate, type Hypothesis, type StepContext, type StepResult } from './beam-step.js';

export interface TopRuleOptions {
  beams: number;
  /** Candidates gathered per step: max(2, 1 + number of EOS ids) × beams. */
  keep: number;
  vocab: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  /** The most tokens a sequence may generate (max_tokens, or what the context allows). */
  maxGenerated: number;
  /** Beam sampling: the candidates are drawn with this generator instead of taken best first. */
  rng?: RandomSource;
  /** Beam sampling: record the entropy of each beam's distribution (token stats). */
  entropy?: boolean;
}

/**
 * One step of Hugging Face's `_beam_search` (transformers 4.50+, the vectorised rewrite of PR #35802;
 * `_get_top_k_continuations`, `_get_running_beams_for_next_iteration`, `_update_finished_beams`,
 * `_check_early_stop_heuristic`), with do_sample false (beam search) or true (beam sampling):
 *
 *   1. candidates: every (beam, token) scored by the beam's sum plus the token's score. Beam search
 *      keeps the best `keep` of them, best first. Beam sampling flattens them over the beams and draws
 *      `keep` without replacement from the softmax of those sums (HF's torch.multinomial; here
 *      drawDistinct with the search's seeded generator), in the order drawn;
 *   2. a candidate ends on an EOS token, a stop string, or the length limit; those among the first
 *      num_beams candidates (best first, or first drawn) join the finished set, scored
 *      sum / generated^length_penalty, which keeps its num_beams best while improvement is possible;
 *   3. the num_beams candidates with the largest sums that did not end run on (HF's topk over the
 *      drawn ones: equal sums keep their draw order);
 *   4. the search ends when nothing runs on, when (early_stopping true) num_beams hypotheses have
 *      finished, or when the best running beam, scored at its current length (false) or at the longest
 *      it could reach (never, with a positive length_penalty), cannot beat the worst finished one.
 */
export class TopRule implements BeamRule {
  private readonly finished: Hypothesis[] = [];
  /** Hugging Face's is_early_stop_heuristic_unsatisfied: finished hypotheses may still be improved on. */
  private improvable = true;
  private pool?: Float32Array;
  private weights?: Float64Array;

  constructor(private readonly o: TopRuleOptions) {}

  step(ctx: StepContext): StepResult {
    const B = this.o.beams;
    const candidates = this.o.rng ? this.drawn(ctx, this.o.rng) : this.ranked(ctx);
    if (candidates.length === 0) return { next: [], kept: [], entered: [], done: true, empty: true };
    const ends = candidates.map((c) => ctx.ends(c) ?? ctx.limit);

    const order = candidates.map((_, i) => i).filter((i) => !ends[i]);
    order.sort((i, j) => candidates[j]!.sum - candidates[i]!.sum || i - j);
    const kept = order.slice(0, B).map((i) => candidates[i]!);
    const next = kept.map((c) => ctx.extend(c));

    // Hugging Face also bars new hypotheses once the set is full with early_stopping true, which
    // matters only across a batch of prompts: for one prompt the search has stopped then.
    const entered: Hypothesis[] = [];
    if (this.improvable) {
      for (let i = 0; i < Math.min(B, candidates.length); i++) {
        const end = ends[i];
        if (end) entered.push(ctx.finish(candidates[i]!, end));
      }
      // A stable sort: among equal scores a hypothesis finished earlier stays ahead.
      const merged = [...this.finished, ...entered].sort((x, y) => y.score - x.score);
      this.finished.splice(0, this.finished.length, ...merged.slice(0, B));
    }

    if (this.improvable && next.length > 0) this.improvable = this.finished.length < B || this.bestPossible(next[0]!.sum, ctx.generated) > this.finished[B - 1]!.score;
    const done = !this.improvable || (this.o.earlyStopping === true && this.finished.length === B) || next.length === 0;
    return { next, kept, entered: entered.filter((h) => this.finished.includes(h)), done };
  }

  best(): Hypothesis[] {
    return this.finished;
  }

  /** Hugging Face's best_possible_running_score: the running score at the best length it may still have. */
  private bestPossible(sum: number, generated: number): number {
    const { earlyStopping, lengthPenalty, maxGenerated } = this.o;
    return sum / (earlyStopping === 'never' && lengthPenalty > 0 ? maxGenerated : generated) ** lengthPenalty;
  }

  /** Beam search: the best `keep` continuations over all beams, best first. */
  private ranked(ctx: StepContext): Candidate[] {
    const all: Candidate[] = [];
    ctx.beams.forEach((beam, b) => {
      const scores = ctx.scores(b);
      // Every token of this beam removed by a processor: the beam has no continuation.
      if (!scores) return;
      for (const token of topTokens(scores, this.o.keep)) {
        all.push({ beam: b, token, logprob: scores[token]!, sum: beam.sum + scores[token]!, group: 0, drawnEntropy: 0 });
      }
    });
    all.sort(byScore);
    all.length = Math.min(all.length, this.o.keep);
    return all;
  }

  /**
   * Beam sampling: `keep` continuations drawn without replacement, in the order drawn, each with
   * probability proportional to exp(sum) among those not drawn yet — the softmax over every beam's
   * tokens at once, which Hugging Face samples. Entries lie in the order (beam, token id).
   */
  private drawn(ctx: StepContext, rng: RandomSource): Candidate[] {
    const V = this.o.vocab, n = ctx.beams.length * V;
    const pool = (this.pool ??= new Float32Array(this.o.beams * V));
    const weights = (this.weights ??= new Float64Array(this.o.beams * V));
    const entropy: number[] = [];
    let max = -Infinity;
    ctx.beams.forEach((beam, b) => {
      const scores = ctx.scores(b);
      if (!scores) {
        pool.fill(-Infinity, b * V, (b + 1) * V);
        entropy.push(0);
        return;
      }
      pool.set(scores, b * V);
      let top = -Infinity;
      for (let t = 0; t < V; t++) if (scores[t]! > top) top = scores[t]!;
      max = Math.max(max, beam.sum + top);
      entropy.push(this.o.entropy ? entropyBits(scores) : 0);
    });
    if (max === -Infinity) return [];
    ctx.beams.forEach((beam, b) => {
      // exp(sum − the largest sum): the softmax's numerators, in f64.
      for (let i = b * V, end = i + V; i < end; i++) weights[i] = pool[i] === -Infinity ? 0 : Math.exp(beam.sum + pool[i]! - max);
    });
    return drawDistinct(weights, n, this.o.keep, rng).map((i) => {
      const b = Math.floor(i / V), token = i - b * V;
      return { beam: b, token, logprob: pool[i]!, sum: ctx.beams[b]!.sum + pool[i]!, group: 0, drawnEntropy: entropy[b]! };
    });
  }
}

/** Entropy (bits) of the softmax of scores (−∞ entries excluded). */
function entropyBits(scores: Float32Array): number {
  let max = -Infinity;
  for (const x of scores) if (x > max) max = x;
  let z = 0, weighted = 0;
  for (const x of scores) {
    if (x === -Infinity) continue;
    const e = Math.exp(x - max);
    z += e;
    weighted += e * (x - max);
  }
  return Math.max(0, Math.log(z) - weighted / z) / Math.LN2;
}
