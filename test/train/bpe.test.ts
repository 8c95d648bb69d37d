import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BYTE_TO_CHAR, trainBpe } from '../../src/train/bpe.js';
import { HfTokenizer } from '../../src/tokenizer/hf.js';
import { userError } from '../helpers.js';

const SENNRICH = 'low low low low low lower lower newest newest newest newest newest newest widest widest widest';
const PROSE = `In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God said, Let there be light: and there was light. And God saw the light, that it was good: and God divided the light from the darkness. 1:5 And God called the light Day, and the darkness he called Night — naïve café, 3.14 tabs\there\n\nnew  lines `;

/** Encodes by applying the merges in rank order to each pre-tokenized word: the reference for what BPE means. */
function referenceEncode(text: string, merges: string[]): string[] {
  const rank = new Map(merges.map((m, i) => [m, i]));
  const out: string[] = [];
  for (const m of text.matchAll(/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu)) {
    let syms = Array.from(new TextEncoder().encode(m[0]), (b) => BYTE_TO_CHAR[b]!);
    for (;;) {
      let best = -1;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = rank.get(`${syms[i]} ${syms[i + 1]}`);
        if (r !== undefined && (best < 0 || r < best)) best = r;
      }
      if (best < 0) break;
      const [a, b] = merges[best]!.split(' ');
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) { next.push(a! + b!); i++; } else next.push(syms[i]!);
      }
      syms = next;
    }
    out.push(...syms);
  }
  return out;
}

describe('byte-level BPE training', () => {
  it('merges the most frequent pair first, ties to the lower ids', () => {
    const t = trainBpe([SENNRICH], 262, { minFrequency: 1 });
    // "es" and "st" both occur 9 times (newest ×6, widest ×3): "e s" has the lower ids; then "es t".
    assert.deepEqual(t.merges.slice(0, 2), ['e s', 'es t']);
    assert.equal(t.tokens.length, 262);
    assert.equal(t.tokens[256], 'es');
    assert.equal(t.eosId, 261);
    assert.equal(t.tokens[261], '<|endoftext|>');
    assert.deepEqual(t.types.slice(-2), [1, 3]);
  });

  it('is deterministic and stops when pairs become rare', () => {
    const a = trainBpe([PROSE], 400), b = trainBpe([PROSE], 400);
    assert.deepEqual(a.merges, b.merges);
    assert.ok(a.tokens.length < 400, 'minFrequency 2 ends the merges before 400 tokens on a short text');
  });

  it('what it trains encodes identically in @huggingface/tokenizers, and round-trips', () => {
    const t = trainBpe([PROSE, SENNRICH], 340);
    const tok = new HfTokenizer(t.json, {}, { bosId: undefined, eosIds: [t.eosId] });
    assert.equal(tok.vocabSize, t.tokens.length);
    for (const text of [PROSE, SENNRICH, 'unseen words: zebra quixotic 42!', 'emoji 🙂 and <|endoftext|> inside']) {
      const ids = tok.encode(text);
      const parts = text.split('<|endoftext|>');
      const expected = parts.flatMap((p, i) => [...(i > 0 ? ['<|endoftext|>'] : []), ...referenceEncode(p, t.merges)]);
      assert.deepEqual(ids.map((id) => t.tokens[id]), expected, text);
      assert.equal(tok.decode(ids), text.replace('<|endoftext|>', ''));
    }
    assert.deepEqual(tok.encode('<|endoftext|>'), [t.eosId]);
  });

  it('refuses a vocabulary too small for the bytes', () => {
    assert.throws(() => trainBpe([PROSE], 200), userError('--vocab must be an integer from 257 to 65536, got 200', 'vocab'));
  });
});
