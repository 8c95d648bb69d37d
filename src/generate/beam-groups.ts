import { byScore, topTokens, type BeamRule, type Candidate, type Hypothesis, type StepContext, type StepResult } from './beam-step.js';

export interface GroupRuleOptions {
  beams: number;
  groups: number;
  /** λ: subtracted from a token's score once per beam of an earlier group that took it this step. */
  penalty: number;
  eosCount: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  /** The most tokens a sequence may generate (max_tokens, or what the context allows). */
  maxGenerated: number;
}

/**
 * Diverse beam search (Vijayakumar et al. 2016) as Hugging Face's group beam search runs it:
 * `_group_beam_search`, last in transformers 4.55 (PR #40495 moved it for 4.56 to the hub repository
 * transformers-community/group-beam-search), read in that hub port (custom_generate/generate.py), with
 * the BeamSearchScorer and BeamHypotheses of generation/beam_search.py as PR #24407 (4.31) left them:
 * one scorer, one finished set and one "done" flag per group. The beams split into G groups of B/G;
 * every step all beams decode together, then the groups choose in order. For group g:
 *
 *   1. each of its beams' log-probabilities lose λ × (how many beams of groups 0 … g−1 took that
 *      token at this step) — HammingDiversityLogitsProcessor, first in HF's processor list — then
 *      pass the chain's logit processors, and every (beam, token) is scored by the beam's sum plus that; the best
 *      max(2, 1 + number of EOS ids) × B/G are ranked, best first (at the first step each group
 *      extends the prompt alone: HF scores all but each group's first beam −1e9);
 *   2. walking them in rank order, a candidate that ends (EOS, or a stop string) joins the group's
 *      own finished set if it ranks among the first B/G, and is dropped otherwise; any other runs on,
 *      until B/G run on;
 *   3. the group's finished set keeps its B/G best (BeamHypotheses.add: a new hypothesis enters while
 *      the set is not full or it beats the worst, strictly; the worst goes, the earliest among equals);
 *   4. the group is done, for good, once its set is full and (early_stopping true) always, or
 *      (false) its worst score is ≥ the best candidate's sum divided by the candidates' length^L, or
 *      ("never") by the longest length when L > 0; a done group chooses nothing more;
 *   5. when the candidates reach the length limit, the running beams of every group not done
 *      become hypotheses of its set (BeamSearchScorer.finalize), and the search ends; it also ends
 *      once every group is done.
 *
 * All groups' finished sets are then pooled and the best returned (a stable sort then pop(): among
 * equal scores the one pooled later — a later group — comes first).
 *
 * Where this differs from Hugging Face: a done group runs no beams (HF keeps decoding them, padded
 * with the pad token, and counts that pad token — often the EOS id — as taken in the penalty of the
 * groups after it, which only pushes later groups away from ending); a stop string ends a beam as
 * EOS does (HF's group search stops only when every beam has met one); a group whose candidates
 * cannot fill its B/G beams runs fewer (HF raises an error).
 */
export class GroupRule implements BeamRule {
  private readonly size: number;
  private readonly keep: number;
  /** Each group's finished hypotheses, in the order BeamHypotheses keeps them. */
  private readonly hyps: Hypothesis[][];
  private readonly done: boolean[];

  constructor(private readonly o: GroupRuleOptions) {
    this.size = o.beams / o.groups;
    this.keep = Math.max(2, 1 + o.eosCount) * this.size;
    this.hyps = Array.from({ length: o.groups }, () => []);
    this.done = Array.from({ length: o.groups }, () => false);
  }

  step(ctx: StepContext): StepResult {
    const next: StepResult['next'] = [], kept: Candidate[] = [], added: Hypothesis[] = [];
    // Tokens the running beams of the groups before this one took at this step, and how many times.
    const taken = new Map<number, number>();
    let any = false;
    for (let g = 0; g < this.o.groups; g++) {
      if (this.done[g]) continue;
      const candidates = this.candidates(ctx, g, taken);
      if (candidates.length === 0) continue;
      any = true;
      const first = next.length;
      for (let rank = 0; rank < candidates.length && next.length - first < this.size; rank++) {
        const c = candidates[rank]!, end = ctx.ends(c);
        if (!end) {
          next.push(ctx.extend(c));
          kept.push(c);
        } else if (rank < this.size) this.add(g, ctx.finish(c, end), added);
      }
      this.done[g] = this.isDone(g, candidates[0]!.sum, ctx.generated);
      for (const c of kept.slice(first)) taken.set(c.token, (taken.get(c.token) ?? 0) + 1);
    }
    if (!any) return { next: [], kept: [], entered: [], done: true, empty: true };
    const entered = () => added.filter((h) => this.hyps[h.group]!.includes(h));
    if (ctx.limit) {
      for (const c of kept) if (!this.done[c.group]) this.add(c.group, ctx.finish(c, ctx.limit), added);
      return { next: [], kept: [], entered: entered(), done: true };
    }
    return { next, kept, entered: entered(), done: next.length === 0 || this.done.every(Boolean) };
  }

  best(): Hypothesis[] {
    const pooled = this.hyps.flat();
    return pooled.map((h, i) => ({ h, i })).sort((x, y) => y.h.score - x.h.score || y.i - x.i).map((x) => x.h);
  }

  /** Group g's ranked candidates: its beams' penalised scores plus their sums, the best `keep`. */
  private candidates(ctx: StepContext, g: number, taken: ReadonlyMap<number, number>): Candidate[] {
    const all: Candidate[] = [];
    ctx.beams.forEach((beam, b) => {
      if (beam.group !== g && beam.group !== -1) return;
      // The penalty runs before the other processors, as HammingDiversityLogitsProcessor comes first in
      // Hugging Face's list (a repetition penalty then multiplies the penalized log-probability); in
      // f32, as HF subtracts from its f32 scores.
      const scores = ctx.scores(b, (logp) => { for (const [token, times] of taken) logp[token] = logp[token]! - this.o.penalty * times; });
      if (!scores) return;
      for (const token of topTokens(scores, this.keep)) {
        all.push({ beam: b, token, logprob: scores[token]!, sum: beam.sum + scores[token]!, group: g, drawnEntropy: 0 });
      }
    });
    all.sort(byScore);
    all.length = Math.min(all.length, this.keep);
    return all;
  }

  /** BeamHypotheses.add for group g (every hypothesis offered is recorded in `added`). */
  private add(g: number, h: Hypothesis, added: Hypothesis[]): void {
    const set = this.hyps[g]!;
    added.push(h);
    if (set.length >= this.size && !(h.score > worst(set))) return;
    set.push(h);
    if (set.length <= this.size) return;
    let out = 0;
    for (let i = 1; i < set.length; i++) if (set[i]!.score < set[out]!.score) out = i;
    set.splice(out, 1);
  }

  /** BeamHypotheses.is_done, given the best candidate sum of this step and the candidates' length. */
  private isDone(g: number, bestSum: number, generated: number): boolean {
    const set = this.hyps[g]!, { earlyStopping, lengthPenalty, maxGenerated } = this.o;
    if (set.length < this.size) return false;
    if (earlyStopping === true) return true;
    const length = earlyStopping === 'never' && lengthPenalty > 0 ? maxGenerated : generated;
    return worst(set) >= bestSum / length ** lengthPenalty;
  }
}

function worst(set: readonly Hypothesis[]): number {
  return Math.min(...set.map((h) => h.score));
}
