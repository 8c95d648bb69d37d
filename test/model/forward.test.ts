import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType, dtypeName } from '../../src/formats/tensor-types.js';
import { hookNames, type HookFn } from '../../src/model/hooks.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { fixture, SMALL, WIDE } from '../fixtures/models.js';
import { argmax, maxAbsDiff, needsShared, sharedModel, softmax } from '../helpers.js';

const IDS = [5, 70, 100, 33, 2, 44, 91, 260, 17, 3];
const ARCHS = ['gpt2', 'llama', 'qwen2', 'qwen3'] as const;

function allLogits(m: Model, ids: number[], hooks?: Map<string, HookFn>): Float32Array {
  return m.withScratch(() => m.forward(ids, m.newCache(ids.length), { allLogits: true, hooks }));
}

describe('the same weights give the same logits in GGUF and Hugging Face files', () => {
  for (const arch of ARCHS) {
    test(arch, () => {
      const a = loadModel(fixture('gguf', SMALL[arch], DType.F32));
      const b = loadModel(fixture('hf', SMALL[arch]));
      assert.equal(a.config.family, arch === 'gpt2' ? 'gpt2' : 'llama');
      assert.equal(a.parameters, b.parameters + (arch === 'gpt2' ? a.config.vocabSize * a.config.nEmbd : 0)); // GGUF gpt2 stores the tied head again
      assert.ok(maxAbsDiff(allLogits(a, IDS), allLogits(b, IDS)) < 1e-5);
    });
  }
});

describe('Hugging Face folders: sharded, and in half precision', () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    test(`${arch}: two shards with an index load the same model`, () => {
      const one = loadModel(fixture('hf', SMALL[arch]));
      const sharded = loadModel(fixture('hf', SMALL[arch], DType.F32, { shards: 2 }));
      assert.deepEqual(allLogits(sharded, IDS), allLogits(one, IDS));
    });

    test(`${arch}: F16 and BF16 safetensors (GPT-2's Conv1D transposed in 2-byte form)`, () => {
      const base = loadModel(fixture('hf', SMALL[arch]));
      const V = base.config.vocabSize;
      const f32 = allLogits(base, IDS);
      const p = softmax(f32.subarray(0, V));
      for (const [dtype, tol] of [['F16', 0.05], ['BF16', 0.3]] as const) {
        const half = loadModel(fixture('hf', SMALL[arch], DType.F32, { dtype }));
        const l = allLogits(half, IDS);
        assert.ok(maxAbsDiff(l, f32) < tol, `${dtype} logits within ${tol}`);
        assert.ok(maxAbsDiff(softmax(l.subarray(0, V)), p) < tol / 10, `${dtype} probabilities at the first position`);
      }
    });
  }
});

describe('KV-cache decoding gives the logits of a full re-run, bit for bit', () => {
  for (const arch of ARCHS) {
    test(arch, () => {
      const m = loadModel(fixture('gguf', SMALL[arch], DType.F32));
      const full = allLogits(m, IDS);
      const V = m.config.vocabSize;
      m.withScratch(() => {
        const cache = m.newCache(IDS.length);
        const first = m.forward(IDS.slice(0, 4), cache);
        assert.deepEqual(first, full.subarray(3 * V, 4 * V));
        for (let i = 4; i < IDS.length; i++) {
          const step = m.forward([IDS[i]!], cache);
          assert.deepEqual(step, full.subarray(i * V, (i + 1) * V), `position ${i}`);
        }
      });
    });
  }

  test('prompts longer than one chunk (64 positions)', () => {
    const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
    const ids = Array.from({ length: 100 }, (_, i) => (i * 37) % 300 + 3);
    const full = allLogits(m, ids);
    const V = m.config.vocabSize;
    const last = m.withScratch(() => {
      const cache = m.newCache(100);
      m.forward(ids.slice(0, 99), cache);
      return m.forward(ids.slice(99), cache);
    });
    assert.deepEqual(last, full.subarray(99 * V));
  });

  test('every tensor type: a token\'s logits do not depend on how the prompt was grouped', () => {
    for (const [spec, dts] of [[SMALL.gpt2, [DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.IQ4_NL]], [WIDE.llama, [DType.Q4_K, DType.Q6_K, DType.Q2_K, DType.Q3_K, DType.Q5_K, DType.IQ4_XS]]] as const) {
      for (const dt of dts) {
        const m = loadModel(fixture('gguf', spec, dt));
        const V = m.config.vocabSize;
        const full = allLogits(m, IDS.slice(0, 7));
        m.withScratch(() => {
          const cache = m.newCache(7);
          assert.deepEqual(m.forward(IDS.slice(0, 3), cache, { allLogits: true }), full.subarray(0, 3 * V), dtypeName(dt));
          for (let i = 3; i < 7; i++) assert.deepEqual(m.forward([IDS[i]!], cache), full.subarray(i * V, (i + 1) * V), `${dtypeName(dt)} position ${i}`);
        });
      }
    }
  });
});

