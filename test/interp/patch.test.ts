import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { activationPatching, genericPatch, PATCH_HOOKS, PATCH_KINDS, patchKind, setPosition, type PatchCell, type PatchHook, type PatchIndex, type PatchResult } from '../../src/interp/patch.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, userError } from '../helpers.js';
import { LONG_IDS, ReferenceModel } from './reference.js';

const STORIES = () => sharedModel('stories260K.gguf')!;
const GPT2 = () => fixture('gguf', SMALL.gpt2, DType.F32);
const LLAMA = () => fixture('gguf', SMALL.llama, DType.F32);

/** Fixture inputs: 12 ids, and the same with positions 3 and 7 changed. */
const CLEAN = LONG_IDS.slice(0, 12);
const CORRUPTED = CLEAN.map((id, p) => (p === 3 ? 200 : p === 7 ? 150 : id));

interface Case { name: string; path: () => string; clean: string | number[]; corrupted: string | number[]; target?: string; foil?: string; skip: { skip: string | false } }
const CASES: Case[] = [
  { name: 'stories260K (" Lily" → " Tim")', path: STORIES, clean: 'Lily was happy. One day,', corrupted: 'Tim was happy. One day,', skip: needsShared('stories260K.gguf') },
  { name: 'GPT-2 fixture', path: GPT2, clean: CLEAN, corrupted: CORRUPTED, target: '#3', foil: '#5', skip: { skip: false } },
  { name: 'Llama fixture', path: LLAMA, clean: CLEAN, corrupted: CORRUPTED, target: '#3', foil: '#5', skip: { skip: false } },
];

/** The grid's cells in index order (layer, [head,] position). */
function cells(r: PatchResult): PatchCell[] {
  return (r.grid as unknown[]).flat(2) as PatchCell[];
}

/**
 * The same patches in the float64 reference: the corrupted run with one slice of the hook set from the
 * reference's own clean run; logit[target] − logit[foil] at the last position.
 */
function referenceDiffs(ref: ReferenceModel, r: PatchResult, kind: PatchHook): { clean: number; corrupted: number; cells: number[] } {
  const c = ref.config, T = r.clean.token_ids.length, V = c.vocabSize, hd = c.headDim;
  const diff = (logits: Float64Array) => logits[(T - 1) * V + r.target.token_id]! - logits[(T - 1) * V + r.foil.token_id]!;
  const clean = ref.run(r.clean.token_ids);
  const out = cells(r).map((cell) => {
    const name = `blocks.${cell.layer}.${PATCH_KINDS[kind].activation}`;
    const src = clean.acts.get(name)!.data, row = src.length / T, p = cell.position;
    const [from, to] = cell.head === undefined ? [p * row, (p + 1) * row] : [p * row + cell.head * hd, p * row + (cell.head + 1) * hd];
    return diff(ref.run(r.corrupted.token_ids, new Map([[name, (a: Float64Array) => a.set(src.subarray(from, to), from)]])).logits);
  });
  return { clean: diff(clean.logits), corrupted: diff(ref.run(r.corrupted.token_ids).logits), cells: out };
}

describe('activation patching matches the float64 reference', () => {
  for (const k of CASES) {
    for (const hook of PATCH_HOOKS) {
      test(`${k.name}, ${hook}: every cell's logit difference within 1e-4`, k.skip, () => {
        const m = loadModel(k.path()), ref = new ReferenceModel(k.path());
        const r = activationPatching(m, k.clean, k.corrupted, { hook, target: k.target, foil: k.foil });
        const c = m.config, T = r.clean.token_ids.length;
        assert.equal(r.grid.length, c.nLayer);
        for (const [l, layer] of r.grid.entries()) {
          const rows = hook === 'z' ? (layer as PatchCell[][]) : [layer as PatchCell[]];
          assert.equal(rows.length, hook === 'z' ? c.nHead : 1);
          for (const [h, row] of rows.entries()) {
            assert.deepEqual(row.map((x) => [x.layer, x.head, x.position]), row.map((_, p) => [l, hook === 'z' ? h : undefined, p]));
            assert.equal(row.length, T);
          }
        }
        const want = referenceDiffs(ref, r, hook);
        assert.ok(Math.abs(r.clean_logit_diff - want.clean) < 1e-4 && Math.abs(r.corrupted_logit_diff - want.corrupted) < 1e-4);
        let worst = 0;
        cells(r).forEach((x, i) => {
          worst = Math.max(worst, Math.abs(x.logit_diff - want.cells[i]!));
          assert.equal(x.normalized, (x.logit_diff - r.corrupted_logit_diff) / (r.clean_logit_diff - r.corrupted_logit_diff) + 0);
        });
        assert.ok(worst < 1e-4, `max |Δ logit diff| = ${worst}`);
      });
    }
  }
});

