/**
 * Per-step scratch arrays the vocabulary-sized stages reuse instead of allocating (and zeroing) a few
 * hundred kilobytes at every step. Grow-only; contents are garbage on return — a caller writes every
 * entry it reads. Safe because a stage's apply() runs to completion before any other stage's starts.
 */
let keys = new Float64Array(0);
let mask = new Uint8Array(0);

/** A Float64Array of at least n entries (the stage's ranking keys). */
export function keyScratch(n: number): Float64Array {
  if (keys.length < n) keys = new Float64Array(n);
  return keys;
}

/** A Uint8Array of at least n entries (a keep mask for Candidates.keepMasked). */
export function maskScratch(n: number): Uint8Array {
  if (mask.length < n) mask = new Uint8Array(n);
  return mask;
}
