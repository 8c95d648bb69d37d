import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DType } from '../../src/formats/tensor-types.js';
import { fixture, WIDE } from '../fixtures/models.js';
import { needsShared, ROOT, sharedModel, tempDir } from '../helpers.js';

const BIN = join(ROOT, 'bin', 'wander.mjs');

function wander(...args: string[]): { code: number; stdout: string; stderr: string } {
  // (A report of a large experiment, such as degeneration.yaml's 1,260 cells, prints more than spawnSync's default 1 MB.)
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every stored sample keyed by cell and (seed, index), for comparing two databases. */
function dump(path: string): Map<string, string> {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare(`SELECT c.key, s.seed, s.sample_index, s.token_ids, s.text, s.logprobs FROM samples s JOIN cells c ON c.id = s.cell_id`).all() as Record<string, unknown>[];
  db.close();
  return new Map(rows.map((r) => [`${r['key']}|${r['seed']}/${r['sample_index']}`, `${r['token_ids']} ${r['logprobs']} ${JSON.stringify(r['text'])}`]));
}

const countSamples = (path: string): number => {
  if (!existsSync(path)) return 0;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM samples').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; // not created yet
  }
};

describe('wander sweep (command line)', () => {
  it('survives kill -9: whole samples only, and the re-run completes exactly the uninterrupted result', async () => {
    const dir = tempDir();
    const file = join(dir, 'long.yaml');
    writeFileSync(file, `name: long\nmodels: [${JSON.stringify(fixture('gguf', WIDE.llama, DType.F32))}]\nprompts: ["The cat sat"]\npresets:\n  hot: { temperature: 1.5 }\nsamples: 120\nseed: 5\nmax_tokens: 48\nmax_batch_size: 1\n`);
    const db = join(dir, 'killed.sqlite');
    const child = spawn(process.execPath, [BIN, 'sweep', file, '--db', db, '--threads', '1'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let stored = 0;
    for (let i = 0; i < 3000 && stored < 5 && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 10));
      stored = countSamples(db);
    }
    assert.equal(child.exitCode, null, 'the sweep finished before it could be killed; make it longer');
    child.kill('SIGKILL');
    await exited;
    const atKill = countSamples(db);
    assert.ok(atKill >= 5 && atKill < 120, `${atKill} samples stored when killed`);
    const check = new Database(db);
    assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
    for (const r of check.prepare('SELECT token_ids, completion_tokens, entropies FROM samples').all() as { token_ids: string; completion_tokens: number; entropies: string }[]) {
      assert.equal(JSON.parse(r.token_ids).length, r.completion_tokens);
      assert.equal(JSON.parse(r.entropies).length, r.completion_tokens);
    }
    check.close();

    const resumed = wander('sweep', file, '--db', db, '--threads', '1');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`^${atKill} samples already stored; generating the other ${120 - atKill}$`, 'm'));
    const again = wander('sweep', file, '--db', db);
    assert.equal(again.stdout, `long: already complete in ${db} (120 samples in 1 cells); --force runs it again\n`);

    const whole = join(dir, 'whole.sqlite');
    assert.equal(wander('sweep', file, '--db', whole, '--threads', '1').code, 0);
    assert.deepEqual(dump(db), dump(whole));
  });

  it('stops at once on Ctrl-C (SIGINT), keeping what was stored', async () => {
    const dir = tempDir();
    const file = join(dir, 'long.yaml');
    writeFileSync(file, `name: long\nmodels: [${JSON.stringify(fixture('gguf', WIDE.llama, DType.F32))}]\nprompts: ["A dog"]\npresets:\n  hot: { temperature: 1.5 }\nsamples: 120\nseed: 6\nmax_tokens: 48\nmax_batch_size: 1\n`);
    const db = join(dir, 'interrupted.sqlite');
    const child = spawn(process.execPath, [BIN, 'sweep', file, '--db', db, '--threads', '1'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    for (let i = 0; i < 3000 && countSamples(db) < 2 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(child.exitCode, null, 'the sweep finished before it could be interrupted');
    child.kill('SIGINT');
    assert.equal(await exited, 'SIGINT');
    const stored = countSamples(db);
    assert.ok(stored >= 2 && stored < 120, `${stored} samples stored`);
    const resumed = wander('sweep', file, '--db', db, '--threads', '1', '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual([JSON.parse(resumed.stdout).reused, JSON.parse(resumed.stdout).generated], [stored, 120 - stored]);
  });

  it('gives one clear line and exit code 2 for bad input', () => {
    const dir = tempDir();
    const missing = wander('sweep', join(dir, 'nope.yaml'));
    assert.deepEqual([missing.code, missing.stderr], [2, `wander: ${join(dir, 'nope.yaml')}: no such experiment file\n`]);
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\nmodels: [x.gguf]\nprompts: [hi]\npresets:\n  odd: { top_p: 2 }\n');
    const bad = wander('sweep', file);
    assert.deepEqual([bad.code, bad.stderr], [2, 'wander: bad.yaml:5: presets.odd.top_p must be in (0, 1] (1 = off), got 2\n']);
    writeFileSync(file, 'name: bad\nmodels: [x.gguf]\nprompts: [hi]\npresets:\n  odd: { top_p: 0.5 }\n');
    const noModel = wander('sweep', file, '--db', join(dir, 'r.sqlite'));
    assert.deepEqual([noModel.code, noModel.stderr.split('\n').at(-2)], [2, 'wander: models[0]: x.gguf: no such file or folder (give a .gguf file, a model folder, ladder:<size>, hf:<owner>/<repo> or ollama:<name>)']);
    const noDir = wander('sweep', file, '--db', join(dir, 'none', 'r.sqlite'));
    assert.deepEqual([noDir.code, noDir.stderr], [2, `wander: ${join(dir, 'none', 'r.sqlite')}: cannot create the database: folder ${join(dir, 'none')} does not exist\n`]);
    const samples = wander('sweep', file, '--samples', 'many');
    assert.deepEqual([samples.code, samples.stderr], [2, 'wander: --samples must be an integer, got "many"\n']);
    const report = wander('report', join(dir, 'absent.sqlite'));
    assert.deepEqual([report.code, report.stderr], [2, `wander: ${join(dir, 'absent.sqlite')}: no such results database (run wander sweep first)\n`]);
  });
});

const SHARED = ['stories260K.gguf', 'llamacpp-tiny-gpt2.gguf', 'llamacpp-tiny-llama.gguf'];
describe('the shipped experiments, end to end on the shared models', () => {
  const shared = needsShared(...SHARED);
  const dir = tempDir();
  const db = join(dir, 'examples.sqlite');
  const examples: [string, string, string[]][] = [
    ['eclipse.yaml', 'eclipse', ['stories260K.gguf']],
    ['random-figure.yaml', 'random-figure', ['stories260K.gguf']],
    ['temperature-ladder.yaml', 'temperature-ladder', ['stories260K.gguf']],
    ['model-size.yaml', 'model-size', SHARED],
    ['stories.yaml', 'stories', []], // its own model, a path relative to the file
    ['model-size-ladder.yaml', 'model-size-ladder', []], // the three embedded models
    ['comma-bias.yaml', 'comma-bias', []], // the embedded models, with count
    ['degeneration.yaml', 'degeneration', []], // the embedded models, Table 1 with human continuations
    ['degeneration-stories.yaml', 'degeneration-stories', []], // its own model, Table 1 without
  ];
  for (const [file, name, models] of examples) {
    const needs = ['model-size-ladder.yaml', 'comma-bias.yaml', 'degeneration.yaml'].includes(file) ? needsShared()
      : file === 'stories.yaml' || file === 'degeneration-stories.yaml' ? needsShared('stories260K.gguf') : needsShared(...models);
    it(`${file}: sweep and report`, needs, () => {
      const args = ['sweep', join(ROOT, 'experiments', file), '--db', db, '--samples', '2', '--max-tokens', '8', '--no-chat', ...models.flatMap((m) => ['--model', sharedModel(m)!])];
      const sweep = wander(...args);
      assert.equal(sweep.code, 0, sweep.stderr);
      const yaml = readFileSync(join(ROOT, 'experiments', file), 'utf8');
      const prompts = (yaml.match(/^\s+- (?:\{ )?label:/gm) ?? []).length || 1;
      const presets = (yaml.slice(yaml.indexOf('presets:')).match(/^ {2}[\w.]+:\s*\{/gm) ?? []).length;
      const report = wander('report', db, '--experiment', name, '--json');
      assert.equal(report.code, 0, report.stderr);
      const json = JSON.parse(report.stdout) as { cells: Record<string, unknown>[]; degeneration?: { rows: { decoder: string; texts: number }[] }[] };
      const cells = json.cells;
      const fileModels = (yaml.match(/^ {2}- \{ model:/gm) ?? []).length || 1;
      assert.equal(cells.length, (models.length || fileModels) * prompts * presets);
      for (const c of cells) {
        // Deterministic presets (greedy, beams) run once per prompt, whatever --samples asks.
        assert.equal(c['samples'], c['deterministic'] ? 1 : 2, `${name}: ${String(c['preset'])}`);
        for (const k of ['model', 'prompt', 'preset', 'distinct', 'distinct_1', 'distinct_2', 'distinct_3', 'self_bleu4', 'mean_entropy_bits', 'mean_logprob', 'perplexity', 'repetition_rate', 'zipf', 'finish_reasons']) assert.ok(k in c, k);
      }
      // Greedy cells give one output; the shared story model continues its prompt in English.
      const greedy = cells.filter((c) => c['preset'] === 'greedy');
      for (const c of greedy) assert.equal(c['distinct'], 1);
      // Counts only where the file asks for them; a banned comma is never counted.
      const counted = /^count:/m.test(yaml);
      for (const c of cells) assert.equal('counts' in c, counted, `${name}: counts`);
      if (name === 'comma-bias') {
        const counts = (preset: string) => cells.filter((c) => c['preset'] === preset).map((c) => (c['counts'] as Record<string, { mean: number; share: number }>));
        for (const c of counts('no_comma')) assert.deepEqual(c[','], { mean: 0, share: 0 });
        for (const c of counts('comma_5')) assert.deepEqual(Object.keys(c), [',', '.', ' and', ' LORD']);
      }
      // The degeneration view: a row per model and preset, one generation per prompt, and the human
      // rows where the prompts carry continuations (the ladder's passages, not the story openings).
      const view = json.degeneration?.[0];
      assert.equal(view !== undefined, name.startsWith('degeneration'), `${name}: degeneration view`);
      if (view) {
        const humans = name === 'degeneration' ? fileModels : 0;
        assert.equal(view.rows.length, humans + fileModels * presets);
        assert.equal(view.rows.filter((r) => r.decoder === 'human').length, humans);
        assert.ok(view.rows.every((r) => r.texts === prompts), `${name}: one text per prompt`);
      }
    });
  }

  it('writes HTML, Markdown and CSV, with the model-size view', shared, () => {
    const out = join(dir, 'report');
    const r = wander('report', db, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['eclipse', 'random-figure', 'temperature-ladder', 'model-size', 'stories', 'model-size-ladder', 'comma-bias', 'degeneration', 'degeneration-stories']) {
      for (const ext of ['html', 'md', 'csv']) assert.ok(existsSync(join(out, `${name}.${ext}`)), `${name}.${ext}`);
    }
    const md = readFileSync(join(out, 'model-size.md'), 'utf8');
    assert.match(md, /^## Across models$/m);
    // Smallest model first: stories260K (0.29M parameters), tiny-llama (2.1M), tiny-gpt2 (3.3M).
    assert.match(md, /^\| prompt \| preset \| .*stories260K\.gguf \| .*llamacpp-tiny-llama\.gguf \| .*llamacpp-tiny-gpt2\.gguf \|$/m);
    const csv = readFileSync(join(out, 'model-size.csv'), 'utf8').trimEnd().split('\r\n');
    assert.equal(csv.length, 1 + 3 * 2 * 4);
    assert.ok(csv[0]!.startsWith('experiment,model,parameters,prompt_label,prompt,preset,temperature,top_p,top_k,samples,planned,distinct,'));
    // The counted strings: a Markdown table and two CSV columns each (named with the string JSON-quoted).
    assert.match(readFileSync(join(out, 'comma-bias.md'), 'utf8'), /^\| model \| prompt \| preset \| samples \| "," mean \| "," share \| "\." mean \| "\." share \| " and" mean \| " and" share \| " LORD" mean \| " LORD" share \|$/m);
    assert.doesNotMatch(md, /Counted strings/);
    const commaCsv = readFileSync(join(out, 'comma-bias.csv'), 'utf8').trimEnd().split('\r\n');
    assert.equal(commaCsv.length, 1 + 3 * 4);
    const quoted = (s: string) => `"${s.replaceAll('"', '""')}"`;
    assert.ok(commaCsv[0]!.endsWith(`,finish_error,${[',', '.', ' and', ' LORD'].flatMap((s) => [quoted(`count_mean ${JSON.stringify(s)}`), quoted(`count_share ${JSON.stringify(s)}`)]).join(',')}`), commaCsv[0]);
    assert.match(readFileSync(join(out, 'comma-bias.html'), 'utf8'), /<section id="counts">/);
    assert.match(readFileSync(join(out, 'degeneration.md'), 'utf8'), /^## Table 1: decoders against human text \(Holtzman et al\. 2020\)$/m);
    assert.match(readFileSync(join(out, 'degeneration.html'), 'utf8'), /<section id="degeneration">/);
    assert.doesNotMatch(md, /Table 1/);
    const html = readFileSync(join(out, 'model-size.html'), 'utf8');
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'the page loads nothing from outside');
    mkdirSync(join(ROOT, 'build', 'test-artifacts'), { recursive: true });
    writeFileSync(join(ROOT, 'build', 'test-artifacts', 'model-size.html'), html);
  });
});
