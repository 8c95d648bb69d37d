import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { chatPrompt } from '../../src/generate/chat.js';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { collectReports } from '../../src/experiments/report/collect.js';
import { csvReport, jsonReport, markdownReport } from '../../src/experiments/report/tables.js';
import { parseExperiment, type ExperimentSpec } from '../../src/experiments/spec.js';
import { ResultsStore } from '../../src/experiments/store.js';
import { runSweep } from '../../src/experiments/sweep.js';
import { DType } from '../../src/formats/tensor-types.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { tempDir, userError } from '../helpers.js';

const MODEL = fixture('gguf', SMALL.llama, DType.F32);

function spec(extra = '', samples = 4): ExperimentSpec {
  return parseExperiment(`name: t
models: [${JSON.stringify(MODEL)}]
prompts: ["The cat", "A dog"]
presets:
  greedy: { temperature: 0 }
  warm: { temperature: 1.2, top_k: 20 }
samples: ${samples}
seeds: [7, 8]
max_tokens: 6
max_batch_size: 3
${extra}`);
}

/** Every stored sample as "cell preset/prompt seed/index → token ids", for comparing databases. */
function dump(path: string): Map<string, string> {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare(`SELECT c.prompt, c.preset, s.seed, s.sample_index, s.token_ids, s.text FROM samples s JOIN cells c ON c.id = s.cell_id`).all() as Record<string, unknown>[];
  db.close();
  return new Map(rows.map((r) => [`${r['prompt']}|${r['preset']}|${r['seed']}/${r['sample_index']}`, `${r['token_ids']} ${JSON.stringify(r['text'])}`]));
}

