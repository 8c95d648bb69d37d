/**
 * The tokens still in the running at one decoding step, with their current logits. Stages shrink or
 * reshape it in place. The canonical order, wherever order matters, is logit descending, ties by lower
 * token id. Work is proportional to what a stage needs: thresholds are one pass, and ranked stages sort
 * only the prefix they look at (partial selection), never the whole vocabulary unless they must.
 */
export class Candidates {
  ids: Int32Array;
  logits: Float64Array;
  size: number;
  /** Entries [0, sortedPrefix) are the best ones in canonical order; everything after ranks below them. */
  sortedPrefix = 0;

  constructor(logits: ArrayLike<number>) {
    const n = logits.length;
    this.ids = new Int32Array(n);
    this.logits = new Float64Array(n);
    for (let i = 0; i < n; i++) { this.ids[i] = i; this.logits[i] = logits[i]!; }
    this.size = n;
  }

  maxLogit(): number {
    let m = -Infinity;
    for (let i = 0; i < this.size; i++) if (this.logits[i]! > m) m = this.logits[i]!;
    return m;
  }

  /** Probabilities (softmax over what is left), in the current order. */
  probs(): Float64Array {
    const max = this.maxLogit();
    const p = new Float64Array(this.size);
    let sum = 0;
    for (let i = 0; i < this.size; i++) { p[i] = Math.exp(this.logits[i]! - max); sum += p[i]!; }
    for (let i = 0; i < this.size; i++) p[i]! /= sum;
    return p;
  }

  /** Keeps the entries for which keep(i) is true, preserving order. */
  filter(keep: (i: number) => boolean): void {
    let w = 0;
    const sortedBefore = this.sortedPrefix;
    let sortedAfter = 0; // kept entries of the sorted prefix stay a sorted prefix
    for (let i = 0; i < this.size; i++) {
      if (!keep(i)) continue;
      if (i < sortedBefore) sortedAfter++;
      this.ids[w] = this.ids[i]!;
      this.logits[w] = this.logits[i]!;
      w++;
    }
    this.size = w;
    this.sortedPrefix = Math.min(sortedAfter, w);
  }

  /** Removes −∞ entries (what logit-changing stages use to ban tokens). */
  dropBanned(): void {
    let any = false;
    for (let i = 0; i < this.size && !any; i++) any = this.logits[i] === -Infinity;
    if (any) this.filter((i) => this.logits[i] !== -Infinity);
  }

  truncate(n: number): void {
    this.size = Math.min(this.size, n);
    this.sortedPrefix = Math.min(this.sortedPrefix, this.size);
  }

  /** Ensures the best m entries come first, in canonical order (quickselect, then sort that prefix). */
  sortTop(m: number): void {
    m = Math.min(m, this.size);
    if (m <= this.sortedPrefix) return;
    const ids = this.ids, l = this.logits;
    const better = (a: number, b: number) => l[a]! > l[b]! || (l[a] === l[b] && ids[a]! < ids[b]!);
    const swap = (a: number, b: number) => {
      const ti = ids[a]!; ids[a] = ids[b]!; ids[b] = ti;
      const tl = l[a]!; l[a] = l[b]!; l[b] = tl;
    };
    // Quickselect so that [0, m) holds the m best (median-of-three pivots keep it linear in practice).
    let lo = this.sortedPrefix, hi = this.size - 1;
    while (hi > lo && m < this.size) {
      const mid = (lo + hi) >> 1;
      if (better(mid, lo)) swap(mid, lo);
      if (better(hi, lo)) swap(hi, lo);
      if (better(mid, hi)) swap(mid, hi);
      // Pivot (median) now at hi.
      let store = lo;
      for (let i = lo; i < hi; i++) if (better(i, hi)) swap(i, store++);
      swap(store, hi);
      if (store === m - 1 || store === m) break;
      if (store < m) lo = store + 1;
      else hi = store - 1;
    }
    // Sort the prefix (a few hundred entries at most, in the common case).
    const order = Array.from({ length: m - this.sortedPrefix }, (_, i) => i + this.sortedPrefix);
    order.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
    const sid = order.map((i) => ids[i]!), slg = order.map((i) => l[i]!);
    for (let i = 0; i < order.length; i++) { ids[this.sortedPrefix + i] = sid[i]!; l[this.sortedPrefix + i] = slg[i]!; }
    this.sortedPrefix = m;
  }

  /** Keeps at least `min` entries: the best ones (used by stages honouring min_tokens_to_keep). */
  keepAtLeast(min: number, keep: (i: number) => boolean): void {
    let count = 0;
    for (let i = 0; i < this.size; i++) if (keep(i)) count++;
    if (count >= min) {
      this.filter(keep);
      return;
    }
    this.sortTop(min);
    this.truncate(min);
  }
}

/** Shannon entropy in bits of a probability vector. */
export function entropyBits(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) h -= p[i]! * Math.log2(p[i]!);
  return h;
}
