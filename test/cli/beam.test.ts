import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { cliError, wander } from '../helpers.js';

describe('wander generate: beam and contrastive search', () => {
  const model = () => fixture('gguf', SMALL.llama, DType.F32);

  test('--num-beams with --num-return-sequences: --json has the sequences best first, each with its score', () => {
    const r = wander('generate', '-m', model(), '-p', 'The cat', '--num-beams', '4', '--num-return-sequences', '3', '--max-tokens', '6', '--early-stopping', 'never', '--length-penalty', '0.5', '--json');
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout);
    assert.deepEqual([run.settings.num_beams, run.settings.num_return_sequences, run.settings.early_stopping, run.settings.length_penalty], [4, 3, 'never', 0.5]);
    assert.deepEqual(run.samples.map((s: { index: number }) => s.index), [0, 1, 2]);
    for (const s of run.samples) {
      assert.equal(typeof s.score, 'number');
      assert.ok(Math.abs(s.score - s.sum_logprobs / s.token_ids.length ** 0.5) < 1e-9, JSON.stringify(s));
    }
    const scores = run.samples.map((s: { score: number }) => s.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
    assert.equal(run.summary.samples, 3);
    const t = wander('generate', '-m', model(), '-p', 'The cat', '--num-beams', '2', '--early-stopping', 'true', '--max-tokens', '3', '--json');
    assert.equal(JSON.parse(t.stdout).settings.early_stopping, true);
  });

  test('several beams print like several samples, each with its score; --trace prints the beam tree', () => {
    const r = wander('generate', '-m', model(), '-p', 'The cat', '--num-beams', '3', '--num-return-sequences', '2', '--max-tokens', '5', '--trace');
    assert.equal(r.code, 0, r.stderr);
    const heads = r.stdout.split('\n').filter((l) => l.startsWith('── '));
    assert.equal(heads.length, 2);
    heads.forEach((h, i) => assert.match(h, new RegExp(`^── beam ${i} · score -?[\\d.]+ \\(sum of log-probs -?[\\d.]+\\) · \\d+ tokens · (eos|max_tokens)$`)));
    assert.match(r.stderr, /^settings {2}beam search: 3 beams, length_penalty 1, early_stopping false, 2 returned · max_tokens 5$/m);
    assert.match(r.stderr, /^beam trace: /m);
    assert.match(r.stderr, /^ {3}0 {2}#0 ← #0 "/m);
  });

  test('--num-beams 4 --do-sample --seed 3 --json: beam sampling, the same beams for the same seed, others for another', () => {
    const run = (seed: string) => {
      const r = wander('generate', '-m', model(), '-p', 'The cat', '--num-beams', '4', '--do-sample', '--seed', seed, '--num-return-sequences', '4', '--top-k', '20', '--max-tokens', '6', '--json');
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const a = run('3');
    assert.deepEqual([a.settings.num_beams, a.settings.do_sample, a.settings.seed, a.settings.top_k, a.settings.sources.do_sample], [4, true, 3, 20, 'flag']);
    assert.deepEqual(a.settings.stages, ['top_k']);
    assert.equal(a.samples.length, 4);
    for (const s of a.samples) assert.ok(Math.abs(s.score - s.sum_logprobs / s.token_ids.length) < 1e-9, JSON.stringify(s));
    const tokens = (r: { samples: { token_ids: number[] }[] }) => r.samples.map((s) => s.token_ids);
    assert.deepEqual(tokens(run('3')), tokens(a));
    assert.notDeepEqual(tokens(run('4')), tokens(a));
  });

  test('--num-beams 4 --num-beam-groups 2 --diversity-penalty 1 --json: diverse beam search, each sequence with its group', () => {
    const r = wander('generate', '-m', model(), '-p', 'The cat', '--num-beams', '4', '--num-beam-groups', '2', '--diversity-penalty', '1', '--num-return-sequences', '4', '--max-tokens', '6', '--json');
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout);
    assert.deepEqual([run.settings.num_beams, run.settings.num_beam_groups, run.settings.diversity_penalty, run.settings.do_sample], [4, 2, 1, false]);
    assert.deepEqual(run.samples.map((s: { group: number }) => s.group).sort(), [0, 0, 1, 1]);
    const scores = run.samples.map((s: { score: number }) => s.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
  });

  test('the report names beam sampling and diverse beam search; --trace marks where each group\'s beams start', () => {
    const sampled = wander('generate', '-m', model(), '-p', 'The cat', '--num-beams', '2', '--do-sample', '--seed', '3', '--temperature', '0.8', '--max-tokens', '3');
    assert.equal(sampled.code, 0, sampled.stderr);
    assert.match(sampled.stderr, /^settings {2}beam sampling: 2 beams, length_penalty 1, early_stopping false · temperature 0\.8 · seed 3 · max_tokens 3$/m);
    assert.match(sampled.stderr, /^chain {5}hf: temperature$/m);
    const r = wander('generate', '-m', model(), '-p', 'The cat', '--num-beams', '4', '--num-beam-groups', '2', '--diversity-penalty', '1.5', '--num-return-sequences', '2', '--max-tokens', '4', '--trace');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^settings {2}diverse beam search: 4 beams, 2 groups, diversity_penalty 1\.5, length_penalty 1, early_stopping false, 2 returned · max_tokens 4$/m);
    assert.match(r.stderr, /^beam trace: each step's beams, best first within each group gN: /m);
    assert.match(r.stderr, /^ {3}0 {2}g0 #0 ← #0 "[^\n]* {2}#1 ← #0 [^\n]* {2}g1 #2 ← #0 /m);
    assert.match(r.stdout, /^── beam 0 \(group [01]\) · score /m);
  });

  test('--penalty-alpha with --top-k runs contrastive search; --trace shows each candidate\'s score', () => {
    const r = wander('generate', '-m', model(), '-p', 'The cat', '--penalty-alpha', '0.6', '--top-k', '4', '--max-tokens', '4', '--trace');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith('The cat'));
    assert.match(r.stderr, /^settings {2}contrastive search: penalty_alpha 0\.6, top_k 4 candidates · max_tokens 4$/m);
    assert.match(r.stderr, /^contrastive trace: score = \(1 − 0\.6\)·p − 0\.6·max similarity; ▶ chosen$/m);
    // Four candidates per step, one of them chosen.
    const rows = r.stderr.split('\n').filter((l) => /^( {3}\d| {4}) {2}[▶ ]"/.test(l));
    assert.equal(rows.length, 16);
    assert.equal(rows.filter((l) => l.includes('▶')).length, 4);
  });

  test('contradictory settings: one line each, exit 2', () => {
    const run = (...args: string[]) => cliError(wander('generate', '-m', model(), '-p', 'The cat', ...args));
    assert.equal(run('--num-beams', '4', '--n', '2'), '--n must be 1 with beam search, which returns its best beams rather than samples: use --num-return-sequences instead');
    assert.equal(run('--num-beams', '4', '--top-p', '0.9'), '--top-p cannot be used with --num-beams: beam search ranks beams by the model\'s log-probabilities and draws nothing (for sampled beams set --do-sample)');
    assert.equal(run('--penalty-alpha', '0.6'), '--penalty-alpha (contrastive search) chooses among the --top-k most likely tokens: set --top-k to 2 or more');
    assert.equal(run('--num-beams', '2', '--early-stopping', 'maybe'), '--early-stopping must be true, false or "never", got "maybe"');
    assert.equal(run('--num-beams', '4', '--num-beam-groups', '2'), '--diversity-penalty must be above 0 with --num-beam-groups 2: without it every group runs the same search and returns the same beams (Hugging Face refuses it too)');
    assert.equal(run('--num-beams', '4', '--num-beam-groups', '3', '--diversity-penalty', '1'), '--num-beam-groups (3) must divide --num-beams (4) into equal groups');
    assert.equal(run('--num-beams', '4', '--do-sample', '--temperature', '0'), '--temperature 0 cannot be used with --do-sample: beam sampling draws from the warped distribution, which needs a temperature above 0 (Hugging Face refuses 0 too)');
    assert.equal(run('--num-beams', '4', '--diversity-penalty', 'lots'), '--diversity-penalty must be a number ≥ 0 (0 = off), got "lots"');
  });

  test('beams and contrastive search need Wander\'s own engine: refused on openai: and llama.cpp: before connecting or loading', () => {
    // Neither the server nor the file exists: the refusal comes first.
    assert.equal(cliError(wander('generate', '--model', 'openai:http://127.0.0.1:9/v1#m', '-p', 'The cat', '--num-beams', '2')),
      '--num-beams (beam search) needs Wander\'s own engine (--model FILE): an OpenAI-compatible server samples for itself and returns only top logprobs, never every logit');
    assert.equal(cliError(wander('generate', '--model', 'llama.cpp:/nowhere/model.gguf', '-p', 'The cat', '--penalty-alpha', '0.5', '--top-k', '4')),
      '--penalty-alpha (contrastive search) needs Wander\'s own engine (--model FILE): node-llama-cpp gives every logit but cannot copy one sequence\'s KV cache to another, which every step needs');
  });
});
