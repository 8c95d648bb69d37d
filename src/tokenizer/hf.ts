import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import type { Tokenizer } from './tokenizer.js';

export interface HfTokenizerOptions {
  kind?: string;
  bosId?: number;
  eosIds: number[];
  /** Prepend BOS ourselves (GGUF vocabularies); HF tokenizer.json files do it in their post-processor. */
  prependBos?: boolean;
}

/**
 * A tokenizer.json tokenizer run by @huggingface/tokenizers. Decoding never "cleans up" spaces, so a
 * generation's text is exactly what its tokens spell.
 */
export class HfTokenizer implements Tokenizer {
  readonly kind: string;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosIds: readonly number[];
  readonly addBos: boolean;
  private readonly impl: HfTokenizerImpl;
  private readonly prependBos: boolean;

  constructor(tokenizerJson: object, tokenizerConfig: object, opts: HfTokenizerOptions) {
    this.impl = new HfTokenizerImpl(tokenizerJson, { ...tokenizerConfig, clean_up_tokenization_spaces: false });
    this.kind = opts.kind ?? 'hf';
    const vocab = this.impl.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosId = opts.bosId;
    this.eosIds = opts.eosIds;
    this.prependBos = !!opts.prependBos && opts.bosId !== undefined;
    this.addBos = this.prependBos || (opts.bosId !== undefined && this.impl.encode('a').ids[0] === opts.bosId);
  }

  encode(text: string): number[] {
    const ids = this.impl.encode(text).ids;
    return this.prependBos ? [this.bosId!, ...ids] : ids;
  }

  decode(ids: readonly number[]): string {
    return this.impl.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  tokenText(id: number): string {
    return this.decode([id]);
  }
}
