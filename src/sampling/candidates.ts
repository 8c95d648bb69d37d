import { rankKey, vectorMath, type RankKey, type VectorMath } from './vector-math.js';

/**
 * The tokens still in the running at one decoding step, with their current logits (f32, as the model
 * and Hugging Face keep them). Stages shrink or reshape it in place. The canonical order, wherever
 * order matters, is logit descending, ties by lower token id. Work is proportional to what a stage
 * needs: thresholds are one pass, and ranked stages sort only the prefix they look at (partial
 * selection), never the whole vocabulary unless they must. The arrays live in the kernels' memory, and
 * every pass over them runs in a WebAssembly kernel (or its bit-identical TypeScript twin; see
 * vector-math).
 */
export class Candidates {
  ids: Int32Array;
  logits: Float32Array;
  size: number;
  /** Entries [0, sortedPrefix) are the best ones in canonical order; everything after ranks below them. */
  sortedPrefix = 0;
  /** True while entries are in ascending token-id order (filtering keeps it; ranking breaks it). */
  idOrder = true;
  /** Scratch for exponentials, reused across calls. */
  private exps: Float32Array;

  /** `math` runs the O(vocabulary) passes (the WebAssembly kernels, or their TypeScript twin). */
  constructor(logits: ArrayLike<number>, readonly math: VectorMath = vectorMath) {
    const n = logits.length;
    this.ids = math.allocI32(n);
    this.logits = math.alloc(n);
    this.exps = math.alloc(n);
    this.size = n;
    this.reset(logits);
  }

  /** Starts over from a full vocabulary of logits (same length), reusing the buffers. */
  reset(logits: ArrayLike<number>): void {
    const n = logits.length;
    if (n !== this.ids.length) throw new Error(`Candidates.reset: ${n} logits for ${this.ids.length} slots`);
    if (logits instanceof Float32Array) this.logits.set(logits);
    else for (let i = 0; i < n; i++) this.logits[i] = logits[i]!;
    this.ids.set(identityIds(n));
    this.size = n;
    this.sortedPrefix = 0;
    this.idOrder = true;
  }

  /** True while entry i is token i (nothing removed or reordered yet). */
  get identity(): boolean {
    return this.idOrder && this.size === this.ids.length;
  }

  maxLogit(): number {
    return this.math.max(this.logits, this.size);
  }

  /** Divides every logit by t (temperature). */
  divideLogits(t: number): void {
    this.math.divide(this.logits, this.size, t);
  }

  /**
   * exp(logit − max) of every entry (a view valid until the next call) and their sum: the
   * unnormalized distribution, for stages that need probabilities.
   */
  expSum(): { exps: Float32Array; sum: number; max: number } {
    const max = this.maxLogit();
    const sum = this.math.expShift(this.logits, this.size, max, this.exps);
    return { exps: this.exps, sum, max };
  }

