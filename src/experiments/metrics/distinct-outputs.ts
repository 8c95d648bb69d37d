/** How many different outputs a cell produced: exactly, and after folding case and whitespace. */
export interface DistinctOutputs {
  distinct: number;
  distinct_share: number;
  distinct_normalized: number;
  distinct_normalized_share: number;
}

/** Lower case, whitespace runs as one space, trimmed: "Hello  World\n" and "hello world" are one output. */
export function normalizeOutput(text: string): string {
  return text.toLowerCase().replace(/\s+/gu, ' ').trim();
}

export function distinctOutputs(texts: readonly string[]): DistinctOutputs {
  const n = texts.length;
  const exact = new Set(texts).size;
  const normalized = new Set(texts.map(normalizeOutput)).size;
  return {
    distinct: exact, distinct_share: n ? exact / n : 0,
    distinct_normalized: normalized, distinct_normalized_share: n ? normalized / n : 0,
  };
}
