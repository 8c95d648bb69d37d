import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openModelSource } from '../../src/model/load.js';
import { HfTokenizer } from '../../src/tokenizer/hf.js';
import { splitOnSpecial } from '../../src/tokenizer/tokenizer.js';
import { DType } from '../../src/formats/tensor-types.js';
import { fixture, gpt2TokenizerJson, SMALL, spmTokenizerJson } from '../fixtures/models.js';
import { needsShared, sharedModel } from '../helpers.js';

const TRICKY = [
  'Hello world',
  '  two leading spaces',
  'trailing space ',
  'line one\nline two\n\n\tTabbed',
  'naïve café, Ærøskøbing — “quotes”',
  '日本語のテキスト',
  'emoji 🦙🚀 and a flag 🇫🇷',
  "it's 12345 o'clock",
];

const tokenizerOf = (path: string) => openModelSource(path).tokenizer;

describe('GGUF SentencePiece tokenizer (llama.cpp algorithm)', () => {
  test('stories260K encodes the README prompt as llama.cpp does', needsShared('stories260K.gguf'), () => {
    const tok = tokenizerOf(sharedModel('stories260K.gguf')!);
    assert.equal(tok.kind, 'gguf-spm');
    assert.equal(tok.addBos, true);
    assert.deepEqual(tok.encode('Once upon a time'), [1, 403, 407, 261, 378]);
    const reference = [432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394];
    assert.equal(tok.decode(reference), ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw');
    assert.deepEqual(tok.eosIds, [2]);
  });

  test('stories260K round-trips tricky text through byte fallback', needsShared('stories260K.gguf'), () => {
    const tok = tokenizerOf(sharedModel('stories260K.gguf')!);
    for (const text of TRICKY) {
      const ids = tok.encode(text);
      assert.equal(ids[0], 1, 'BOS first');
      // The SentencePiece space prefix comes back as a leading space.
      assert.equal(tok.decode(ids), ' ' + text, JSON.stringify(text));
    }
  });

  test('special tokens in the text become their ids, with a fresh space prefix after them', needsShared('stories260K.gguf'), () => {
    const tok = tokenizerOf(sharedModel('stories260K.gguf')!);
    const ids = tok.encode('Hi</s>there');
    assert.ok(ids.includes(2));
    assert.deepEqual(ids.slice(ids.indexOf(2) + 1), tok.encode('there').slice(1));
  });
});

describe('GGUF byte-level BPE tokenizer (via @huggingface/tokenizers)', () => {
  test('the real GPT-2 vocabulary encodes like GPT-2', needsShared('llamacpp-tiny-gpt2.gguf'), () => {
    const tok = tokenizerOf(sharedModel('llamacpp-tiny-gpt2.gguf')!);
    assert.equal(tok.kind, 'gguf-bpe');
    assert.equal(tok.addBos, false);
    assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
    assert.deepEqual(tok.encode('The quick brown fox'), [464, 2068, 7586, 21831]);
    assert.deepEqual(tok.encode('<|endoftext|>'), [50256]);
    assert.deepEqual(tok.eosIds, [50256]);
  });

  test('round-trips tricky text exactly', needsShared('llamacpp-tiny-gpt2.gguf'), () => {
    const tok = tokenizerOf(sharedModel('llamacpp-tiny-gpt2.gguf')!);
    for (const text of TRICKY) assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
    assert.deepEqual(tok.encode(' leading'), [3756]);
  });

  test('a token that is half a UTF-8 character shows as U+FFFD on its own', needsShared('llamacpp-tiny-gpt2.gguf'), () => {
    const tok = tokenizerOf(sharedModel('llamacpp-tiny-gpt2.gguf')!);
    const ids = tok.encode('🦙');
    assert.ok(ids.length > 1);
    assert.equal(tok.tokenText(ids[0]!), '\uFFFD');
    assert.equal(tok.decode(ids), '🦙');
  });
});

describe('Hugging Face tokenizer.json and GGUF vocabularies agree on the fixtures', () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    test(arch, () => {
      const gguf = tokenizerOf(fixture('gguf', SMALL[arch], DType.F32));
      const hf = tokenizerOf(fixture('hf', SMALL[arch]));
      assert.equal(hf.kind, 'hf');
      for (const text of ['The cat was sitting on the mat.', 'and then she was in the garden', ...TRICKY]) {
        assert.deepEqual(hf.encode(text), gguf.encode(text), JSON.stringify(text));
        assert.equal(hf.decode(hf.encode(text)), text);
      }
      assert.equal(hf.addBos, arch === 'llama');
    });
  }

  test('HfTokenizer reports BOS handling from the post-processor', () => {
    const spm = new HfTokenizer(spmTokenizerJson(), {}, { bosId: 1, eosIds: [2] });
    assert.equal(spm.addBos, true);
    const bpe = new HfTokenizer(gpt2TokenizerJson(), {}, { bosId: undefined, eosIds: [] });
    assert.equal(bpe.addBos, false);
  });
});

test('splitOnSpecial prefers the longest special token', () => {
  const specials = new Map([['<a>', 1], ['<ab>', 2]]);
  assert.deepEqual(splitOnSpecial('x<ab>y<a>', specials), ['x', 2, 'y', 1]);
  assert.deepEqual(splitOnSpecial('', specials), []);
});
