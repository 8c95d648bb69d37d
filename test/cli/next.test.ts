import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { nextTokenDistribution } from '../../src/generate/next.js';
import { loadModel } from '../../src/model/load.js';
import { needsShared, sharedModel, wander } from '../helpers.js';

const STORIES = 'stories260K.gguf';

describe('wander next', () => {
  test('a peaked and a flat distribution, side by side', needsShared(STORIES), () => {
    const m = loadModel(sharedModel(STORIES)!);
    const peaked = nextTokenDistribution(m, 'Once upon a time', { seed: 1 }, { top: 5 });
    const flat = nextTokenDistribution(m, 'Once upon a time, there was a little', { seed: 1 }, { top: 5 });
    assert.equal(peaked.candidates[0]!.token, ',');
    assert.ok(peaked.candidates[0]!.prob > 0.95);
    assert.ok(peaked.entropy_bits < 0.5);
    assert.ok(flat.entropy_bits > 1.5);
    assert.deepEqual(flat.candidates.slice(0, 2).map((c) => c.token), [' g', ' b']);
    // Cumulative probability is the running sum of the raw probabilities.
    let cum = 0;
    for (const c of flat.candidates) { cum += c.prob; assert.ok(Math.abs(c.cumulative_prob - cum) < 1e-12); }
  });

  test('--json: candidates by raw probability, final_prob after the chain, removed_by, draws', needsShared(STORIES), () => {
    const r = wander('next', '-m', sharedModel(STORIES)!, '-p', 'Once upon a time, there was a little', '--top', '6', '--top-p', '0.9', '--draw', '2000', '--seed', '4', '--json');
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    for (const k of ['prompt', 'settings', 'entropy_bits', 'final_entropy_bits', 'kept_count', 'kept_mass', 'candidates', 'draws']) assert.ok(k in d, k);
    assert.deepEqual(d.prompt.token_ids.slice(0, 2), [1, 403]);
    assert.equal(d.candidates.length, 6);
    assert.deepEqual(Object.keys(d.candidates[0]), ['token_id', 'token', 'prob', 'cumulative_prob', 'stage_probs', 'final_prob', 'removed_by']);
    // top_p 0.9 keeps " g" (0.64) and " b" (0.28): together 0.916.
    assert.deepEqual(d.candidates.map((c: { removed_by: string | null }) => c.removed_by), [null, null, 'top_p', 'top_p', 'top_p', 'top_p']);
    assert.equal(d.kept_count, 2);
    assert.ok(Math.abs(d.candidates[0].final_prob - d.candidates[0].prob / d.kept_mass) < 1e-9);
    assert.equal(d.candidates[2].final_prob, 0);
    const total = d.draws.reduce((n: number, x: { count: number }) => n + x.count, 0);
    assert.equal(total, 2000);
    assert.deepEqual(d.draws.map((x: { token: string }) => x.token), [' g', ' b']);
    // Draw frequencies follow final_prob (3σ at n = 2000 ≈ 0.03).
    assert.ok(Math.abs(d.draws[0].count / 2000 - d.candidates[0].final_prob) < 0.03);
    // The same seed draws the same counts.
    const again = JSON.parse(wander('next', '-m', sharedModel(STORIES)!, '-p', 'Once upon a time, there was a little', '--top', '6', '--top-p', '0.9', '--draw', '2000', '--seed', '4', '--json').stdout);
    assert.deepEqual(again.draws, d.draws);
  });

  test('the table shows bars, the cumulative column and where top-p cuts', needsShared(STORIES), () => {
    const r = wander('next', '-m', sharedModel(STORIES)!, '-p', 'Once upon a time, there was a little', '--top', '5', '--top-p', '0.9', '--seed', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^entropy {3}1\.56 bits raw \(in between\) → 0\.88 bits after the chain$/m);
    assert.match(r.stdout, /^ {3}1 {2}" g" {6}0\.6403 {2}█{24} {2}0\.6403 {2}0\.6993$/m);
    assert.match(r.stdout, /── top_p cuts here ──/);
    assert.match(r.stdout, /^ {3}3 {2}" do" .* {5}— {5}top_p$/m);
  });

  test('bad input is one line and exit code 2', needsShared(STORIES), () => {
    const m = sharedModel(STORIES)!;
    const cases: [string[], string][] = [
      [['--min-p', '2'], 'wander: --min-p must be in [0, 1] (0 = off), got 2'],
      [['--typical-p', '0'], 'wander: --typical-p must be in (0, 1] (1 = off), got 0'],
      [['--top-k', '-1'], 'wander: --top-k must be an integer ≥ 0 (0 = off), got -1'],
      [['--top', '0'], 'wander: --top must be an integer from 1 to 1000, got 0'],
      [['--draw', 'many'], 'wander: --draw must be an integer from 0 to 1000000, got "many"'],
      [['--bias', 'oops'], 'wander: --bias expects TOKEN=VALUE (TOKEN: text, or #<id> for a token id; VALUE: a number or -inf), got "oops"'],
      [['--bias', ',=lots'], 'wander: --bias expects TOKEN=VALUE (TOKEN: text, or #<id> for a token id; VALUE: a number or -inf), got ",=lots"'],
      [['--bias', 'Lilypad=+1'], 'wander: --bias "Lilypad": no single token spells it (it tokenizes as " Lily" + "p" + "ad"); bias one of those, or a token by #<id>'],
      [['--bias', '#9999=1'], 'wander: --bias #9999: token id outside the vocabulary (0..511)'],
      [['--chain', 'vllm'], 'wander: --chain: unknown stage "vllm" (stages: logit_bias, repetition_penalty, frequency_presence_penalty, no_repeat_ngram, banned_strings, min_new_tokens, dry, temperature, dynatemp, smoothing, top_h, top_n_sigma, top_k, top_p, min_p, typical_p, epsilon, eta, xtc, mirostat)'],
      [['--chain', 'top_k,temperature', '--top-p', '0.5'], 'wander: top_p is set but the chain (top_k, temperature) does not include it'],
    ];
    for (const [args, message] of cases) {
      const r = wander('next', '-m', m, '-p', 'Once upon a time', ...args);
      assert.equal(r.stderr, message + '\n', args.join(' '));
      assert.equal(r.code, 2);
    }
  });
});
