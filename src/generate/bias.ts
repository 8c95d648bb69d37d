import { UserError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { vocabTexts } from '../tokenizer/vocab-texts.js';
import type { Settings } from './settings.js';

type BiasEntry = Settings['logit_bias'][number];

/**
 * Parses one --bias flag: TOKEN=VALUE, where TOKEN is text (every token that spells it gets the bias)
 * or #<id>, and VALUE a signed number or -inf (a ban). The last "=" splits, so "==+2" biases "=".
 */
export function parseBiasFlag(flag: string): BiasEntry {
  const at = flag.lastIndexOf('=');
  const bad = () => new UserError(`--bias expects TOKEN=VALUE (TOKEN: text, or #<id> for a token id; VALUE: a number or -inf), got ${JSON.stringify(flag)}`, 'logit_bias');
  if (at <= 0) throw bad();
  const token = flag.slice(0, at), value = flag.slice(at + 1).trim();
  let bias: number | '-inf';
  if (value === '-inf') bias = '-inf';
  else if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value)) bias = Number(value);
  else throw bad();
  if (/^#\d+$/.test(token)) return { token_id: Number(token.slice(1)), bias };
  return { text: token, bias };
}

/**
 * Turns bias entries into a token id → bias map. A text entry applies to every token that spells it,
 * alone or after a leading space (so "," covers "," and " ,"); a text no token spells is an error.
 */
export function resolveLogitBias(entries: readonly BiasEntry[], tok: Tokenizer, vocabSize: number): Map<number, number> {
  const out = new Map<number, number>();
  const add = (id: number, b: number) => out.set(id, (out.get(id) ?? 0) + b);
  for (const e of entries) {
    const b = e.bias === '-inf' ? -Infinity : e.bias;
    if (e.token_id !== undefined) {
      if (e.token_id >= vocabSize) throw new UserError(`--bias #${e.token_id}: token id outside the vocabulary (0..${vocabSize - 1})`, 'logit_bias');
      add(e.token_id, b);
      continue;
    }
    const text = e.text!;
    const texts = vocabTexts(tok, vocabSize);
    const ids = texts.flatMap((t, id) => (t === text || t === ' ' + text ? [id] : []));
    if (ids.length === 0) {
      const pieces = tok.encode(text).filter((id) => id !== tok.bosId).map((id) => JSON.stringify(texts[id] ?? ''));
      throw new UserError(`--bias ${JSON.stringify(text)}: no single token spells it${pieces.length ? ` (it tokenizes as ${pieces.join(' + ')})` : ' (it tokenizes to nothing)'}; bias one of those, or a token by #<id>`, 'logit_bias');
    }
    for (const id of ids) add(id, b);
  }
  return out;
}
