/**
 * Model-side statistics of the generated tokens, pooled over every token of every sample of a cell:
 * the mean entropy (bits) of the model's distributions at those tokens, the mean entropy of the
 * distributions the sampler actually drew from (after temperature and truncation), the tokens' mean
 * natural-log probability under the model (temperature 1, nothing truncated), and the perplexity
 * exp(−mean logprob).
 */
export interface TokenStatsSummary {
  mean_entropy_bits: number | null;
  mean_sampled_entropy_bits: number | null;
  mean_logprob: number | null;
  perplexity: number | null;
}

export function tokenStatsSummary(entropies: readonly (readonly number[])[], logprobs: readonly (readonly number[])[], sampledEntropies: readonly (readonly number[])[] = []): TokenStatsSummary {
  const mean = (lists: readonly (readonly number[])[]) => {
    let sum = 0, n = 0;
    for (const l of lists) for (const x of l) { sum += x; n++; }
    return n ? sum / n : null;
  };
  const lp = mean(logprobs);
  return { mean_entropy_bits: mean(entropies), mean_sampled_entropy_bits: mean(sampledEntropies), mean_logprob: lp, perplexity: lp === null ? null : Math.exp(-lp) };
}

/** Mean entropy at each generated position, over the samples long enough to have one: the cell's entropy curve. */
export function entropyByPosition(entropies: readonly (readonly number[])[]): number[] {
  const sum: number[] = [], n: number[] = [];
  for (const l of entropies) {
    l.forEach((x, i) => { sum[i] = (sum[i] ?? 0) + x; n[i] = (n[i] ?? 0) + 1; });
  }
  return sum.map((s, i) => s / n[i]!);
}
