/**
 * Partial selection: reorders `order` (indices into `key`) so that its first m entries are the m
 * smallest keys, sorted (ties by `tie`, ascending). Quickselect then a sort of the prefix: linear in
 * the number of candidates plus m log m, instead of a full sort.
 */
export function selectSmallest(order: Int32Array, key: ArrayLike<number>, tie: ArrayLike<number>, m: number, from = 0): void {
  m = Math.min(m, order.length);
  const less = (a: number, b: number) => key[a]! < key[b]! || (key[a] === key[b] && tie[a]! < tie[b]!);
  const swap = (i: number, j: number) => { const t = order[i]!; order[i] = order[j]!; order[j] = t; };
  let lo = from, hi = order.length - 1;
  while (hi > lo && m < order.length) {
    const mid = (lo + hi) >> 1;
    if (less(order[mid]!, order[lo]!)) swap(mid, lo);
    if (less(order[hi]!, order[lo]!)) swap(hi, lo);
    if (less(order[mid]!, order[hi]!)) swap(mid, hi);
    let store = lo;
    for (let i = lo; i < hi; i++) if (less(order[i]!, order[hi]!)) swap(i, store++);
    swap(store, hi);
    if (store === m - 1 || store === m) break;
    if (store < m) lo = store + 1;
    else hi = store - 1;
  }
  const prefix = Array.from(order.subarray(from, m)).sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
  order.set(prefix, from);
}
