export interface TokenLogprob {
  token_id: number;
  token: string;
  logprob: number;
}

export interface StepLogprobs extends TokenLogprob {
  top_logprobs: TokenLogprob[];
}

/**
 * Natural-log probabilities from the model's unmodified distribution (temperature 1, no filtering):
 * the chosen token's, and the n most likely tokens ordered by logprob descending, ties by lower id.
 */
export function stepLogprobs(logits: Float32Array, chosen: number, n: number, tokenText: (id: number) => string): StepLogprobs {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(sum);
  const lp = (id: number) => logits[id]! - logZ;

  // Keep the n best in a small sorted list: one pass over the vocabulary.
  const top: number[] = [];
  const better = (a: number, b: number) => logits[a]! > logits[b]! || (logits[a]! === logits[b]! && a < b);
  for (let id = 0; id < logits.length && n > 0; id++) {
    if (top.length === n && !better(id, top[n - 1]!)) continue;
    let i = top.length === n ? n - 1 : top.length;
    top[i] = id;
    for (; i > 0 && better(top[i]!, top[i - 1]!); i--) [top[i], top[i - 1]] = [top[i - 1]!, top[i]!];
  }
  const entry = (id: number): TokenLogprob => ({ token_id: id, token: tokenText(id), logprob: lp(id) });
  return { ...entry(chosen), top_logprobs: top.map(entry) };
}