/** Every metric call's logits, in call order (clean, corrupted, then each index). */
function recording(): { metric: (l: Float32Array) => number; seen: Float32Array[] } {
  const seen: Float32Array[] = [];
  return { seen, metric: (l) => { seen.push(l.slice()); return l[3]! - l[5]!; } };
}

function ids(m: Model, x: string | number[]): number[] {
  return typeof x === 'string' ? m.tokenizer.encode(x) : x;
}

describe('batched patching is the one-pass-per-cell result, bit for bit', () => {
  for (const k of CASES) {
    test(`${k.name}: every kind, in one group, in groups of one, and in groups of a few`, k.skip, () => {
      const m = loadModel(k.path()), clean = ids(m, k.clean), corrupted = ids(m, k.corrupted);
      const c = m.config, cacheBytes = (2 * c.nLayer * clean.length * c.nHeadKv * c.headDim + c.nHead * 64 * clean.length) * 4;
      for (const hook of PATCH_HOOKS) {
        const one = recording();
        patchKind(hook)(m, clean, corrupted, one.metric, { batched: false });
        for (const memory of [undefined, 1, 5 * cacheBytes]) {
          const many = recording();
          const r = patchKind(hook)(m, clean, corrupted, many.metric, memory === undefined ? {} : { memory });
          assert.equal(many.seen.length, one.seen.length);
          many.seen.forEach((l, i) => assert.ok(Buffer.from(l.buffer).equals(Buffer.from(one.seen[i]!.buffer)), `${hook}, memory ${memory}: run ${i} differs`));
          assert.equal(r.patched.length, PATCH_KINDS[hook].indices(c, clean.length).length);
        }
      }
    });
  }

  test('GPT-2 fixture, 90 positions (sequences that cross 64-row chunks): resid_pre and z', () => {
    const m = loadModel(GPT2());
    const corrupted = LONG_IDS.map((id, p) => (p === 40 ? 7 : id));
    for (const hook of ['resid_pre', 'z'] as const) {
      const one = recording(), many = recording();
      patchKind(hook)(m, LONG_IDS, corrupted, one.metric, { batched: false });
      patchKind(hook)(m, LONG_IDS, corrupted, many.metric);
      many.seen.forEach((l, i) => assert.ok(Buffer.from(l.buffer).equals(Buffer.from(one.seen[i]!.buffer)), `${hook}: run ${i} differs`));
    }
  });
});

describe('identities', () => {
  for (const k of CASES) {
    test(`${k.name}: resid_pre at every position of any one layer is the clean run exactly (layer 0: TransformerLens's check)`, k.skip, () => {
      const m = loadModel(k.path()), clean = ids(m, k.clean), corrupted = ids(m, k.corrupted), T = clean.length;
      const all = [...Array(T).keys()];
      const indices: PatchIndex[] = Array.from({ length: m.config.nLayer }, (_, layer) => ({ layer, positions: all }));
      const rec = recording();
      const r = genericPatch(m, clean, corrupted, { activation: 'hook_resid_pre', setter: setPosition, indices, metric: rec.metric });
      assert.notEqual(r.clean, r.corrupted);
      for (let i = 2; i < rec.seen.length; i++) assert.deepEqual(rec.seen[i], rec.seen[0], `layer ${i - 2}`);
    });

    test(`${k.name}: layer 0 resid_pre where the prompts differ gives the clean difference exactly (normalized 1), elsewhere none (0)`, k.skip, () => {
      const m = loadModel(k.path()), clean = ids(m, k.clean), corrupted = ids(m, k.corrupted);
      const r = activationPatching(m, k.clean, k.corrupted, { target: k.target, foil: k.foil });
      const differs = clean.map((id, p) => id !== corrupted[p]);
      const layer0 = (r.grid as PatchCell[][])[0]!;
      if (differs.filter(Boolean).length === 1) {
        const p = differs.indexOf(true);
        assert.equal(layer0[p]!.logit_diff, r.clean_logit_diff);
        assert.equal(layer0[p]!.normalized, 1);
      }
      layer0.forEach((x, p) => { if (!differs[p]) assert.equal(x.logit_diff, r.corrupted_logit_diff, `position ${p}`); });
    });

    test(`${k.name}: the last layer's attn_out, mlp_out and z before the last position change nothing`, k.skip, () => {
      const m = loadModel(k.path()), L = m.config.nLayer - 1;
      for (const hook of ['attn_out', 'mlp_out', 'z'] as const) {
        const r = activationPatching(m, k.clean, k.corrupted, { hook, target: k.target, foil: k.foil });
        const rows = hook === 'z' ? (r.grid as PatchCell[][][])[L]! : [(r.grid as PatchCell[][])[L]!];
        for (const row of rows) row.slice(0, -1).forEach((x) => assert.equal(x.normalized, 0, `${hook} ${JSON.stringify(x)}`));
      }
    });
  }

  test('stories260K: the name\'s information reaches the last position through "." and "," in the late layers', needsShared('stories260K.gguf'), () => {
    const m = loadModel(STORIES());
    const r = activationPatching(m, 'Lily was happy. One day,', 'Tim was happy. One day,');
    assert.deepEqual([r.target.token, r.foil.token], [' she', ' he']);
    const grid = r.grid as PatchCell[][];
    assert.equal(grid[0]![1]!.normalized, 1);
    assert.ok(grid[4]![1]!.normalized! > 0.5 && grid[4]![1]!.normalized! < 0.8, 'by the last layer a third of the effect has moved elsewhere');
    assert.ok(grid[4]![7]!.normalized! > 0.25 && grid[4]![4]!.normalized! > 0.1);
  });
});

