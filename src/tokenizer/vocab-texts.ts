import type { Tokenizer } from './tokenizer.js';

const cache = new WeakMap<Tokenizer, string[]>();

/** Every token's own text, by id (computed once per tokenizer: it decodes the whole vocabulary). */
export function vocabTexts(tok: Tokenizer, vocabSize: number): string[] {
  let texts = cache.get(tok);
  if (!texts || texts.length !== vocabSize) {
    texts = Array.from({ length: vocabSize }, (_, id) => (id < tok.vocabSize ? tok.tokenText(id) : ''));
    cache.set(tok, texts);
  }
  return texts;
}