describe('forwardMany: several multi-token sequences in one pass', () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    test(`${arch}: each sequence's last logits are bit-identical to running it alone, across chunk boundaries`, () => {
      const m = loadModel(fixture('gguf', SMALL[arch], DType.Q8_0));
      const V = m.config.vocabSize;
      // 30 + 50 + 7 + 70 rows: sequences straddle the 64-row chunks; the third resumes a cache with a prefix.
      const seqs = [30, 50, 7, 70].map((n, s) => Array.from({ length: n }, (_, i) => (i * 37 + s * 11 + 1) % V));
      const prefix = [9, 8, 7];
      m.withScratch(() => {
        const alone = seqs.map((t, s) => {
          const cache = m.newCache(80);
          if (s === 2) m.forward(prefix, cache);
          return m.forward(t, cache);
        });
        const caches = seqs.map(() => m.newCache(80));
        m.forward(prefix, caches[2]!);
        const seen: [string, number[], number[]][] = [];
        const hooks = new Map<string, HookFn>([['blocks.0.hook_resid_pre', (_a, ctx) => { seen.push([ctx.name, ctx.sequences, ctx.positions]); }]]);
        const many = m.forwardMany(seqs, caches, { hooks });
        seqs.forEach((_, s) => assert.deepEqual(many.subarray(s * V, (s + 1) * V), alone[s]!, `sequence ${s}`));
        assert.deepEqual(caches.map((c) => c.length), [30, 50, 10, 70]);
        // Chunks of 64 rows: [s0 ×30, s1 ×34], [s1 ×16, s2 ×7, s3 ×41], [s3 ×29].
        assert.deepEqual(seen.map(([, seq]) => seq.length), [64, 64, 29]);
        assert.deepEqual(seen[1]![1].slice(14, 25), [1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3]);
        assert.deepEqual(seen[1]![2].slice(14, 25), [48, 49, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      });
    });
  }
});

describe('threads and kernels do not change the numbers', () => {
  test('2 threads give bit-identical logits', () => {
    for (const dt of [DType.F32, DType.Q8_0]) {
      const one = loadModel(fixture('gguf', WIDE.gpt2, dt), { threads: 1 });
      const two = loadModel(fixture('gguf', WIDE.gpt2, dt), { threads: 2 });
      assert.equal(two.threads, 2);
      assert.deepEqual(allLogits(two, IDS), allLogits(one, IDS), dtypeName(dt));
      two.close();
    }
  });

  test('the TypeScript fallback kernels agree with WebAssembly', () => {
    for (const arch of ['gpt2', 'llama'] as const) {
      for (const dt of [DType.F32, DType.Q8_0, DType.Q4_K]) {
        const path = fixture('gguf', WIDE[arch], dt);
        const w = loadModel(path), t = loadModel(path, { kernels: 'typescript' });
        assert.equal(t.kernels, 'typescript');
        assert.ok(maxAbsDiff(allLogits(w, IDS.slice(0, 4)), allLogits(t, IDS.slice(0, 4))) < 1e-4, `${arch} ${dtypeName(dt)}`);
      }
    }
  });
});

