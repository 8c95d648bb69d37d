import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { learningRate } from '../../src/train/adamw.js';
import { matmulBackward, matmulForward, attentionForward as attentionJs, attentionBackward as attentionBackJs } from '../../src/train/layers.js';
import { attentionBackward, attentionForward, linearBackward, linearForward } from '../../src/train/simd.js';
import { train, TRAIN_DEFAULTS, type TrainOptions } from '../../src/train/trainer.js';
import { Rng } from '../../src/sampling/rng.js';
import { maxAbsDiff, ROOT, tempDir, userError } from '../helpers.js';

// A small public-domain corpus (Genesis 1–2, King James Version), long enough for 32-token windows.
const GENESIS = `In the beginning God created the heaven and the earth.
And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters.
And God said, Let there be light: and there was light.
And God saw the light, that it was good: and God divided the light from the darkness.
And God called the light Day, and the darkness he called Night. And the evening and the morning were the first day.
And God said, Let there be a firmament in the midst of the waters, and let it divide the waters from the waters.
And God made the firmament, and divided the waters which were under the firmament from the waters which were above the firmament: and it was so.
And God called the firmament Heaven. And the evening and the morning were the second day.
And God said, Let the waters under the heaven be gathered together unto one place, and let the dry land appear: and it was so.
And God called the dry land Earth; and the gathering together of the waters called he Seas: and God saw that it was good.
And God said, Let the earth bring forth grass, the herb yielding seed, and the fruit tree yielding fruit after his kind, whose seed is in itself, upon the earth: and it was so.
And the earth brought forth grass, and herb yielding seed after his kind, and the tree yielding fruit, whose seed was in itself, after his kind: and God saw that it was good.
And the evening and the morning were the third day.
`.repeat(3);

function corpus(): string {
  const f = join(tempDir(), 'genesis.txt');
  writeFileSync(f, GENESIS);
  return f;
}

const opts = (file: string, out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  ...TRAIN_DEFAULTS, corpus: [file], out, size: 'tiny', vocab: 320, steps: 40, evalEvery: 10, checkpointEvery: 10, ...extra,
});

