import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { generate } from '../../src/generate/generate.js';
import { checkFits, loadModel, type Model } from '../../src/model/load.js';
import { openGguf } from '../../src/model/from-gguf.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { maxAbsDiff, softmax, userError } from '../helpers.js';

describe('memory: what does not fit WebAssembly\'s 4 GiB is refused early, with the numbers', () => {
  test('a model whose weights and working memory pass 4 GiB stops before loading, naming both and the way out', () => {
    const path = fixture('gguf', SMALL.gemma3, DType.F32);
    const src = openGguf(path);
    try {
      // The same file, its token embedding claimed to be 4 GiB (the check reads only sizes).
      const embd = src.tensors.get('token_embd.weight')!;
      src.tensors.set('token_embd.weight', { ...embd, byteLength: 2 ** 32 });
      const name = path.split('/').pop();
      assert.throws(() => checkFits(src), (e: Error) => {
        assert.match(e.message, new RegExp(`^${name}: needs 4\\.\\d\\d GiB before any KV cache \\(weights 4\\.\\d\\d GiB, working memory 0\\.\\d\\d GiB\\), more than WebAssembly's 4 GiB address space; use a smaller quantization \\(e\\.g\\. Q4_K_M or Q8_0\\), or run it through llama\\.cpp: --model llama\\.cpp:${path.replace(/[.]/g, '\\.')}$`));
        return true;
      });
      src.tensors.set('token_embd.weight', embd);
      checkFits(src);
    } finally {
      src.close();
    }
  });

  test('a KV cache too long for what is left is refused with its size per position and what to change', () => {
    const m = loadModel(fixture('gguf', { ...SMALL.llama, ctx: 1 << 24 }, DType.F32));
    try {
      // 2 layers × K and V × 2 KV heads × 16 floats, plus 4 heads × 64 positions of attention scratch: 1.5 KiB a position.
      assert.throws(() => m.newCache(1 << 22), userError(`not enough memory for the KV cache: 4194304 positions need 6.00 GiB (1.5 KiB each) and only ${((2 ** 32 - m.heap.used - (1 << 20)) / 2 ** 30).toFixed(2)} GiB of WebAssembly's 4 GiB are left beside the model; ask for fewer tokens (--max-tokens, a shorter prompt, fewer samples at once with --max-batch-size, a shorter --context), store keys and values in half the bytes with --kv f16, use a smaller quantization, or run the model through llama.cpp (--model llama.cpp:FILE.gguf)`, 'max_tokens'));
      m.withScratch(() => m.newCache(1 << 16));
    } finally {
      m.close();
    }
  });
});

describe('--kv f16: keys and values stored as f16', () => {
  const ids = [1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50];
  const allLogits = (m: Model) => m.withScratch(() => m.forward(ids, m.newCache(ids.length), { allLogits: true }));

  test('a cache holds half the bytes of an f32 one', () => {
    const path = fixture('gguf', SMALL.llama, DType.F32);
    const bytes = (kv: 'f32' | 'f16') => {
      const m = loadModel(path, { kv });
      const before = m.heap.used;
      const cache = m.newCache(100);
      const used = m.heap.used - before - m.config.nHead * 64 * 100 * 4; // less the attention scratch
      assert.equal(cache.type, kv);
      return used;
    };
    // 2 layers × K and V × 2 KV heads × 16 values × 100 positions.
    assert.equal(bytes('f32'), 2 * 2 * 32 * 100 * 4);
    assert.equal(bytes('f16'), 2 * 2 * 32 * 100 * 2);
  });

  for (const arch of ['llama', 'gemma3'] as const) {
    test(`${arch}: logits stay bit-identical however tokens are grouped (chunk, steps, several sequences at once)`, () => {
      const m = loadModel(fixture('gguf', SMALL[arch], DType.F32), { kv: 'f16' });
      const V = m.config.vocabSize, full = allLogits(m);
      m.withScratch(() => {
        const cache = m.newCache(ids.length);
        assert.deepEqual(m.forward(ids.slice(0, 3), cache), full.subarray(2 * V, 3 * V));
        for (let i = 3; i < ids.length; i++) assert.deepEqual(m.forward([ids[i]!], cache), full.subarray(i * V, (i + 1) * V), `position ${i}`);
        const caches = [m.newCache(ids.length), m.newCache(ids.length)];
        const many = m.forwardMany([ids, ids.slice(0, 7)], caches);
        assert.deepEqual(many.subarray(0, V), full.subarray((ids.length - 1) * V));
        assert.deepEqual(many.subarray(V, 2 * V), full.subarray(6 * V, 7 * V));
      });
    });

    test(`${arch}: probabilities within 1e-3 of the f32 cache, and not identical (the rounding happens)`, () => {
      const path = fixture('gguf', SMALL[arch], DType.F32);
      const V = loadModel(path).config.vocabSize;
      const a = allLogits(loadModel(path)), b = allLogits(loadModel(path, { kv: 'f16' }));
      let worst = 0;
      for (let i = 0; i < ids.length; i++) worst = Math.max(worst, maxAbsDiff(softmax(a.subarray(i * V, (i + 1) * V)), softmax(b.subarray(i * V, (i + 1) * V))));
      assert.ok(worst > 0 && worst <= 1e-3, `max |Δp| ${worst}`);
    });
  }

  test('the same seed gives the same samples', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32), { kv: 'f16' });
    const run = () => generate(m, 'the cat', { seed: 7, n: 3, max_tokens: 12 }).samples.map((s) => s.token_ids);
    assert.deepEqual(run(), run());
    assert.equal(generate(m, 'the cat', { seed: 7, max_tokens: 2 }).model.kv_cache, 'f16');
  });

  test('bad values are refused in one line', () => {
    const path = fixture('gguf', SMALL.llama, DType.F32);
    assert.throws(() => loadModel(path, { kv: 'q8' as never }), userError('--kv must be f32 or f16, got "q8"', 'kv'));
  });
});

