/**
 * What an attention head mostly does, from its pattern on one prompt. Pure functions over a causal
 * pattern A [pos, key_pos] (row i: query position i's probabilities over keys 0…i) and the prompt's
 * token ids [pos].
 *
 * Row 0 never counts: its only key is position 0, which is at once itself, the first token and BOS.
 * Every score below is a mean of per-row attention mass over the rows where that key exists and is
 * distinct from the others:
 *
 *   previous   A[i][i−1], rows i ≥ 2 (at i = 1 the previous token is the first one)
 *   first      A[i][0],   rows i ≥ 2 (the same rows, so the two never share evidence)
 *   self       A[i][i],   rows i ≥ 1
 *   induction  Σ_{k ∈ K(i)} A[i][k], rows i with K(i) non-empty, where K(i) = { j + 1 : ids[j] = ids[i],
 *              j + 1 < i − 1 } are the positions right after an earlier occurrence of the current token,
 *              leaving out i − 1 and i so that previous-token and self attention never pass for it
 *   diffuse    H(A[i]) / ln(i + 1), rows i ≥ 1: row entropy as a fraction of uniform attention's (0…1)
 *
 * The summary is the kind among previous, first, self and induction with the highest score at or above
 * its threshold (all 0.4: on average at least 40% of a row's attention on that one key or key set;
 * ties go to the earlier kind in that order); when none reaches it, `diffuse` with the entropy score —
 * no single positional role dominates (a low diffuse score then means sharp attention that follows
 * content rather than position).
 */
export type HeadKind = 'previous' | 'first' | 'self' | 'induction' | 'diffuse';

export interface HeadSummary {
  kind: HeadKind;
  score: number;
}

/** Each score, or null where the prompt has no row for it (too short; no repeated token). */
export interface HeadScores {
  previous: number | null;
  first: number | null;
  self: number | null;
  induction: number | null;
  diffuse: number | null;
}

export const HEAD_THRESHOLDS = { previous: 0.4, first: 0.4, self: 0.4, induction: 0.4 } as const;

/** A [pos, key_pos], row-major or as rows. */
export type PatternRows = ArrayLike<ArrayLike<number>>;

export function headScores(pattern: PatternRows, ids: readonly number[]): HeadScores {
  const T = ids.length;
  if (pattern.length !== T) throw new RangeError(`pattern has ${pattern.length} rows for ${T} tokens`);
  const previous = new Mean(), first = new Mean(), self = new Mean(), induction = new Mean(), diffuse = new Mean();
  for (let i = 1; i < T; i++) {
    const row = pattern[i]!;
    if (i >= 2) {
      previous.add(row[i - 1]!);
      first.add(row[0]!);
    }
    self.add(row[i]!);
    let h = 0;
    for (let k = 0; k <= i; k++) if (row[k]! > 0) h -= row[k]! * Math.log(row[k]!);
    diffuse.add(h / Math.log(i + 1));
    let mass = 0, any = false;
    for (let j = 0; j + 1 < i - 1; j++) {
      if (ids[j] === ids[i]) {
        mass += row[j + 1]!;
        any = true;
      }
    }
    if (any) induction.add(mass);
  }
  return { previous: previous.value, first: first.value, self: self.value, induction: induction.value, diffuse: diffuse.value };
}

/** The head's kind and the score behind it (see the file comment). */
export function summarizeHead(pattern: PatternRows, ids: readonly number[]): HeadSummary {
  const s = headScores(pattern, ids);
  let best: HeadSummary | undefined;
  for (const kind of ['previous', 'first', 'self', 'induction'] as const) {
    const score = s[kind];
    if (score !== null && score >= HEAD_THRESHOLDS[kind] && (!best || score > best.score)) best = { kind, score };
  }
  return best ?? { kind: 'diffuse', score: s.diffuse ?? 0 };
}

class Mean {
  private sum = 0;
  private n = 0;
  add(x: number): void {
    this.sum += x;
    this.n++;
  }
  get value(): number | null {
    return this.n ? this.sum / this.n : null;
  }
}
