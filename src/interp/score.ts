import type { Model } from '../model/load.js';
import { prepareInterventions, type InterventionSettings } from './intervene.js';
import { inputIds, logSoftmax, rankOf, tokenLabel } from './tokens.js';

/**
 * GLTR-style buckets by the token's rank in the model's distribution: `top10` (rank 1–10), `top100`
 * (11–100), `top1000` (101–1000), `beyond` (past 1000). Text a model wrote itself sits mostly in top10;
 * human text reaches further down.
 */
export type Bucket = 'top10' | 'top100' | 'top1000' | 'beyond';
export const BUCKETS: readonly Bucket[] = ['top10', 'top100', 'top1000', 'beyond'];

export function bucketOf(rank: number): Bucket {
  return rank <= 10 ? 'top10' : rank <= 100 ? 'top100' : rank <= 1000 ? 'top1000' : 'beyond';
}

export interface ScoredToken {
  position: number;
  token_id: number;
  token: string;
  /** ln p(token | the tokens before it); null for the first token, which nothing predicts. */
  logprob: number | null;
  /** 1-based rank of the token in the model's distribution at this position (ties: lower id first). */
  rank: number | null;
  bucket: Bucket | null;
  /** Entropy (bits) of the distribution the token was predicted from. */
  entropy_bits: number | null;
}

export interface TokenScores {
  token_ids: number[];
  tokens: ScoredToken[];
  /** Mean −logprob (nats) over the predicted tokens (all but the first); null when there is only one token. */
  mean_nll: number | null;
  /** exp(mean_nll). */
  perplexity: number | null;
}

export interface ScoreOptions {
  /** Interventions on the pass (see intervene.ts): the scores are then the intervened model's. */
  interventions?: Partial<InterventionSettings>;
  /** Seed of the noise streams (default 0). */
  seed?: number;
}

/**
 * Teacher-forced scoring: one forward pass over the whole sequence, and for every token after the first
 * its natural-log probability given the ones before it, its rank and bucket, and the entropy of the
 * distribution it came from. Surprisal in bits is −logprob / ln 2. `input` is text (encoded as the
 * model's tokenizer does, BOS included when the model adds one) or token ids scored exactly as given.
 */
export function scoreTokens(model: Model, input: string | readonly number[], flag = typeof input === 'string' ? 'text' : 'ids', opts: ScoreOptions = {}): TokenScores {
  const tok = model.tokenizer, V = model.config.vocabSize;
  const ids = inputIds(model, input, flag);
  const hooks = prepareInterventions(model, ids, opts.interventions ?? {}, opts.seed ?? 0)?.hooks([0]);
  const logits = model.withScratch(() => model.forward(ids, model.newCache(ids.length), { allLogits: true, hooks })); // [pos, d_vocab]
  let nll = 0;
  const tokens = ids.map((id, p): ScoredToken => {
    const base = { position: p, token_id: id, token: tokenLabel(tok, id) };
    if (p === 0) return { ...base, logprob: null, rank: null, bucket: null, entropy_bits: null };
    const row = logits.subarray((p - 1) * V, p * V);
    const { logprobs, entropyBits } = logSoftmax(row);
    const rank = rankOf(row, id);
    nll -= logprobs[id]!;
    return { ...base, logprob: logprobs[id]!, rank, bucket: bucketOf(rank), entropy_bits: entropyBits };
  });
  const mean = ids.length > 1 ? nll / (ids.length - 1) : null;
  return { token_ids: ids, tokens, mean_nll: mean, perplexity: mean === null ? null : Math.exp(mean) };
}
