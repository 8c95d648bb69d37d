import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { needsShared, sharedModel, wander } from '../helpers.js';

const STORIES = 'stories260K.gguf';
const FLAT = 'Once upon a time, there was a little'; // " g" 0.64, " b" 0.28, " do" 0.02, …

interface Candidate { token: string; prob: number; final_prob: number; removed_by: string | null }
/** `wander next … --json`, parsed (and checked to have succeeded). */
function next(...args: string[]) {
  const r = wander('next', '-m', sharedModel(STORIES)!, ...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { stages: string[]; kept_count: number; candidates: Candidate[]; mirostat_mu?: { before: number; after: number }; settings: Record<string, unknown> };
}

describe('the new sampler flags', () => {
  test('--top-h: a peaked distribution keeps its one confident token', needsShared(STORIES), () => {
    // "," has p 0.97: its own entropy term already exceeds half of the top 100's entropy.
    const d = next('-p', 'Once upon a time', '--top-h', '0.5', '--top', '4', '--seed', '1');
    assert.deepEqual(d.stages, ['top_h']);
    assert.equal(d.kept_count, 1);
    assert.equal(d.candidates[0]!.token, ',');
    assert.equal(d.candidates[0]!.final_prob, 1);
    assert.deepEqual(d.candidates.slice(1).map((c) => c.removed_by), ['top_h', 'top_h', 'top_h']);
    assert.equal(d.settings['top_h'], 0.5);
  });

  test('--xtc-probability 1: the most likely token goes, the next one above the threshold stays', needsShared(STORIES), () => {
    // Above 0.05: " g" (0.64) and " b" (0.28); " g" is removed, " b" is the least likely of them.
    const d = next('-p', FLAT, '--xtc-probability', '1', '--xtc-threshold', '0.05', '--top', '3', '--seed', '1');
    assert.deepEqual(d.stages, ['xtc']);
    assert.deepEqual(d.candidates.map((c) => [c.token, c.removed_by]), [[' g', 'xtc'], [' b', null], [' do', null]]);
    const kept = 1 - d.candidates[0]!.prob;
    assert.ok(Math.abs(d.candidates[1]!.final_prob - d.candidates[1]!.prob / kept) < 1e-6);
  });

  test('--mirostat 2: μ starts at 2τ and the JSON shows where it moves', needsShared(STORIES), () => {
    const d = next('-p', FLAT, '--mirostat', '2', '--mirostat-tau', '4', '--mirostat-eta', '0.2', '--top', '5', '--seed', '1');
    assert.deepEqual(d.stages, ['mirostat']);
    const mu = d.mirostat_mu!;
    assert.equal(mu.before, 8);
    // The seed draws " g"; its surprise is measured in the distribution drawn from.
    assert.ok(mu.after > mu.before, 'a likely token moves μ up');
    assert.ok(Math.abs(mu.after - (8 - 0.2 * (-Math.log2(d.candidates[0]!.final_prob) - 4))) < 1e-9);
  });

  test('generate --trace: μ carries from step to step of a sample', needsShared(STORIES), () => {
    const r = wander('generate', '-m', sharedModel(STORIES)!, '-p', 'Once upon a time', '--mirostat', '1', '--mirostat-tau', '3', '--max-tokens', '5', '--trace', '3', '--seed', '2', '--json');
    assert.equal(r.code, 0, r.stderr);
    const trace = JSON.parse(r.stdout).samples[0].trace as { mirostat_mu: { before: number; after: number } }[];
    assert.equal(trace[0]!.mirostat_mu.before, 6);
    for (let i = 1; i < trace.length; i++) assert.equal(trace[i]!.mirostat_mu.before, trace[i - 1]!.mirostat_mu.after);
  });

  test('--dry-*: the continuation of a repeated phrase loses multiplier · base^(length − allowed)', needsShared(STORIES), () => {
    // The prompt ends by repeating its first nine tokens after BOS ("Once upon a time, there was a
    // little"), which were followed by " g": a 9-token repeat, so " g" loses 0.05 · 2^(9 − 3) = 3.2 nats
    // against every other token (with "!" and "?" as the only breakers, none of which occur).
    const d = next('-p', 'Once upon a time, there was a little girl. Once upon a time, there was a little', '--dry-multiplier', '0.05', '--dry-base', '2',
      '--dry-allowed-length', '3', '--dry-penalty-last-n', '-1', '--dry-sequence-breaker', '!', '--dry-sequence-breaker', '?', '--top', '2', '--seed', '1');
    assert.deepEqual(d.stages, ['dry']);
    assert.deepEqual(d.settings['dry_sequence_breakers'], ['!', '?']);
    const [g, b] = d.candidates as [Candidate, Candidate];
    assert.deepEqual([g.token, b.token], [' g', ' b']);
    assert.ok(Math.abs(Math.log(g.final_prob / b.final_prob) - (Math.log(g.prob / b.prob) - 3.2)) < 1e-4);
  });

  test('--dynatemp-* and --smoothing-* reach the settings and the chain', needsShared(STORIES), () => {
    const d = next('-p', FLAT, '--dynatemp-range', '0.3', '--dynatemp-exponent', '2', '--smoothing-factor', '0.4', '--smoothing-curve', '2', '--top', '3', '--seed', '1');
    assert.deepEqual(d.stages, ['dynatemp', 'smoothing']);
    assert.deepEqual([d.settings['dynatemp_range'], d.settings['dynatemp_exponent'], d.settings['smoothing_factor'], d.settings['smoothing_curve']], [0.3, 2, 0.4, 2]);
    assert.ok(d.candidates.every((c) => c.removed_by === null && c.final_prob > 0));
  });

  test('bad values: the schema\'s one line, exit code 2', needsShared(STORIES), () => {
    const cases: [string[], string][] = [
      [['--top-h', '2'], 'wander: --top-h must be in [0, 1] (0 = off), got 2'],
      [['--mirostat', '3'], 'wander: --mirostat must be 0 (off), 1 or 2, got 3'],
      [['--dry-base', '0.5'], 'wander: --dry-base must be a number ≥ 1, got 0.5'],
      [['--dry-penalty-last-n', '-2'], 'wander: --dry-penalty-last-n must be an integer ≥ -1 (-1 = the whole context, 0 = off), got -2'],
      [['--xtc-threshold', 'high'], 'wander: --xtc-threshold must be in [0, 1] (above 0.5 = off), got "high"'],
      [['--dry-sequence-breaker', ''], 'wander: --dry-sequence-breaker entry "": must not contain an empty string'],
      [['--mirostat', '2', '--top-p', '0.9'], 'wander: --top-p cannot be used with --mirostat: mirostat chooses its own truncation after a plain temperature (llama.cpp runs it in place of the other samplers)'],
    ];
    for (const [args, message] of cases) {
      const r = wander('next', '-m', sharedModel(STORIES)!, '-p', 'Once upon a time', ...args);
      assert.equal(r.stderr, message + '\n', args.join(' '));
      assert.equal(r.code, 2);
    }
  });
});
