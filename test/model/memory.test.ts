import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { checkFits, loadModel } from '../../src/model/load.js';
import { openGguf } from '../../src/model/from-gguf.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { userError } from '../helpers.js';

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
      assert.throws(() => m.newCache(1 << 22), userError(`not enough memory for the KV cache: 4194304 positions need 6.00 GiB (1.5 KiB each) and only ${((2 ** 32 - m.heap.used - (1 << 20)) / 2 ** 30).toFixed(2)} GiB of WebAssembly's 4 GiB are left beside the model; ask for fewer tokens (--max-tokens, a shorter prompt, fewer samples at once with --max-batch-size), use a smaller quantization, or run the model through llama.cpp (--model llama.cpp:FILE.gguf)`, 'max_tokens'));
      m.withScratch(() => m.newCache(1 << 16));
    } finally {
      m.close();
    }
  });
});
