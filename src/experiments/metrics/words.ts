/**
 * Text → word tokens for the text-level metrics (distinct-n, self-BLEU, edit distance, repetition):
 * runs of letters (with inner apostrophes and hyphens), runs of digits, and each other visible
 * character alone. Words rather than model tokens, so models with different tokenizers compare fairly.
 */
export function words(text: string): string[] {
  return text.match(/\p{L}[\p{L}\p{M}'’-]*|\p{N}+|[^\s\p{L}\p{N}]/gu) ?? [];
}

/** n-grams of a token list, each joined into one string key. */
export function ngrams(tokens: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join('\u0000'));
  return out;
}

export function counts<T>(items: readonly T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}
