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
    assert.equal(run('--num-beams', '4', '--top-p', '0.9'), '--top-p cannot be used with --num-beams: beam search ranks beams by the model\'s log-probabilities and draws nothing');
    assert.equal(run('--penalty-alpha', '0.6'), '--penalty-alpha (contrastive search) chooses among the --top-k most likely tokens: set --top-k to 2 or more');
    assert.equal(run('--num-beams', '2', '--early-stopping', 'maybe'), '--early-stopping must be true, false or "never", got "maybe"');
  });

  test('beams and contrastive search need Wander\'s own engine: refused on openai: and llama.cpp: before connecting or loading', () => {
    // Neither the server nor the file exists: the refusal comes first.
    assert.equal(cliError(wander('generate', '--model', 'openai:http://127.0.0.1:9/v1#m', '-p', 'The cat', '--num-beams', '2')),
      '--num-beams (beam search) needs a logit backend, Wander\'s own engine (--model FILE): an openai: server samples tokens itself and returns only top logprobs, never the full logits it would need');
    assert.equal(cliError(wander('generate', '--model', 'llama.cpp:/nowhere/model.gguf', '-p', 'The cat', '--penalty-alpha', '0.5', '--top-k', '4')),
      '--penalty-alpha (contrastive search) needs a logit backend, Wander\'s own engine (--model FILE): llama.cpp through node-llama-cpp gives logits but cannot copy one sequence\'s KV cache to another, which every step needs');
  });
});