describe('--context: a cap on the context and every KV cache', () => {
  const path = () => fixture('gguf', SMALL.llama, DType.F32);
  const name = () => path().split('/').pop();

  test('caps the context: caches, generation (finish context_full) and the report', () => {
    const m = loadModel(path(), { context: 10 });
    assert.equal(m.config.contextLength, 10);
    assert.equal(m.withScratch(() => m.newCache().capacity), 10);
    const ids = m.tokenizer.encode('the cat');
    const run = generate(m, ids, { temperature: 0, max_tokens: 50 });
    assert.equal(run.samples[0]!.finish_reason, 'context_full');
    // Every position of the cache is filled; the last token drawn never needs one.
    assert.equal(run.samples[0]!.token_ids.length, 10 - ids.length + 1);
    assert.equal(run.model.context_length, 10);
  });

  test('outside 1 … the model\'s context length: one line naming the range', () => {
    for (const bad of [0, 129, 2.5]) {
      assert.throws(() => loadModel(path(), { context: bad }), userError(`--context must be an integer from 1 to 128 (${name()}'s context length), got ${bad}`, 'context'));
    }
  });

  test('a model that fits but not with a KV cache of --context positions stops before loading, with the largest --context that fits', () => {
    const src = openGguf(fixture('gguf', { ...SMALL.llama, ctx: 1 << 24 }, DType.F32));
    try {
      // 2 layers × K and V × 2 KV heads × 16 values: 512 bytes a position in f32, 256 in f16; plus 4 heads ×
      // 64 × 4 bytes of attention scratch: 1.5 KiB and 1.25 KiB.
      checkFits(src, { positions: 1 << 20, type: 'f32' });
      const f = src.path.split('/').pop();
      assert.throws(() => checkFits(src, { positions: 1 << 24, type: 'f32' }), (e: Error) => {
        assert.match(e.message, new RegExp(`^${f}: an f32 KV cache of 16777216 positions needs 24\\.00 GiB beside the weights \\(0\\.00 GiB\\) and working memory \\(0\\.00 GiB\\), more than WebAssembly's 4 GiB address space; use --context (\\d+) or less, --kv f16 \\(keys and values in half the bytes\\), a smaller quantization, or run it through llama\\.cpp: --model llama\\.cpp:.*$`));
        const fits = Number(/--context (\d+)/.exec(e.message)![1]);
        checkFits(src, { positions: fits, type: 'f32' });
        assert.throws(() => checkFits(src, { positions: fits + 1, type: 'f32' }));
        return true;
      });
      assert.throws(() => checkFits(src, { positions: 1 << 24, type: 'f16' }), /an f16 KV cache of 16777216 positions needs 20\.00 GiB .*; use --context \d+ or less, a smaller quantization/);
    } finally {
      src.close();
    }
  });
});
