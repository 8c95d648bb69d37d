import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Sample } from '../../src/generate/report.js';
import { scoreTokens } from '../../src/interp/score.js';
import { degenerationMetrics, endLoop, repetitionPercent, words, zipfCoefficient, type DegenerationText } from '../../src/experiments/metrics/index.js';
import { MIGRATIONS } from '../../src/experiments/migrations.js';
import { isDeterministic, planCells } from '../../src/experiments/plan.js';
import { collectReports } from '../../src/experiments/report/collect.js';
import { HOLTZMAN_2020, paperMethod } from '../../src/experiments/report/degeneration.js';
import { htmlReport } from '../../src/experiments/report/html.js';
import { jsonReport, markdownReport } from '../../src/experiments/report/tables.js';
import { loadExperiment, parseExperiment } from '../../src/experiments/spec.js';
import { ResultsStore } from '../../src/experiments/store.js';
import { runSweep } from '../../src/experiments/sweep.js';
import { loadModel } from '../../src/model/load.js';
import { embeddedModel } from '../../src/resolve/embedded.js';
import { ROOT, tempDir, userError } from '../helpers.js';

const close = (actual: number | null | undefined, expected: number, tol = 1e-12) => {
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= tol, `expected ${expected} ± ${tol}, got ${actual}`);
};
const text = (token_ids: number[], lp: number, ends_with_eos = false): DegenerationText => ({ token_ids, logprobs: token_ids.map(() => lp), ends_with_eos });