describe('hooks', () => {
  const m = loadModel(fixture('gguf', SMALL.llama, DType.F32));
  const c = m.config;

  test('every hook point fires once per chunk with its documented shape', () => {
    const seen = new Map<string, number[]>();
    const hooks = new Map<string, HookFn>(hookNames(c.nLayer).map((n) => [n, (a, ctx) => { seen.set(n, ctx.shape); assert.equal(a.length, ctx.shape.reduce((x, y) => x * y, 1)); }]));
    allLogits(m, IDS.slice(0, 5), hooks);
    assert.equal(seen.size, hookNames(c.nLayer).length);
    assert.deepEqual(seen.get('blocks.1.attn.hook_pattern'), [c.nHead, 5, 5]);
    assert.deepEqual(seen.get('blocks.0.attn.hook_q'), [5, c.nHead, c.headDim]);
    assert.deepEqual(seen.get('blocks.0.attn.hook_k'), [5, c.nHeadKv, c.headDim]);
    assert.deepEqual(seen.get('blocks.0.mlp.hook_post'), [5, c.nFf]);
    assert.deepEqual(seen.get('hook_logits'), [5, c.vocabSize]);
  });

  test('an identity hook changes nothing; zeroing the residual changes the logits', () => {
    const base = allLogits(m, IDS);
    const same = allLogits(m, IDS, new Map([['blocks.0.hook_resid_post', (a: Float32Array) => a.slice()]]));
    assert.deepEqual(same, base);
    const ablated = allLogits(m, IDS, new Map([['blocks.1.hook_resid_pre', (a: Float32Array) => { a.fill(0); }]]));
    assert.ok(maxAbsDiff(ablated, base) > 0.1);
  });

  test('replacing hook_logits replaces the returned logits', () => {
    const out = allLogits(m, IDS.slice(0, 2), new Map([['hook_logits', (a: Float32Array) => new Float32Array(a.length).fill(7)]]));
    assert.ok(out.every((x) => x === 7));
  });

  test('a hook returning the wrong length is a clear error', () => {
    assert.throws(() => allLogits(m, IDS, new Map([['hook_embed', () => new Float32Array(3)]])), /hook hook_embed returned 3 values, expected 640 \(shape \[10, 64\]\)/);
  });

  test('the final residual, normalized and unembedded by hand, is the logits (a logit lens at the last layer)', () => {
    let resid: Float32Array | undefined, normed: Float32Array | undefined;
    const logits = allLogits(m, IDS.slice(0, 3), new Map<string, HookFn>([
      [`blocks.${c.nLayer - 1}.hook_resid_post`, (a) => { resid = a.slice(); }],
      ['ln_final.hook_normalized', (a) => { normed = a.slice(); }],
    ]));
    const d = c.nEmbd;
    const w = m.heap.f32(m.transformer.weights.outNorm, d);
    const row = resid!.subarray(2 * d, 3 * d);
    const rms = Math.sqrt(row.reduce((s, x) => s + x * x, 0) / d + c.normEps);
    for (let i = 0; i < d; i++) assert.ok(Math.abs((row[i]! / rms) * w[i]! - normed![2 * d + i]!) < 1e-5);
    const out = m.transformer.weights.output;
    assert.equal(out.type, DType.F32);
    const W = m.heap.f32(out.ptr, c.vocabSize * d);
    for (let v = 0; v < c.vocabSize; v++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += W[v * d + i]! * normed![2 * d + i]!;
      assert.ok(Math.abs(s - logits[2 * c.vocabSize + v]!) < 1e-4, `token ${v}`);
    }
  });
});

test('stories260K greedy decoding reproduces llama.cpp\'s reference continuation', needsShared('stories260K.gguf'), () => {
  const m = loadModel(sharedModel('stories260K.gguf')!);
  assert.equal(m.parameters, 292800);
  const prompt = m.tokenizer.encode('Once upon a time');
  assert.deepEqual(prompt, [1, 403, 407, 261, 378]);
  const out: number[] = [];
  m.withScratch(() => {
    const cache = m.newCache(64);
    let logits = m.forward(prompt, cache);
    for (let i = 0; i < 32; i++) {
      out.push(argmax(logits));
      logits = m.forward([out[out.length - 1]!], cache);
    }
  });
  assert.deepEqual(out, [432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394]);
  assert.equal(m.tokenizer.decode(out), ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw');
  // Probabilities are a proper distribution.
  const p = softmax(m.withScratch(() => m.forward(prompt, m.newCache(8))));
  assert.ok(Math.abs(p.reduce((s, x) => s + x, 0) - 1) < 1e-9);
});