  /** Probabilities (softmax over what is left), in the current order. */
  probs(): Float64Array {
    const { exps, sum } = this.expSum();
    const p = new Float64Array(this.size);
    for (let i = 0; i < this.size; i++) p[i] = exps[i]! / sum;
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

  /** Keeps the entries whose mask byte is 1, preserving order (a filter without a callback). */
  keepMasked(mask: Uint8Array): void {
    const l = this.logits, ids = this.ids, n = this.size;
    let w = 0, sorted = 0;
    for (let i = 0; i < n; i++) {
      if (mask[i] !== 1) continue;
      if (i < this.sortedPrefix) sorted++;
      ids[w] = ids[i]!;
      l[w++] = l[i]!;
    }
    this.size = w;
    this.sortedPrefix = Math.min(sorted, w);
  }

  /** Removes −∞ entries (what logit-changing stages use to ban tokens). */
  dropBanned(): void {
    this.compact((from, to, w) => this.math.compactFinite(this.logits, this.ids, from, to, w));
  }

  /**
   * Keeps what `pass` keeps, in order: pass(from, to, w) moves the kept entries of [from, to) to start
   * at w and returns the new end. It runs over the sorted prefix, then the rest, so the kept entries
   * of the prefix stay a sorted prefix. When it keeps nothing it has moved nothing, so with
   * allowEmpty = false the candidates are left as they were and false is returned.
   */
  private compact(pass: (from: number, to: number, w: number) => number, allowEmpty = true): boolean {
    const sorted = pass(0, this.sortedPrefix, 0);
    const end = pass(this.sortedPrefix, this.size, sorted);
    if (end === 0 && !allowEmpty) return false;
    this.size = end;
    this.sortedPrefix = Math.min(sorted, end);
    return true;
  }

  /** The index of the best entry: the largest logit, the lowest id on ties. */
  best(): number {
    const l = this.logits, ids = this.ids;
    if (this.idOrder) return this.math.argmax(l, this.size);
    let best = 0;
    for (let i = 1; i < this.size; i++) if (l[i]! > l[best]! || (l[i] === l[best] && ids[i]! < ids[best]!)) best = i;
    return best;
  }

  truncate(n: number): void {
    this.size = Math.min(this.size, n);
    this.sortedPrefix = Math.min(this.sortedPrefix, this.size);
  }

  /**
   * Ensures the best m entries come first, in canonical order. Small m (the usual top-k / top-p
   * nucleus) keeps a heap of the best m in one pass over the rest; large m uses quickselect. Then
   * the prefix is sorted.
   */
  sortTop(m: number): void {
    m = Math.min(m, this.size);
    if (m <= this.sortedPrefix) return;
    this.idOrder = false;
    if (m - this.sortedPrefix <= 1024 && m < this.size) this.heapSelect(m);
    else if (m < this.size) this.quickSelect(m);
    const from = this.sortedPrefix, ids = this.ids, l = this.logits;
    const order = Array.from({ length: m - from }, (_, i) => i + from);
    order.sort((a, b) => l[b]! - l[a]! || ids[a]! - ids[b]!);
    const sid = order.map((i) => ids[i]!), slg = order.map((i) => l[i]!);
    for (let i = 0; i < order.length; i++) { ids[from + i] = sid[i]!; l[from + i] = slg[i]!; }
    this.sortedPrefix = m;
  }

  /**
   * Keeps only the best m entries, in canonical order (top-k). Cheaper than sortTop + truncate: the
   * entries that drop out are never moved.
   */
  keepTop(m: number): void {
    m = Math.min(m, this.size);
    if (m <= this.sortedPrefix || m - this.sortedPrefix > 1024 || m === this.size) {
      this.sortTop(m);
      this.truncate(m);
      return;
    }
    this.idOrder = false;
    const heap = this.selectHeap(m);
    const from = this.sortedPrefix, ids = this.ids, l = this.logits;
    const chosen = Array.from(heap).sort((a, b) => l[b]! - l[a]! || ids[a]! - ids[b]!);
    const cid = chosen.map((i) => ids[i]!), cl = chosen.map((i) => l[i]!);
    for (let j = 0; j < chosen.length; j++) { ids[from + j] = cid[j]!; l[from + j] = cl[j]!; }
    this.size = m;
    this.sortedPrefix = m;
  }

  /** Indices of the best (m − sortedPrefix) entries of [sortedPrefix, size), as a heap (valid until the next selection). */
  private selectHeap(m: number): Int32Array {
    return this.math.selectTop(this.logits, this.ids, this.sortedPrefix, this.size, m - this.sortedPrefix);
  }

  /** Moves the best (m − sortedPrefix) entries of [sortedPrefix, size) to the front of that range. */
  private heapSelect(m: number): void {
    const from = this.sortedPrefix, k = m - from, ids = this.ids, l = this.logits;
    const heap = this.selectHeap(m);
    // Rebuild [from, size): the selected entries first, then the others in their old order.
    const chosen = new Uint8Array(this.size - from);
    for (let j = 0; j < k; j++) chosen[heap[j]! - from] = 1;
    const restIds = new Int32Array(this.size - from - k), restL = new Float32Array(this.size - from - k);
    const selIds = new Int32Array(k), selL = new Float32Array(k);
    for (let i = from, r = 0, q = 0; i < this.size; i++) {
      if (chosen[i - from]) { selIds[q] = ids[i]!; selL[q++] = l[i]!; }
      else { restIds[r] = ids[i]!; restL[r++] = l[i]!; }
    }
    ids.set(selIds, from); l.set(selL, from);
    ids.set(restIds, from + k); l.set(restL, from + k);
  }

  /** Quickselect so that [sortedPrefix, m) holds the best entries (median-of-three pivots). */
  private quickSelect(m: number): void {
    const ids = this.ids, l = this.logits;
    const better = (a: number, b: number) => l[a]! > l[b]! || (l[a] === l[b] && ids[a]! < ids[b]!);
    const swap = (a: number, b: number) => {
      const ti = ids[a]!; ids[a] = ids[b]!; ids[b] = ti;
      const tl = l[a]!; l[a] = l[b]!; l[b] = tl;
    };
    let lo = this.sortedPrefix, hi = this.size - 1;
    while (hi > lo) {
      const mid = (lo + hi) >> 1;
      if (better(mid, lo)) swap(mid, lo);
      if (better(hi, lo)) swap(hi, lo);
      if (better(mid, hi)) swap(mid, hi);
      let store = lo;
      for (let i = lo; i < hi; i++) if (better(i, hi)) swap(i, store++);
      swap(store, hi);
      if (store === m - 1 || store === m) return;
      if (store < m) lo = store + 1;
      else hi = store - 1;
    }
  }

  /**
   * Keeps entries whose logit is at least `cut` (order preserved), or the best `min` when fewer pass:
   * the one-pass filter behind min-p, ε, η and top-nσ.
   */
  keepLogitsAtLeast(cut: number, min: number): void {
    const l = this.logits, ids = this.ids;
    this.keepIf(min, () => this.math.countAtLeast(l, this.size, cut), (from, to, w) => this.math.compactAtLeast(l, ids, from, to, w, cut));
  }

  /**
   * Keeps the entries that rank at or before (key, id) under the ranking key r — key below the bound,
   * or equal to it with id ≤ id (`ANY_ID` keeps every tie) — order preserved. When fewer than `min`
   * do, calls tooFew instead (default: keep the best `min` by logit), with nothing changed.
   */
  keepRanked(r: RankKey, key: number, id: number, min: number, tooFew = () => this.keepTop(min)): void {
    const l = this.logits, ids = this.ids;
    this.keepIf(min, () => this.math.countRanked(r, l, ids, this.size, key, id), (from, to, w) => this.math.compactRanked(r, l, ids, from, to, w, key, id), tooFew);
  }

  /** The ranking key r of entry i. */
  rankKey(r: RankKey, i: number): number {
    return rankKey(r, this.logits[i]!);
  }

  /**
   * Keeps what `pass` keeps (see compact), or calls tooFew when fewer than `min` entries pass. Counts
   * first only when min > 1: with min ≤ 1, only an empty result is too few, and compact reports it.
   */
  private keepIf(min: number, count: () => number, pass: (from: number, to: number, w: number) => number, tooFew = () => this.keepTop(min)): void {
    if (min > 1) {
      const kept = count();
      if (kept < min) return tooFew();
      if (kept === this.size) return;
    }
    if (!this.compact(pass, min < 1)) tooFew();
  }
}

const identities = new Map<number, Int32Array>();
/** 0, 1, …, n − 1, kept per length so resetting the ids is a memory copy. */
function identityIds(n: number): Int32Array {
  let ids = identities.get(n);
  if (!ids) {
    ids = Int32Array.from({ length: n }, (_, i) => i);
    identities.set(n, ids);
  }
  return ids;
}

/** Shannon entropy in bits of a probability vector. */
export function entropyBits(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) h -= p[i]! * Math.log2(p[i]!);
  return h;
}