describe('Table 1 metrics', () => {
  it('finds a loop at the end: a phrase of at least 2 tokens, at least 3 times back to back', () => {
    assert.deepEqual(endLoop([9, 1, 2, 1, 2, 1, 2]), { phrase_length: 2, repeats: 3 });
    assert.deepEqual(endLoop([9, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]), { phrase_length: 3, repeats: 4 });
    // A one-token loop repeats its two-token phrase: six copies of "5" are "5 5" three times, five are not.
    assert.deepEqual(endLoop([5, 5, 5, 5, 5, 5]), { phrase_length: 2, repeats: 3 });
    assert.equal(endLoop([5, 5, 5, 5, 5]), null);
    assert.equal(endLoop([1, 2, 3, 1, 2, 3]), null); // twice is not a loop
    assert.equal(endLoop([1, 2, 1, 2, 1, 2, 7]), null); // a loop the text has left
    assert.equal(endLoop([]), null);
    // Copies are whole blocks counted back from the end, as the authors' code counts them.
    assert.deepEqual(endLoop([2, 1, 2, 1, 2, 1, 2]), { phrase_length: 2, repeats: 3 });
    assert.deepEqual(endLoop([4, 4, 4], 1, 3), { phrase_length: 1, repeats: 3 });
    // Figure 1's beam-search loop, in words.
    const unam = words('(UNAM/Universidad Nacional Autónoma de México/Universidad Nacional Autónoma de México/Universidad Nacional Autónoma de México/');
    assert.deepEqual(endLoop(unam), { phrase_length: 6, repeats: 3 });
  });

  it('gives the percentage of texts ending in a loop', () => {
    assert.equal(repetitionPercent([[1, 2, 1, 2, 1, 2], [1, 2, 3], [7, 7, 7, 7, 7, 7], [1]]), 50);
    assert.equal(repetitionPercent([]), null);
  });

  it('fits Zipf to the most frequent ranks only when asked', () => {
    const seq = (counts: number[]) => counts.flatMap((c, id) => Array<number>(c).fill(id));
    const tail = seq([12, 6, 4, 3, 5]).map((t) => (t === 4 ? 9 : t)); // token 9 five times: rank 2
    close(zipfCoefficient([seq([12, 6, 4, 3, 1, 1])], 4), 1); // 12/r exactly over the top 4
    assert.ok(Math.abs(zipfCoefficient([seq([12, 6, 4, 3, 1, 1])])! - 1) > 0.1);
    close(zipfCoefficient([tail], 2), Math.log(12 / 6) / Math.log(2));
  });

  it('pools one text per prompt: perplexity, Self-BLEU-4 across texts, Zipf, repetition', () => {
    // Two texts of 3 tokens: every n-gram up to 3 matches the other; no 4-gram exists (0.1 / 1, NLTK's method 1).
    const m = degenerationMetrics([text([7, 7, 8], -1), { token_ids: [7, 7, 8], logprobs: [-2, -3, -6], ends_with_eos: false }]);
    assert.equal(m.texts, 2);
    assert.equal(m.tokens, 6);
    close(m.perplexity, Math.exp(14 / 6));
    close(m.self_bleu4, Math.pow(0.1, 0.25));
    close(m.zipf, 1); // token 7 four times, token 8 twice
    assert.deepEqual([m.repeating, m.repetition_percent], [0, 0]);
    // EOS is left out of the loop test only: a loop cut by EOS still ends in it.
    const eos = degenerationMetrics([text([1, 2, 1, 2, 1, 2, 0], -1, true), text([1, 2, 1, 2, 1, 2, 0], -1, false)]);
    assert.deepEqual([eos.repeating, eos.repetition_percent, eos.tokens], [1, 50, 14]);
    // One text without logprobs (a server that gave none) leaves the perplexity unknown, not partial.
    assert.equal(degenerationMetrics([text([1, 2], -1), { token_ids: [3], logprobs: null, ends_with_eos: false }]).perplexity, null);
    assert.deepEqual(degenerationMetrics([]), { texts: 0, tokens: 0, perplexity: null, self_bleu4: null, zipf: null, repeating: 0, repetition_percent: null });
  });

  it('matches a preset to the paper\'s method by its settings, Wander\'s defaults aside', () => {
    assert.equal(paperMethod({ temperature: 0, max_tokens: 96 }), 'Greedy');
    assert.equal(paperMethod({ temperature: 1 }), 'Pure Sampling');
    assert.equal(paperMethod({ top_k: 40, temperature: 0.7 }), 'Top-k=40, t=0.7');
    assert.equal(paperMethod({ num_beams: 16, length_penalty: 1, early_stopping: false, top_p: 1 }), 'Beam, b=16');
    assert.equal(paperMethod({ top_p: 0.95, seed: 4, n: 1, stop: ['\n'] }), 'Nucleus p=0.95');
    assert.equal(paperMethod({ top_k: 40, top_p: 0.95 }), null); // two truncations: no such row
    assert.equal(paperMethod({ num_beams: 4 }), null);
    assert.equal(paperMethod({ min_p: 0.1 }), null);
    assert.deepEqual(HOLTZMAN_2020.rows.map((r) => r.method), [
      'Human', 'Greedy', 'Beam, b=16', 'Stochastic Beam, b=16', 'Pure Sampling', 'Sampling, t=0.9', 'Top-k=40', 'Top-k=640', 'Top-k=40, t=0.7', 'Nucleus p=0.95',
    ]);
  });
});

const VIEW = `name: t1
models: [{ model: a.gguf, label: tiny }, { model: b.gguf, label: big }]
view: degeneration
prompts:
  - { label: p1, text: "P1", continuation: " c1" }
  - { label: p2, text: "P2", continuation: " c2" }
  - { label: p3, text: "P3", continuation: " c3" }
presets:
  greedy: { temperature: 0 }
  top_k40: { top_k: 40 }
  min_p: { min_p: 0.1 }
samples: 2
seeds: [4, 9]
max_tokens: 8
`;

/** A stored sample made by hand: `lp` the logprob of every token. */
const sample = (index: number, token_ids: number[], lp: number, finish: Sample['finish_reason'] = 'max_tokens'): Sample => ({
  index, text: token_ids.join(' '), token_ids, finish_reason: finish,
  token_logprobs: token_ids.map(() => lp), token_entropy_bits: token_ids.map(() => 1), token_sampled_entropy_bits: token_ids.map(() => 1),
});

