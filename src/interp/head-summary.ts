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
  if (pattern.length !== ids.length) throw new RangeError(`pattern has ${pattern.length} rows for ${ids.length} tokens`);
  const acc = new HeadScoreAccumulator(ids);
  for (let i = 0; i < ids.length; i++) acc.addRow(i, pattern[i]!);
  return acc.scores();
}

/**
 * The scores built up one query row at a time, in any order (the forward pass delivers a pattern in
 * 64-position chunks): a head's summary without ever holding its whole [pos, key_pos] matrix.
 */
export class HeadScoreAccumulator {
  private readonly previous = new Mean();
  private readonly first = new Mean();
  private readonly self = new Mean();
  private readonly induction = new Mean();
  private readonly diffuse = new Mean();

  constructor(private readonly ids: readonly number[]) {}

  /** Row i of the pattern: query position i's attention over keys 0…i (longer rows are read to i). */
  addRow(i: number, row: ArrayLike<number>): void {
    if (i === 0) return;
    const ids = this.ids;
    if (i >= 2) {
      this.previous.add(row[i - 1]!);
      this.first.add(row[0]!);
    }
    this.self.add(row[i]!);
    let h = 0;
    for (let k = 0; k <= i; k++) if (row[k]! > 0) h -= row[k]! * Math.log(row[k]!);
    this.diffuse.add(h / Math.log(i + 1));
    let mass = 0, any = false;
    for (let j = 0; j + 1 < i - 1; j++) {
      if (ids[j] === ids[i]) {
        mass += row[j + 1]!;
        any = true;
      }
    }
    if (any) this.induction.add(mass);
  }

  scores(): HeadScores {
    return { previous: this.previous.value, first: this.first.value, self: this.self.value, induction: this.induction.value, diffuse: this.diffuse.value };
  }
}

/** The head's kind and the score behind it (see the file comment). */
export function summarizeHead(pattern: PatternRows, ids: readonly number[]): HeadSummary {
  return summaryOf(headScores(pattern, ids));
}

/** The summary from a head's scores (see the file comment). */
export function summaryOf(s: HeadScores): HeadSummary {
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