describe('wander train', () => {
  it('learns, and writes GGUF and Hugging Face models that load, generate and agree', () => {
    const out = join(tempDir(), 'run');
    const r = train(opts(corpus(), out));
    const log = JSON.parse(readFileSync(join(out, 'train-log.json'), 'utf8')) as { history: { step: number; train: number; val?: number }[] };
    assert.equal(log.history.length, 40);
    assert.deepEqual(log.history.filter((h) => h.val !== undefined).map((h) => h.step), [10, 20, 30, 40]);
    const first = log.history[0]!.train, last = log.history.at(-1)!.train;
    assert.ok(first > 5.4 && first < 6.1, `starts near ln(320) = 5.77, got ${first}`);
    assert.ok(last < first - 1.5, `loss falls: ${first} → ${last}`);
    assert.equal(r.parameters, 320 * 32 + 32 * 32 + 2 * 32 + 3 * 32 * 32 + 3 * 32 + 32 * 32 + 32 + 2 * 32 + 128 * 32 + 128 + 32 * 128 + 32 + 2 * 32);
    assert.equal(r.tokensSeen, 40 * 4 * 32);

    const gguf = loadModel(join(out, 'run.gguf')), hf = loadModel(join(out, 'hf'));
    assert.equal(gguf.config.architecture, 'gpt2');
    assert.equal(gguf.config.vocabSize, 320);
    assert.equal(gguf.parameters, r.parameters, 'tied: no separate output matrix in the file');
    const a = generate(gguf, 'And God said', { temperature: 0, max_tokens: 12, seed: 1 });
    const b = generate(hf, 'And God said', { temperature: 0, max_tokens: 12, seed: 1 });
    assert.deepEqual(a.samples[0]!.token_ids, b.samples[0]!.token_ids);
    assert.equal(a.prompt.token_ids.length, gguf.tokenizer.encode('And God said').length);
    gguf.close();
    hf.close();
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    for (const s of ['# run', `| parameters | ${r.parameters.toLocaleString('en-US')} |`, '| vocabulary | 320 tokens', '`genesis.txt`', '40 steps × 4 sequences × 32 tokens = 5,120 tokens seen', `validation ${r.valLoss.toFixed(3)} nats/token`]) {
      assert.ok(card.includes(s), `model card lacks ${s}`);
    }
  });

  it('is deterministic, and resuming from a checkpoint gives exactly the uninterrupted model', () => {
    const file = corpus();
    const whole = join(tempDir(), 'whole'), again = join(tempDir(), 'again'), parts = join(tempDir(), 'parts');
    train(opts(file, whole, { name: 'm' }));
    train(opts(file, again, { name: 'm' }));
    assert.ok(readFileSync(join(whole, 'm.gguf')).equals(readFileSync(join(again, 'm.gguf'))), 'same seed, same bytes');
    // Stop after step 25 (a checkpoint at 20), then resume with the same options.
    assert.throws(() => train(opts(file, parts, { name: 'm', onProgress: (p) => { if (p.step === 25) throw new Error('interrupted'); } })), /interrupted/);
    assert.deepEqual(readdirSync(parts).filter((f) => f.startsWith('checkpoint')).sort(), ['checkpoint-0000020.bin', 'checkpoint.json']);
    const steps: number[] = [];
    train(opts(file, parts, { resume: true, name: 'm', onProgress: (p) => steps.push(p.step) }));
    assert.equal(steps[0], 21);
    assert.ok(readFileSync(join(whole, 'm.gguf')).equals(readFileSync(join(parts, 'm.gguf'))), 'resumed model differs');
    assert.deepEqual(JSON.parse(readFileSync(join(parts, 'train-log.json'), 'utf8')), JSON.parse(readFileSync(join(whole, 'train-log.json'), 'utf8')));
    assert.throws(() => train(opts(file, parts, { resume: true, lr: 0.01 })), userError(`--resume: the checkpoint in ${parts} was made with different lr; use the same options, or another --out`, 'resume'));
  });

  it('refuses bad input with one line', () => {
    const file = corpus();
    assert.throws(() => train(opts(file, tempDir(), { size: 'huge' })), userError('--size must be one of tiny, small, medium, large, got "huge"', 'size'));
    const missing = join(tempDir(), 'none.txt');
    assert.throws(() => train(opts(missing, tempDir())), userError(`--corpus ${missing}: cannot read (ENOENT)`, 'corpus'));
    const notAFolder = join(tempDir(), 'file');
    writeFileSync(notAFolder, 'x');
    assert.throws(() => train(opts(file, join(notAFolder, 'out'))), userError(`--out ${join(notAFolder, 'out')}: cannot create the folder (ENOTDIR)`, 'out'));
    const tiny = join(tempDir(), 'tiny.txt');
    writeFileSync(tiny, 'In the beginning.');
    assert.throws(() => train(opts(tiny, tempDir())), (e: unknown) => (e as Error).name === 'UserError' && /^--corpus is \d+ tokens: too small for 32-token training windows/.test((e as Error).message));
    const cli = spawnSync(process.execPath, [join(ROOT, 'bin', 'wander.mjs'), 'train', '--corpus', file, '--out', tempDir(), '--steps', 'many'], { encoding: 'utf8' });
    assert.deepEqual([cli.status, cli.stderr], [2, 'wander: --steps must be an integer from 1 to 10000000, got "many"\n']);
  });

  it('follows warm-up and the cosine schedule', () => {
    assert.equal(learningRate(0, 100, 1, 0.1, 10), 0.1);
    assert.equal(learningRate(9, 100, 1, 0.1, 10), 1);
    assert.equal(learningRate(10, 100, 1, 0.1, 10), 1);
    assert.ok(Math.abs(learningRate(55, 100, 1, 0.1, 10) - 0.55) < 1e-12); // half-way down the cosine
    assert.equal(learningRate(100, 100, 1, 0.1, 10), 0.1);
  });
});

describe('the training kernels', () => {
  const rng = new Rng(3);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);
  it('linear layers on the SIMD kernels match the plain loops', () => {
    const N = 37, C = 45, OC = 29;
    const x = rand(N * C), w = rand(OC * C), b = rand(OC), dout = rand(N * OC);
    const y1 = new Float32Array(N * OC), y2 = new Float32Array(N * OC);
    linearForward(y1, x, w, b, N, C, OC);
    matmulForward(y2, x, w, b, N, C, OC);
    assert.ok(maxAbsDiff(y1, y2) < 1e-5);
    const g1 = [rand(N * C), rand(OC * C), rand(OC)], g2 = g1.map((g) => Float32Array.from(g));
    linearBackward(g1[0], g1[1], g1[2], dout, x, w, N, C, OC);
    matmulBackward(g2[0], g2[1], g2[2], dout, x, w, N, C, OC);
    g1.forEach((g, i) => assert.ok(maxAbsDiff(g, g2[i]!) < 1e-4, `gradient ${i}`));
  });
  it('attention on the SIMD kernels matches the plain loops', () => {
    const B = 2, T = 9, C = 12, NH = 3;
    const qkv = rand(B * T * 3 * C), dout = rand(B * T * C);
    const o1 = new Float32Array(B * T * C), o2 = new Float32Array(B * T * C), a1 = new Float32Array(B * NH * T * T), a2 = new Float32Array(B * NH * T * T);
    attentionForward(o1, a1, qkv, B, T, C, NH);
    attentionJs(o2, a2, qkv, B, T, C, NH);
    assert.ok(maxAbsDiff(o1, o2) < 1e-5 && maxAbsDiff(a1, a2) < 1e-6);
    const d1 = rand(qkv.length), d2 = Float32Array.from(d1);
    attentionBackward(d1, dout, qkv, a1, B, T, C, NH);
    attentionBackJs(d2, dout, qkv, a2, B, T, C, NH);
    assert.ok(maxAbsDiff(d1, d2) < 1e-5);
  });
});