describe('the degeneration view', () => {
  it('pools the first sample of each prompt per model and decoder, beside the human continuations and the paper', () => {
    const spec = parseExperiment(VIEW, 't1.yaml');
    const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
    const cells = store.syncExperiment('t1', spec, 't1.yaml', planCells(spec));
    const tiny = store.saveModel({ path: 'a.gguf', architecture: 'gpt2', family: 'gpt2', format: 'gguf', parameters: 1000, vocab_size: 64, context_length: 128 });
    const big = store.saveModel({ path: 'b.gguf', architecture: 'gpt2', family: 'gpt2', format: 'gguf', parameters: 9000, vocab_size: 64, context_length: 128 });
    for (const c of cells) store.setCellModel(c.id, c.model_spec === 'a.gguf' ? tiny : big, c.settings);
    const cell = (model: string, preset: string, prompt: string) => cells.find((c) => c.model_label === model && c.preset === preset && c.prompt_label === prompt)!;
    const put = (model: string, preset: string, prompt: string, seed: number, s: Sample) => store.insertSample(cell(model, preset, prompt).id, seed, s, { tokens: 2, ms: 0 });
    // Greedy (one sample per prompt): two texts end in a loop, one does not; tokens 1 and 2 only.
    put('tiny', 'greedy', 'p1', 4, sample(0, [1, 2, 1, 2, 1, 2], -1));
    put('tiny', 'greedy', 'p2', 4, sample(0, [1, 1, 1, 1, 1, 1], -1));
    put('tiny', 'greedy', 'p3', 4, sample(0, [1, 1, 2, 1, 1, 1], -1));
    // top_k40: the first sample of each prompt (seed 4, index 0) counts; the others loop, and must not.
    const firsts = [[10, 11, 12, 13], [10, 11, 12, 14], [20, 21, 22, 23]];
    firsts.forEach((ids, i) => {
      put('tiny', 'top_k40', `p${i + 1}`, 4, sample(0, ids, -2, i === 2 ? 'eos' : 'max_tokens'));
      put('tiny', 'top_k40', `p${i + 1}`, 4, sample(1, [99, 99, 99, 99, 99, 99], -0.1));
      put('tiny', 'top_k40', `p${i + 1}`, 9, sample(0, [98, 98, 98, 98, 98, 98], -0.1));
    });
    // min_p: the third prompt's sample ended in an error, so two texts are pooled.
    put('tiny', 'min_p', 'p1', 4, sample(0, [5, 6], -1));
    put('tiny', 'min_p', 'p2', 4, sample(0, [5, 7], -1));
    put('tiny', 'min_p', 'p3', 4, { index: 0, text: '', token_ids: [], finish_reason: 'error', error: 'boom' });
    put('big', 'greedy', 'p1', 4, sample(0, [3, 4], -0.5));
    // The human continuations as tiny reads them (big's are not stored: no human row for it).
    const human = [[[30, 31], [-3, -3]], [[32, 33], [-3, -1]], [[34], [-2]]] as const;
    human.forEach(([ids, lps], i) => store.saveContinuation('t1', {
      model_spec: 'a.gguf', model_id: tiny, prompt: `P${i + 1}`, chat: false, text: ` c${i + 1}`, token_ids: [...ids], logprobs: [...lps], entropies: ids.map(() => 1), prompt_tokens: 1,
    }));
    // A continuation of other text (an earlier version of the file) is not this prompt's.
    store.saveContinuation('t1', { model_spec: 'a.gguf', model_id: tiny, prompt: 'P1', chat: false, text: ' old', token_ids: [1, 1, 1, 1, 1, 1], logprobs: [0, 0, 0, 0, 0, 0], entropies: [0, 0, 0, 0, 0, 0], prompt_tokens: 1 });

    const [report] = collectReports(store, 't1');
    const view = report!.degeneration!;
    assert.deepEqual(view.rows.map((r) => `${r.decoder}/${r.model}/${r.texts}/${r.paper}`), [
      'human/tiny/3/Human', 'greedy/tiny/3/Greedy', 'greedy/big/1/Greedy', 'top_k40/tiny/3/Top-k=40', 'top_k40/big/0/Top-k=40', 'min_p/tiny/2/null', 'min_p/big/0/null',
    ]);
    const row = (decoder: string, model = 'tiny') => view.rows.find((r) => r.decoder === decoder && r.model === model)!;
    // Human: exp(mean NLL) over 5 tokens; disjoint texts, so each BLEU is method 1's smoothing alone, the
    // one-token text also paying the brevity penalty exp(1 − 2/1) against the closest length, 2.
    close(row('human').perplexity, Math.exp(12 / 5));
    close(row('human').self_bleu4, (2 * Math.pow((0.1 / 2) * 0.1 * 0.1 * 0.1, 0.25) + 0.1 * Math.exp(-1)) / 3);
    close(row('human').zipf, 0);
    assert.equal(row('human').repetition_percent, 0);
    // Greedy: tokens 1 (14 times) and 2 (4 times); the first two texts loop.
    close(row('greedy').perplexity, Math.E);
    close(row('greedy').zipf, Math.log(14 / 4) / Math.log(2));
    assert.deepEqual([row('greedy').repeating, row('greedy').texts], [2, 3]);
    close(row('greedy').repetition_percent, 200 / 3);
    // Each against the other two (clipped 1- to 4-gram precisions; no 4-gram matches, so 0.1 / 3):
    // "1 2 1 2 1 2" 4/6, 2/5, 1/4; "1 1 1 1 1 1" 5/6, 3/5, 1/4; "1 1 2 1 1 1" 6/6, 5/5, 2/4.
    const bleu = (p1: number, p2: number, p3: number) => Math.pow(p1 * p2 * p3 * (0.1 / 3), 0.25);
    close(row('greedy').self_bleu4, (bleu(4 / 6, 2 / 5, 1 / 4) + bleu(5 / 6, 3 / 5, 1 / 4) + bleu(1, 1, 2 / 4)) / 3);
    // top_k40: the two first texts share 3 of 4 tokens; the third shares nothing (its EOS aside, it ends no loop).
    const shared = Math.pow(0.75 * (2 / 3) * 0.5 * 0.1, 0.25), alone = Math.pow((0.1 / 4) * (0.1 / 3) * (0.1 / 2) * 0.1, 0.25);
    close(row('top_k40').self_bleu4, (2 * shared + alone) / 3);
    close(row('top_k40').perplexity, Math.exp(2));
    assert.deepEqual([row('top_k40').repeating, row('top_k40').tokens], [0, 12]);
    assert.deepEqual(row('min_p'), { ...row('min_p'), ...degenerationMetrics([text([5, 6], -1), text([5, 7], -1)]) });
    assert.equal(row('top_k40', 'big').perplexity, null);
    assert.deepEqual(view.unmatched, ['Beam, b=16', 'Stochastic Beam, b=16', 'Pure Sampling', 'Sampling, t=0.9', 'Top-k=640', 'Top-k=40, t=0.7', 'Nucleus p=0.95']);
    assert.deepEqual(view.notes, [
      'No human row for big: its continuations are scored by the sweep under Wander\'s own engine (a server or llama.cpp gives no teacher-forced log-probabilities); run the sweep again if the model is Wander\'s.',
      'Compare each row with the human row, as the paper does, rather than with the paper\'s figures: perplexity depends on the model and its vocabulary, and Self-BLEU on how many texts are pooled (the paper compares each generation with 4,999 others, this view with the other 2).',
      'greedy is deterministic: the sweep ran it once per prompt (the first seed only), whatever samples and seeds the file asks for.',
      'The file asks for 4 samples per cell (samples × seeds); this view takes the first of each (seed 4, sample 0), one generation per prompt as the paper draws.',
      'Some rows pool fewer generations than there are prompts (3): greedy on big (1), top_k40 on big (0), min_p on tiny (2), min_p on big (0) — the sweep has not finished, or samples ended in errors.',
    ]);

    // The same view in Markdown (ours, then the paper's figures on a decoder's first row), JSON and HTML.
    const md = markdownReport(report!);
    assert.ok(md.includes('greedy is deterministic (greedy, beam or contrastive search): run once per prompt, first seed only — 1 sample per cell, where the other presets have 4.'));
    assert.ok(md.includes('| decoder | model | n | perplexity | Self-BLEU-4 | Zipf | repetition % | paper: method | paper: perplexity | paper: Self-BLEU-4 | paper: Zipf | paper: repetition % | paper: HUSE |'));
    assert.ok(md.includes(`| human | tiny | 3 | ${Math.exp(12 / 5).toFixed(2)} | ${row('human').self_bleu4!.toFixed(3)} | 0.000 | 0.0 (0) | Human | 12.38 | 0.31 | 0.93 | 0.28 | — |`));
    assert.ok(md.includes(`| greedy | tiny | 3 | 2.72 | ${row('greedy').self_bleu4!.toFixed(3)} | 1.807 | 66.7 (2) | Greedy | 1.50 | 0.50 | 1.00 | 73.66 | — |\n|  | big | 1 | 1.65 | — | 0.000 | 0.0 (0) |  |  |  |  |  |  |`));
    assert.ok(md.includes('| (not in Wander) |  |  |  |  |  |  | Stochastic Beam, b=16 | 19.20 | 0.28 | 0.91 | 0.32 | — |'));
    assert.ok(md.includes('| (not run here) |  |  |  |  |  |  | Nucleus p=0.95 | 13.13 | 0.32 | 0.95 | 0.36 | 0.97 |'));
    const json = jsonReport([report!]);
    assert.deepEqual(json.degeneration!.map((v) => [v.experiment, v.rows.length, v.prompts]), [['t1', 7, 3]]);
    assert.deepEqual(json.cells.filter((c) => c.deterministic).map((c) => c.preset), Array(6).fill('greedy'));
    const html = htmlReport(report!);
    assert.equal((html.match(/<table class="degeneration">/g) ?? []).length, 1);
    assert.ok(html.includes('<td>Top-k=40, t=0.7</td><td class="num">3.48</td>'));
    store.close();

    // Without the view, neither the view nor its JSON key.
    const plain = ResultsStore.open(join(tempDir(), 'p.sqlite'));
    const noView = parseExperiment(VIEW.replace('view: degeneration\n', ''));
    plain.syncExperiment('t1', noView, undefined, planCells(noView));
    const [r] = collectReports(plain);
    assert.equal('degeneration' in r!, false);
    assert.equal('degeneration' in jsonReport([r!]), false);
    assert.doesNotMatch(markdownReport(r!), /Table 1/);
    plain.close();
  });

  it('reads a database from before continuations were stored, and migrates it when written', () => {
    const path = join(tempDir(), 'v1.sqlite');
    const db = new Database(path);
    db.exec(MIGRATIONS[0]!);
    db.pragma('user_version = 1');
    db.close();
    const reader = ResultsStore.open(path, { readonly: true });
    assert.deepEqual(reader.continuations('any'), []);
    reader.close();
    const writer = ResultsStore.open(path);
    writer.close();
    const check = new Database(path, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), 2);
    assert.ok(check.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'continuations'`).get());
    check.close();
  });
});

const FORM = `name: d
models: [ladder:small]
view: degeneration
prompts:
  - { label: a, text: "And God said", continuation: " unto Moses" }
  - { label: b, text: "In the beginning", continuation: " was the Word" }
presets:
  greedy: { temperature: 0 }
max_tokens: 8
`;

describe('degeneration experiment files', () => {
  const bad = (from: string, to: string) => () => parseExperiment(FORM.replace(from, to), 'd.yaml');

  it('refuse what a sweep cannot store or measure, naming file, line and preset', () => {
    assert.throws(bad('greedy: { temperature: 0 }', 'beam4: { num_beams: 4, num_return_sequences: 4 }'),
      userError('d.yaml:8: presets.beam4.num_return_sequences must be 1 in a sweep (a beam preset stores one sequence per prompt: its best beam), got 4', 'presets'));
    assert.throws(bad('greedy: { temperature: 0 }', 'greedy: { temperature: 0 }\n  beam: { num_beams: 2, num_return_sequences: 2 }'),
      userError('d.yaml:9: presets.beam.num_return_sequences must be 1 in a sweep (a beam preset stores one sequence per prompt: its best beam), got 2', 'presets'));
    assert.deepEqual(parseExperiment(FORM.replace('{ temperature: 0 }', '{ num_beams: 4, num_return_sequences: 1 }')).presets[0]!.settings, { num_beams: 4, num_return_sequences: 1 });
    assert.throws(bad(', continuation: " was the Word"', ''),
      userError('d.yaml:6: prompts[1] has no continuation, but prompts[0] has one: give every prompt its human continuation, or none', 'prompts'));
    assert.throws(bad('  - { label: b, text: "In the beginning", continuation: " was the Word" }\n', ''),
      userError('d.yaml:3: view degeneration pools one generation per prompt over the prompts: it needs at least 2 prompts, got 1', 'view'));
    assert.throws(bad('view: degeneration', 'view: table1'),
      userError('d.yaml:3: view must be degeneration (Holtzman et al. 2020\'s Table 1: one generation per prompt, pooled over the prompts), got "table1"', 'view'));
    assert.throws(bad('continuation: " unto Moses"', 'continuation: ""'),
      userError('d.yaml:5: prompts[0].continuation must be a non-empty string (the text that follows the prompt in its source), got ""', 'prompts'));
    assert.throws(bad('continuation: " unto Moses"', 'human: " unto Moses"'),
      userError('d.yaml:5: prompts[0].human is not a field (allowed: text, label, chat, continuation)', 'prompts'));
    const spec = parseExperiment(FORM);
    assert.deepEqual([spec.view, spec.prompts[1]], ['degeneration', { text: 'In the beginning', label: 'b', chat: false, continuation: ' was the Word' }]);
  });

  it('plan deterministic presets once per prompt: the first seed\'s sample 0', () => {
    const spec = parseExperiment(FORM.replace('greedy: { temperature: 0 }', `greedy: { temperature: 0 }
  beam: { num_beams: 3 }
  contrastive: { penalty_alpha: 0.6, top_k: 4 }
  noisy: { temperature: 0, noise: ["hook=blocks.0.hook_resid_post,sigma=0.1"] }
  noisy-beam: { num_beams: 2, noise: ["hook=blocks.0.hook_resid_post,sigma=0.1"] }
  sampled-beam: { num_beams: 2, do_sample: true }
  warm: { temperature: 0.7 }`).replace('max_tokens: 8', 'max_tokens: 8\nsamples: 5\nseeds: [3, 8]'));
    const cells = planCells(spec).filter((c) => c.prompt_label === 'a');
    // Noise is keyed on the seed and beam sampling draws from it: those searches run once per seed.
    assert.deepEqual(cells.map((c) => [c.preset, c.samples, c.seeds]), [
      ['greedy', 1, [3]], ['beam', 1, [3]], ['contrastive', 1, [3]], ['noisy', 5, [3, 8]], ['noisy-beam', 1, [3, 8]], ['sampled-beam', 1, [3, 8]], ['warm', 5, [3, 8]],
    ]);
    assert.equal(isDeterministic({ num_beams: 4, do_sample: true }), false);
    assert.equal(isDeterministic({ num_beams: 4 }), true);
    assert.equal(isDeterministic({}), false);
  });
});

describe('a degeneration sweep on ladder:small', () => {
  it('stores one sequence per prompt for deterministic presets, raw model logprobs, and the scored continuations', async () => {
    const spec = parseExperiment(`name: real
models: [ladder:small]
view: degeneration
prompts:
  - { label: Rev1:8, text: "I am Alpha and Omega, the beginning and the ending, saith the Lord,", continuation: " which is, and which was, and which is to come, the Almighty." }
  - { label: Heb11:1, text: "Now faith is the substance of things hoped for,", continuation: " the evidence of things not seen." }
  - { label: Jas1:5, text: "If any of you lack wisdom, let him ask of God,", continuation: " that giveth to all men liberally, and upbraideth not; and it shall be given him." }
presets:
  greedy: { temperature: 0 }
  warm: { temperature: 0.7, top_k: 40 }
  beam3: { num_beams: 3 }
  contrastive: { penalty_alpha: 0.6, top_k: 4 }
samples: 2
seeds: [5, 6]
max_tokens: 12
`);
    const path = join(tempDir(), 'r.sqlite');
    const store = ResultsStore.open(path);
    const logged: string[] = [];
    const r = await runSweep(spec, store, { threads: 1, onLog: (l) => logged.push(l) });
    // 3 prompts × (greedy, beam and contrastive search 1 each + warm 2 seeds × 2 samples).
    assert.deepEqual([r.cells, r.generated, r.errors], [12, 21, 0]);
    assert.ok(logged.includes('ladder:small: scored 3 human continuations'), logged.join('\n'));
    const cells = store.cells('real');
    for (const c of cells) {
      const samples = store.samples(c);
      if (c.preset === 'warm') assert.deepEqual(samples.map((s) => `${s.seed}/${s.sample_index}`), ['5/0', '5/1', '6/0', '6/1']);
      else assert.deepEqual(samples.map((s) => `${s.seed}/${s.sample_index}/${s.token_ids.length}`), ['5/0/12']);
    }

    // Each stored logprob is the model's own at temperature 1, untruncated: a teacher-forced pass over
    // prompt + generation gives the same, though the token was drawn at T 0.7 from the top 40.
    const model = loadModel(embeddedModel('ladder:small'));
    const warm = cells.find((c) => c.preset === 'warm' && c.prompt_label === 'Heb11:1')!;
    const s = store.samples(warm)[3]!;
    const promptIds = model.tokenizer.encode(warm.prompt);
    const teacher = scoreTokens(model, [...promptIds, ...s.token_ids]).tokens.slice(promptIds.length);
    teacher.forEach((t, i) => assert.ok(Math.abs(t.logprob! - s.logprobs[i]!) < 1e-4, `token ${i}: ${t.logprob} vs ${s.logprobs[i]}`));
    for (const preset of ['beam3', 'contrastive']) {
      const searched = cells.find((c) => c.preset === preset && c.prompt_label === 'Rev1:8')!;
      const b = store.samples(searched)[0]!;
      const bIds = model.tokenizer.encode(searched.prompt);
      scoreTokens(model, [...bIds, ...b.token_ids]).tokens.slice(bIds.length).forEach((t, i) => assert.ok(Math.abs(t.logprob! - b.logprobs[i]!) < 1e-4, `${preset} token ${i}`));
    }

    // The human continuations, scored after their prompts: the same teacher-forced logprobs.
    const scored = store.continuations('real');
    assert.equal(scored.length, 3);
    for (const c of scored) {
      const ids = model.tokenizer.encode(c.prompt + c.text);
      assert.equal(c.prompt_tokens, model.tokenizer.encode(c.prompt).length);
      assert.deepEqual(c.token_ids, ids.slice(c.prompt_tokens));
      const all = scoreTokens(model, ids).tokens.slice(c.prompt_tokens);
      all.forEach((t, i) => close(c.logprobs[i], t.logprob!, 1e-9));
    }
    model.close();

    const [report] = collectReports(store, 'real');
    const human = report!.degeneration!.rows.find((x) => x.human)!;
    const nll = scored.flatMap((c) => c.logprobs).reduce((a, x) => a - x, 0) / scored.reduce((n, c) => n + c.token_ids.length, 0);
    close(human.perplexity, Math.exp(nll), 1e-9);
    assert.deepEqual(report!.degeneration!.rows.map((x) => `${x.decoder}:${x.texts}`), ['human:3', 'greedy:3', 'warm:3', 'beam3:3', 'contrastive:3']);
    // A second run has nothing left to do.
    const again = await runSweep(spec, store, { threads: 1 });
    assert.deepEqual([again.upToDate, again.generated], [true, 0]);
    store.close();
  });

  it('refuses a continuation that does not fit the context, before generating anything', async () => {
    const long = ' and the LORD spake'.repeat(40);
    const spec = parseExperiment(FORM.replace('continuation: " unto Moses"', `continuation: "${long}"`));
    const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
    const model = loadModel(embeddedModel('ladder:small'));
    const n = model.tokenizer.encode(`And God said${long}`).length;
    model.close();
    await assert.rejects(runSweep(spec, store, { threads: 1 }), userError(`models[0] (ladder:small), prompt "a": the prompt and its continuation are ${n} tokens, more than the model's context of 128; shorten them so the continuation is scored as the model would generate it`, 'prompts'));
    assert.equal(store.cells('d').reduce((k, c) => k + store.samples(c).length, 0), 0);
    store.close();
  });
});

