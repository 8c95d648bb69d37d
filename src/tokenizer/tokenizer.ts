/**
 * One interface over every tokenizer Wander reads: Hugging Face tokenizer.json, and the vocabularies
 * embedded in GGUF files (byte-level BPE and SentencePiece).
 */
export interface Tokenizer {
  /** Which implementation, for reports: "hf", "gguf-bpe" or "gguf-spm". */
  readonly kind: string;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  /** Token ids that end generation (EOS, end-of-turn). */
  readonly eosIds: readonly number[];
  /** Whether encode() puts BOS first, as the model's files ask. */
  readonly addBos: boolean;
  /** Text → token ids, with BOS when addBos; special-token text such as "<|endoftext|>" becomes that token. */
  encode(text: string): number[];
  /** Token ids → text: the exact concatenation of the tokens' bytes; control tokens (BOS, EOS) render as nothing. */
  decode(ids: readonly number[]): string;
  /** One token's own text, for traces (a partial UTF-8 sequence shows as U+FFFD). */
  tokenText(id: number): string;
}

/** Splits text on occurrences of special-token strings (longest match first), keeping them as tokens. */
export function splitOnSpecial(text: string, specials: Map<string, number>): (string | number)[] {
  if (specials.size === 0 || text.length === 0) return text ? [text] : [];
  const keys = [...specials.keys()].filter((k) => k.length > 0).sort((a, b) => b.length - a.length);
  const out: (string | number)[] = [];
  let plain = '';
  let i = 0;
  outer: while (i < text.length) {
    for (const k of keys) {
      if (text.startsWith(k, i)) {
        if (plain) out.push(plain);
        plain = '';
        out.push(specials.get(k)!);
        i += k.length;
        continue outer;
      }
    }
    plain += text[i];
    i++;
  }
  if (plain) out.push(plain);
  return out;
}