describe('the result and bad input', () => {
  test('the JSON has exactly the documented keys (z: one more level, with "head")', () => {
    const m = loadModel(GPT2());
    const r = JSON.parse(JSON.stringify(activationPatching(m, CLEAN, CORRUPTED, { target: '#3', foil: '#5' })));
    assert.deepEqual(Object.keys(r), ['hook', 'clean', 'corrupted', 'target', 'foil', 'clean_logit_diff', 'corrupted_logit_diff', 'grid']);
    assert.equal(r.hook, 'resid_pre');
    assert.deepEqual(Object.keys(r.clean), ['prompt', 'token_ids']);
    assert.deepEqual(r.clean.token_ids, CLEAN);
    assert.deepEqual(Object.keys(r.target), ['token_id', 'token']);
    assert.deepEqual(Object.keys(r.grid[1][5]), ['layer', 'position', 'logit_diff', 'normalized']);
    const z = JSON.parse(JSON.stringify(activationPatching(m, CLEAN, CORRUPTED, { hook: 'z', target: '#3', foil: '#5' })));
    assert.deepEqual(Object.keys(z.grid[1][2][5]), ['layer', 'head', 'position', 'logit_diff', 'normalized']);
    assert.deepEqual([z.grid[1][2][5].layer, z.grid[1][2][5].head, z.grid[1][2][5].position], [1, 2, 5]);
  });

  test('targets default to each run\'s top token', () => {
    const m = loadModel(GPT2());
    const top = (x: number[]) => { const l = m.withScratch(() => m.forward(x, m.newCache(x.length))); return l.indexOf(Math.max(...l)); };
    const corrupted = CLEAN.map((id, p) => (p === 11 ? 150 : id)); // a different last token: a different top token
    const r = activationPatching(m, CLEAN, corrupted);
    assert.deepEqual([r.target.token_id, r.foil.token_id], [top(CLEAN), top(corrupted)]);
    assert.notEqual(r.target.token_id, r.foil.token_id);
    assert.ok(r.clean_logit_diff > 0 && r.corrupted_logit_diff < 0);
  });

  test('prompts of different lengths, the same top token, a target that is not one token, an unknown hook: one clear error', () => {
    const m = loadModel(GPT2());
    assert.throws(() => activationPatching(m, 'The cat sat', 'The dog sat'), userError('--clean and --corrupted must tokenize to the same length: --clean is 6 tokens ("T" "he" " c" "at" " s" "at"), --corrupted is 7 tokens ("T" "he" " d" "o" "g" " s" "at")', 'corrupted'));
    assert.throws(() => activationPatching(m, CLEAN, CLEAN), (e: Error) => /^the clean and the corrupted prompt both make ".*" \(#\d+\) the top next token, so there is no difference to patch; choose the two tokens to compare with --target and --foil$/.test(e.message) && e.name === 'UserError');
    assert.throws(() => activationPatching(m, CLEAN, CORRUPTED, { target: '#84', foil: 'T' }), userError('--target and --foil are the same token ("T", #84); give two different tokens', 'foil'));
    assert.throws(() => activationPatching(m, CLEAN, CORRUPTED, { target: 'cat sat' }), userError('--target "cat sat" is 4 tokens ("c" "at" " s" "at"); give exactly one token, or #id', 'target'));
    assert.throws(() => activationPatching(m, CLEAN, CORRUPTED, { foil: '#999' }), userError('--foil #999: token ids go from 0 to 287', 'foil'));
    assert.throws(() => activationPatching(m, CLEAN, CORRUPTED, { hook: 'resid_post' }), userError('--hook must be resid_pre, attn_out, mlp_out or z, got "resid_post"', 'hook'));
  });

  test('stories260K: the message names both tokenizations', needsShared('stories260K.gguf'), () => {
    const m = loadModel(STORIES());
    assert.throws(() => activationPatching(m, 'Lily was happy.', 'Tom was happy.'), userError('--clean and --corrupted must tokenize to the same length: --clean is 5 tokens ("<bos>" " Lily" " was" " happy" "."), --corrupted is 6 tokens ("<bos>" " T" "om" " was" " happy" ".")', 'corrupted'));
  });
});