describe('experiments/degeneration.yaml', () => {
  const spec = loadExperiment(join(ROOT, 'experiments', 'degeneration.yaml'));

  it('holds 30 passages of P = 32 tokens, each with its C = 96-token continuation, as the ladder reads them', () => {
    const model = loadModel(embeddedModel('ladder:small'));
    const tok = model.tokenizer;
    model.close();
    assert.equal(spec.prompts.length, 30);
    assert.equal(spec.max_tokens, 96);
    for (const p of spec.prompts) {
      const prompt = tok.encode(p.text), whole = tok.encode(p.text + p.continuation!);
      assert.deepEqual([prompt.length, whole.length], [32, 128], p.label);
      assert.deepEqual(whole.slice(0, 32), prompt, `${p.label}: the continuation starts a new token`);
    }
  });

  // The corpus comes from Debian's bible-kjv (scripts/ladder-corpus.sh), installed where this runs.
  const bible = spawnSync('sh', ['-c', 'command -v bible']).status === 0;
  it('takes them from the end of the ladder\'s corpus that no ladder model trained on', { skip: bible ? false : 'needs the bible command (apt-get install bible-kjv)' }, () => {
    const corpus = execFileSync(join(ROOT, 'scripts', 'ladder-corpus.sh'), { encoding: 'utf8', maxBuffer: 64 << 20 });
    const model = loadModel(embeddedModel('ladder:small'));
    const tok = model.tokenizer;
    model.close();
    const ids = tok.encode(corpus);
    assert.equal(ids.length, 1_152_079); // the model card's corpus
    // The trainer holds out the last 5% of the token stream (src/train/trainer.ts, valFraction 0.05).
    const heldOut = tok.decode(ids.slice(0, Math.floor(ids.length * 0.95))).length;
    let last = heldOut;
    for (const p of spec.prompts) {
      const at = corpus.indexOf(p.text + p.continuation!, last);
      assert.ok(at >= last, `${p.label}: found in the held-out split, after the previous passage`);
      assert.equal(corpus[at - 1], '\n', `${p.label} starts a verse`);
      last = at + p.text.length + p.continuation!.length;
    }
  });
});
