import { UserError } from '../errors.js';
import { HfTokenizer } from './hf.js';

// The pre-tokenizer split patterns llama.cpp uses for each `tokenizer.ggml.pre` value, as
// tokenizer.json pre-tokenizers. GPT-2's own pattern is ByteLevel's built-in one.
const LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const split = (pattern: string) => ({ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false });

const PRE_TOKENIZERS: Record<string, object> = {
  default: byteLevel(true),
  gpt2: byteLevel(true),
  'gpt-2': byteLevel(true),
  llama3: { type: 'Sequence', pretokenizers: [split(LLAMA3_PATTERN), byteLevel(false)] },
  'llama-bpe': { type: 'Sequence', pretokenizers: [split(LLAMA3_PATTERN), byteLevel(false)] },
  qwen2: { type: 'Sequence', pretokenizers: [split(QWEN2_PATTERN), byteLevel(false)] },
  smollm: { type: 'Sequence', pretokenizers: [split('\\p{N}'), byteLevel(true)] },
};
export const SUPPORTED_BPE_PRE = Object.keys(PRE_TOKENIZERS);

export interface BpeVocab {
  tokens: string[];
  merges: string[];
  types: number[];
  pre: string;
  bosId: number | undefined;
  eosIds: number[];
  addBos: boolean;
}

/**
 * The byte-level BPE vocabulary in GGUF files (tokenizer.ggml.model = "gpt2"), run through
 * @huggingface/tokenizers by rebuilding the tokenizer.json it was converted from.
 */
export function ggufBpeTokenizer(v: BpeVocab, file: string): HfTokenizer {
  if (!PRE_TOKENIZERS[v.pre]) throw new UserError(`${file}: unsupported BPE pre-tokenizer "${v.pre}" (supported: ${SUPPORTED_BPE_PRE.join(', ')})`, 'model');
  return new HfTokenizer(bpeTokenizerJson(v.tokens, v.merges, v.types, v.pre), {}, { kind: 'gguf-bpe', bosId: v.bosId, eosIds: v.eosIds, prependBos: v.addBos });
}

/**
 * The tokenizer.json of a byte-level BPE vocabulary: tokens (byte-level unicode strings, by id),
 * merges ("a b", by rank), token types (3 = control, 4 = user-defined: added tokens), pre-tokenizer.
 */
export function bpeTokenizerJson(tokens: string[], merges: string[], types: number[], pre = 'gpt2'): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => { if (!(t in vocab)) vocab[t] = id; });
  const addedTokens = tokens.flatMap((t, id) =>
    types[id] === 3 || types[id] === 4
      ? [{ id, content: t, special: types[id] === 3, single_word: false, lstrip: false, rstrip: false, normalized: false }]
      : []);
  return {
    version: '1.0',
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: PRE_TOKENIZERS[pre],
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
}
