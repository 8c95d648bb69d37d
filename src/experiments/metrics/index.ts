import { FINISH_REASONS } from '../../generate/report.js';
import { stringCounts, type StringCount } from './count.js';
import { distinctN } from './distinct-n.js';
import { distinctOutputs, type DistinctOutputs } from './distinct-outputs.js';
import { firstDivergence } from './divergence.js';
import { meanPairwiseEditDistance } from './edit-distance.js';
import { degenerateLoop, repetitionRate } from './repetition.js';
import { selfBleu } from './self-bleu.js';
import { entropyByPosition, tokenStatsSummary, type TokenStatsSummary } from './token-stats.js';
import { words } from './words.js';
import { zipfCoefficient } from './zipf.js';

export { countOccurrences, stringCounts, type StringCount } from './count.js';
export { distinctN } from './distinct-n.js';
export { distinctOutputs, normalizeOutput } from './distinct-outputs.js';
export { firstDivergence } from './divergence.js';
export { editDistance, meanPairwiseEditDistance } from './edit-distance.js';
export { degenerateLoop, repetitionRate } from './repetition.js';
export { endLoop, repetitionPercent, type EndLoop } from './end-loop.js';
export { degenerationMetrics, ZIPF_RANKS, type DegenerationMetrics, type DegenerationText } from './degeneration.js';
export { selfBleu } from './self-bleu.js';
export { entropyByPosition, tokenStatsSummary } from './token-stats.js';
export { words, ngrams } from './words.js';
export { zipfCoefficient } from './zipf.js';

/** What the metrics read from one stored sample. */
export interface MetricSample {
  text: string;
  token_ids: readonly number[];
  logprobs: readonly number[];
  entropies: readonly number[];
  /** Entropy of the distribution each token was drawn from (optional: older callers may lack it). */
  sampled_entropies?: readonly number[];
  finish_reason: string;
}

export interface CellMetrics extends DistinctOutputs, TokenStatsSummary {
  samples: number;
  distinct_1: number | null;
  distinct_2: number | null;
  distinct_3: number | null;
  self_bleu4: number | null;
  edit_distance: number | null;
  first_divergence: number | null;
  repetition_rate: number | null;
  /** Samples that end in a loop (see degenerateLoop). */
  degenerate: number;
  zipf: number | null;
  mean_completion_tokens: number;
  finish_reasons: Record<string, number>;
  entropy_by_position: number[];
  /** Per counted string (the experiment's `count`): mean occurrences per sample and share of samples with it. */
  counts?: Record<string, StringCount>;
}

/**
 * Every diversity metric of one cell, from its stored samples (so they can be recomputed at any time);
 * with `count`, also how often each of those strings occurs in the generated texts.
 */
export function cellMetrics(samples: readonly MetricSample[], count?: readonly string[]): CellMetrics {
  const w = samples.map((s) => words(s.text));
  const ids = samples.map((s) => s.token_ids);
  const entropies = samples.map((s) => s.entropies);
  const finish = Object.fromEntries(FINISH_REASONS.map((r) => [r, 0])) as Record<string, number>;
  for (const s of samples) finish[s.finish_reason] = (finish[s.finish_reason] ?? 0) + 1;
  return {
    samples: samples.length,
    ...distinctOutputs(samples.map((s) => s.text)),
    distinct_1: distinctN(w, 1), distinct_2: distinctN(w, 2), distinct_3: distinctN(w, 3),
    self_bleu4: selfBleu(w, 4),
    edit_distance: meanPairwiseEditDistance(w),
    first_divergence: firstDivergence(ids),
    ...tokenStatsSummary(entropies, samples.map((s) => s.logprobs), samples.map((s) => s.sampled_entropies ?? [])),
    repetition_rate: repetitionRate(w, 4),
    degenerate: w.filter((x) => degenerateLoop(x) > 0).length,
    zipf: zipfCoefficient(ids),
    mean_completion_tokens: samples.length ? ids.reduce((n, x) => n + x.length, 0) / samples.length : 0,
    finish_reasons: finish,
    entropy_by_position: entropyByPosition(entropies),
    ...(count?.length ? { counts: stringCounts(samples.map((s) => s.text), count) } : {}),
  };
}