describe('sweep', () => {
  it('stores every sample with its tokens, logprobs, entropies, finish reason and counts', async () => {
    const path = join(tempDir(), 'r.sqlite');
    const store = ResultsStore.open(path);
    const r = await runSweep(spec(), store);
    assert.deepEqual({ ...r, elapsedMs: 0, tokens: 0 }, { experiment: 't', cells: 4, reused: 0, generated: 18, errors: 0, tokens: 0, elapsedMs: 0, upToDate: false });
    const cells = store.cells('t');
    // Greedy is deterministic: one sample per prompt (seed 7's sample 0), not 2 seeds × 4 identical ones.
    assert.deepEqual(cells.map((c) => store.samples(c).map((x) => `${x.seed}/${x.sample_index}`).join(' ')), ['7/0', '7/0 7/1 7/2 7/3 8/0 8/1 8/2 8/3', '7/0', '7/0 7/1 7/2 7/3 8/0 8/1 8/2 8/3']);
    assert.deepEqual(cells.map((c) => `${c.prompt}/${c.preset}`), ['The cat/greedy', 'The cat/warm', 'A dog/greedy', 'A dog/warm']);
    assert.equal(cells[1]!.resolved!['temperature'], 1.2);
    assert.equal(cells[1]!.resolved!['top_k'], 20);
    const samples = store.samples(cells[1]!);
    assert.equal(samples.length, 8);
    // Sample (seed 8, index 2) is exactly what generate() gives for that seed and index.
    const model = loadModel(MODEL);
    const direct = generate(model, 'The cat', { temperature: 1.2, top_k: 20, max_tokens: 6, seed: 8, n: 4, top_logprobs: 1 });
    model.close();
    const stored = samples.find((s) => s.seed === 8 && s.sample_index === 2)!;
    assert.deepEqual(stored.token_ids, direct.samples[2]!.token_ids);
    assert.equal(stored.text, direct.samples[2]!.text);
    // Stored logprobs come from the f32 SIMD exp kernel; the report's from a float64 loop.
    direct.samples[2]!.logprobs!.forEach((lp, i) => assert.ok(Math.abs(lp.logprob - stored.logprobs[i]!) < 1e-5, `logprob ${i}`));
    assert.equal(stored.entropies.length, stored.token_ids.length);
    assert.equal(stored.sampled_entropies.length, stored.token_ids.length);
    assert.ok(stored.sampled_entropies.every((h) => h > 0 && h <= Math.log2(20) + 1e-9), 'top_k 20 leaves at most 20 tokens');
    assert.ok(store.samples(cells[0]!).every((g) => g.sampled_entropies.every((h) => h === 0)), 'greedy draws from one token');
    assert.ok(stored.entropies.every((h) => h >= 0 && h <= Math.log2(model.config.vocabSize) + 1e-9));
    assert.equal(stored.prompt_tokens, direct.usage.prompt_tokens);
    assert.equal(stored.completion_tokens, stored.token_ids.length);
    assert.equal(stored.finish_reason, direct.samples[2]!.finish_reason);
    assert.equal(store.experiment('t')!.finished_at !== null, true);
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('user_version', { simple: true }), 2);
    db.close();
    store.close();
  });

  it('resumes: stored samples are kept, missing ones generated, and the result equals an uninterrupted run', async () => {
    const dir = tempDir();
    const whole = ResultsStore.open(join(dir, 'whole.sqlite'));
    await runSweep(spec('', 6), whole);
    whole.close();

    const store = ResultsStore.open(join(dir, 'parts.sqlite'));
    assert.equal((await runSweep(spec('', 2), store)).generated, 10); // 2 greedy + 2 warm cells × 2 seeds × 2
    const second = await runSweep(spec('', 6), store);
    assert.equal(second.reused, 10);
    assert.equal(second.generated, 16);
    const again = await runSweep(spec('', 6), store);
    assert.equal(again.upToDate, true);
    assert.equal(again.generated, 0);
    store.close();
    assert.deepEqual(dump(join(dir, 'parts.sqlite')), dump(join(dir, 'whole.sqlite')));

    const forced = ResultsStore.open(join(dir, 'parts.sqlite'));
    const f = await runSweep(spec('', 6), forced, { force: true });
    assert.equal(f.generated, 26);
    assert.equal(f.reused, 0);
    forced.close();
    assert.deepEqual(dump(join(dir, 'parts.sqlite')), dump(join(dir, 'whole.sqlite')));
  });

  it('stops on a full disk with a clear message, keeping every sample stored before it', async () => {
    const path = join(tempDir(), 'full.sqlite');
    // The schema and the cells' resolved settings take the first pages; a few samples fit after them.
    const store = ResultsStore.open(path, { maxPageCount: 20 });
    await assert.rejects(runSweep(spec('', 40), store), userError(`${path}: cannot store a sample: the disk is full (or the database reached its size limit); free some space and run again — every sample stored so far is kept`, 'db'));
    store.close();
    const db = new Database(path);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const rows = db.prepare('SELECT token_ids, completion_tokens, logprobs FROM samples').all() as { token_ids: string; completion_tokens: number; logprobs: string }[];
    db.close();
    assert.ok(rows.length > 0 && rows.length < 162, `${rows.length} samples stored`);
    for (const r of rows) {
      assert.equal(JSON.parse(r.token_ids).length, r.completion_tokens);
      assert.equal(JSON.parse(r.logprobs).length, r.completion_tokens);
    }
    // With room again, the sweep finishes what is missing.
    const resumed = ResultsStore.open(path);
    const r = await runSweep(spec('', 40), resumed);
    assert.equal(r.reused, rows.length);
    assert.equal(r.generated, 162 - rows.length); // 2 greedy cells × 1 + 2 warm cells × 2 seeds × 40
    resumed.close();
  });

  it('counts the file\'s strings at report time, from the database alone', async () => {
    const path = join(tempDir(), 'r.sqlite');
    const store = ResultsStore.open(path);
    await runSweep(spec('count: [" ", "e", "never-generated"]'), store);
    store.close();
    // A report is made later, from the file alone: the count list is stored with the spec.
    const reader = ResultsStore.open(path, { readonly: true });
    const [report] = collectReports(reader);
    assert.deepEqual(report!.count, [' ', 'e', 'never-generated']);
    const cells = reader.cells('t');
    for (const [i, cell] of cells.entries()) {
      const texts = reader.samples(cell).map((x) => x.text);
      const expect = (needle: string) => ({
        mean: texts.reduce((n, t) => n + t.split(needle).length - 1, 0) / texts.length,
        share: texts.filter((t) => t.includes(needle)).length / texts.length,
      });
      assert.deepEqual(report!.cells[i]!.metrics.counts, { ' ': expect(' '), e: expect('e'), 'never-generated': { mean: 0, share: 0 } });
    }
    assert.ok(report!.cells.some((c) => (c.metrics.counts!['e']!.share ?? 0) > 0), 'the fixture model writes an "e" somewhere');
    const json = jsonReport([report!]).cells;
    assert.deepEqual(json.map((c) => c.counts), report!.cells.map((c) => c.metrics.counts));
    assert.match(markdownReport(report!), /^\| model \| prompt \| preset \| samples \| " " mean \| " " share \| "e" mean \| "e" share \| "never-generated" mean \| "never-generated" share \|$/m);
    assert.equal(csvReport(report!).split('\r\n')[1]!.split(',').slice(-2).join(','), '0,0');
    reader.close();

    // Editing the list and sweeping again generates nothing and changes what the report counts.
    const again = ResultsStore.open(path);
    assert.equal((await runSweep(spec('count: [e]'), again)).generated, 0);
    const [edited] = collectReports(again);
    assert.deepEqual(edited!.count, ['e']);
    assert.deepEqual(Object.keys(edited!.cells[0]!.metrics.counts!), ['e']);
    // Without count, no counts anywhere.
    await runSweep(spec(), again);
    const [plain] = collectReports(again);
    assert.equal('count' in plain!, false);
    assert.ok(jsonReport([plain!]).cells.every((c) => !('counts' in c)));
    assert.doesNotMatch(markdownReport(plain!), /Counted strings/);
    assert.doesNotMatch(csvReport(plain!), /count_mean/);
    again.close();
  });

  it('refuses a missing model before storing anything', async () => {
    const path = join(tempDir(), 'r.sqlite');
    const store = ResultsStore.open(path);
    const s = parseExperiment(`name: t\nmodels: [${JSON.stringify(MODEL)}, nowhere.gguf]\nprompts: [a]\npresets: { p: { temperature: 0 } }\n`);
    await assert.rejects(runSweep(s, store), userError('models[1]: nowhere.gguf: no such file or folder (give a .gguf file, a model folder, ladder:<size>, hf:<owner>/<repo> or ollama:<name>)', 'models'));
    assert.deepEqual(store.experiments(), []);
    store.close();
  });

  it('uses the model\'s chat template when asked, and says so when the model has none', async () => {
    const dir = join(tempDir(), 'chat-model');
    cpSync(fixture('hf', SMALL.llama), dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({
      chat_template: "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
    }));
    const model = loadModel(dir);
    assert.equal(chatPrompt(model, 'hi'), model.tokenizer.addBos ? '<user>hi\n<assistant>' : `${model.tokenizer.tokenText(model.tokenizer.bosId!)}<user>hi\n<assistant>`);
    model.close();
    // A chat_template.jinja file (newer repositories) wins over tokenizer_config.json.
    const jinja = join(tempDir(), 'jinja-model');
    cpSync(dir, jinja, { recursive: true });
    writeFileSync(join(jinja, 'chat_template.jinja'), '{% for m in messages %}[{{ m.content }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}');
    const j = loadModel(jinja);
    assert.equal(chatPrompt(j, 'hi'), '[hi]>');
    j.close();

    const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
    const s = parseExperiment(`name: c\nmodels: [${JSON.stringify(dir)}]\nchat: true\nprompts: [hi]\npresets: { p: { temperature: 0 } }\nsamples: 1\nmax_tokens: 3\n`);
    await runSweep(s, store);
    assert.equal(store.cells('c')[0]!.resolved!['chat_prompt'], chatPrompt(loadModel(dir), 'hi'));
    const plain = parseExperiment(`name: d\nmodels: [${JSON.stringify(MODEL)}]\nchat: true\nprompts: [hi]\npresets: { p: { temperature: 0 } }\nsamples: 1\n`);
    await assert.rejects(runSweep(plain, store), userError(`${MODEL}: this model has no chat template (tokenizer.chat_template / chat_template); run the prompt without chat`, 'chat'));
    store.close();
  });
});

