import { UserError } from '../errors.js';
import type { GgufMeta } from '../formats/gguf.js';
import { ggufBpeTokenizer } from './gguf-bpe.js';
import { SpmTokenizer } from './spm.js';
import type { Tokenizer } from './tokenizer.js';

/** End-of-turn tokens llama.cpp's vocabulary loader recognises by text when the file names none. */
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<EOT>'];

/** The tokenizer embedded in a GGUF file's metadata, with BOS/EOS handling as its keys ask. */
export function tokenizerFromGguf(meta: GgufMeta): Tokenizer {
  const file = meta.label();
  const model = meta.str('tokenizer.ggml.model');
  const tokens = meta.strArray('tokenizer.ggml.tokens');
  if (!model || !tokens) throw new UserError(`${file}: no embedded tokenizer (tokenizer.ggml.model / tokenizer.ggml.tokens missing)`, 'model');
  const types = meta.numArray('tokenizer.ggml.token_type') ?? [];
  const id = (key: string) => {
    const v = meta.num(key);
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < 0 || v >= tokens.length) throw new UserError(`${file}: ${key} = ${v} is outside the vocabulary (0..${tokens.length - 1})`, 'model');
    return v;
  };
  const bosId = id('tokenizer.ggml.bos_token_id');
  // Without an eot_token_id key, llama.cpp recognises end-of-turn tokens by their text (Gemma's <end_of_turn>, …).
  const eot = id('tokenizer.ggml.eot_token_id') ?? EOT_TEXTS.map((t) => tokens.indexOf(t)).find((i) => i >= 0);
  const eosIds = [...new Set([id('tokenizer.ggml.eos_token_id'), eot, id('tokenizer.ggml.eom_token_id')])]
    .filter((x): x is number => x !== undefined);

  if (model === 'llama') {
    const scores = meta.numArray('tokenizer.ggml.scores') ?? [];
    return new SpmTokenizer({
      tokens, scores, types, bosId, eosIds,
      unkId: id('tokenizer.ggml.unknown_token_id'),
      // llama.cpp's defaults for SentencePiece vocabularies: BOS yes, space prefix yes.
      addBos: meta.bool('tokenizer.ggml.add_bos_token') ?? true,
      addSpacePrefix: meta.bool('tokenizer.ggml.add_space_prefix') ?? true,
    });
  }
  if (model === 'gpt2') {
    const merges = meta.strArray('tokenizer.ggml.merges');
    if (!merges) throw new UserError(`${file}: BPE tokenizer has no tokenizer.ggml.merges`, 'model');
    return ggufBpeTokenizer({
      tokens, merges, types, bosId, eosIds,
      pre: meta.str('tokenizer.ggml.pre') ?? 'default',
      addBos: meta.bool('tokenizer.ggml.add_bos_token') ?? false,
    }, file);
  }
  throw new UserError(`${file}: unsupported tokenizer.ggml.model "${model}" (supported: llama, gpt2)`, 'model');
}
