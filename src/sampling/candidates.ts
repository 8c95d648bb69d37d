/**
 * The tokens still in the running at one decoding step, with their (possibly rescaled) logits.
 * Samplers shrink it; `sorted` records whether entries are in descending logit order, ties by lower id.
 */
export interface Candidates {
  ids: Int32Array;
  logits: Float64Array;
  size: number;
  sorted: boolean;
}

export function allCandidates(logits: Float32Array): Candidates {
  const n = logits.length;
  const ids = new Int32Array(n);
  const l = new Float64Array(n);
  for (let i = 0; i < n; i++) { ids[i] = i; l[i] = logits[i]!; }
  return { ids, logits: l, size: n, sorted: false };
}

/** Sorts candidates by logit, descending, ties by lower token id: the one order every stage agrees on. */
export function sortCandidates(c: Candidates): void {
  if (c.sorted) return;
  const order = Array.from({ length: c.size }, (_, i) => i);
  order.sort((a, b) => c.logits[b]! - c.logits[a]! || c.ids[a]! - c.ids[b]!);
  const ids = new Int32Array(c.size), logits = new Float64Array(c.size);
  order.forEach((from, to) => { ids[to] = c.ids[from]!; logits[to] = c.logits[from]!; });
  c.ids = ids;
  c.logits = logits;
  c.sorted = true;
}

/** Probabilities of the candidates (softmax over what is left), in their current order. */
export function candidateProbs(c: Candidates): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < c.size; i++) max = Math.max(max, c.logits[i]!);
  const p = new Float64Array(c.size);
  let sum = 0;
  for (let i = 0; i < c.size; i++) { p[i] = Math.exp(c.logits[i]! - max); sum += p[i]!; }
  for (let i = 0; i < c.size; i++) p[i]! /= sum;
  return p;
}