describe('results database', () => {
  it('refuses a database from a newer schema, a missing folder, a folder and a non-database', () => {
    const dir = tempDir();
    const newer = join(dir, 'newer.sqlite');
    const db = new Database(newer);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(() => ResultsStore.open(newer), userError(`${newer}: written by a newer Wander (results schema 99; this version reads up to 2); upgrade Wander or use another --db`, 'db'));
    assert.throws(() => ResultsStore.open(join(dir, 'no', 'such', 'r.sqlite')), userError(`${join(dir, 'no', 'such', 'r.sqlite')}: cannot create the database: folder ${join(dir, 'no', 'such')} does not exist`, 'db'));
    mkdirSync(join(dir, 'folder.sqlite'));
    assert.throws(() => ResultsStore.open(join(dir, 'folder.sqlite')), userError(`${join(dir, 'folder.sqlite')}: is a folder, not a database file`, 'db'));
    writeFileSync(join(dir, 'text.sqlite'), 'this is not a database, just some text that is long enough to have a header'.repeat(20));
    assert.throws(() => ResultsStore.open(join(dir, 'text.sqlite')), userError(`${join(dir, 'text.sqlite')}: cannot open: the file is not an SQLite database`, 'db'));
    assert.throws(() => ResultsStore.open(join(dir, 'absent.sqlite'), { readonly: true }), userError(`${join(dir, 'absent.sqlite')}: no such results database (run wander sweep first)`, 'db'));
  });
});
