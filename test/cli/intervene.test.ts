import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ResultsStore } from '../../src/experiments/store.js';
import { tempDir, wander } from '../helpers.js';



describe('interventions on the command line (the embedded default model)', () => {
  test('generate shows each sample beside the clean one, marking where they part; --json adds the clean run', () => {
    const args = ['generate', '-p', 'And it came to pass', '--temperature', '0.7', '--seed', '3', '--max-tokens', '24', '--ablate', '1.2', '--ablate', '3.*:mean'];
    const r = wander(...args);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^── sample 0: first differs at generated token \d+ \(marked ⟦\)$/);
    assert.match(lines[1]!, /^intervened {2}And it came to pass.*⟦/);
    assert.match(r.stdout, /^clean {7}And it came to pass, and said, ⟦Shebel, Why shalt not/m);
    assert.match(r.stderr, /^settings {2}temperature 0\.7 · ablate 1\.2, 3\.\*:mean · seed 3 · max_tokens 24$/m);
    const json = JSON.parse(wander(...args, '--json').stdout);
    assert.deepEqual(json.settings.ablate, ['1.2', '3.*:mean']);
    assert.equal(json.clean.samples[0].text.startsWith(', and said, Shebel'), true);
    assert.notEqual(json.samples[0].text, json.clean.samples[0].text);
  });

  test('next reports the effect next to the clean distribution', () => {
    const r = wander('next', '-p', 'And the LORD spake unto Moses, saying', '--top', '3', '--seed', '1', '--ablate', '0.*');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^effect {4}KL\(clean ‖ intervened\) 0\.\d{4} nats · top-1 unchanged \(","\) · the table is the intervened model's$/m);
    assert.match(r.stdout, /^clean {5}"," 0\.8657 {2}" unto" 0\.0592 {2}" the" 0\.0134$/m);
    const json = JSON.parse(wander('next', '-p', 'And the', '--top', '3', '--seed', '1', '--noise', 'hook=blocks.1.hook_resid_post,sigma=2', '--json').stdout);
    assert.ok(json.intervention.kl_nats > 0);
    assert.equal(json.intervention.clean_top.length, 3);
  });

  test('lens and score take the same flags, and a noise seed', () => {
    const a = wander('score', '--text', 'And God said', '--noise', 'hook=blocks.0.hook_resid_post,sigma=1', '--seed', '2', '--json');
    const b = wander('score', '--text', 'And God said', '--noise', 'hook=blocks.0.hook_resid_post,sigma=1', '--seed', '2', '--json');
    const clean = wander('score', '--text', 'And God said', '--json');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.notEqual(a.stdout, clean.stdout);
    const lens = wander('lens', '-p', 'And God said', '--ablate', '0.0', '--json');
    assert.equal(lens.code, 0, lens.stderr);
  });

  test('bad interventions: one line, exit code 2', () => {
    const cases: [string[], string][] = [
      [['next', '-p', 'x', '--ablate', '9.1'], 'wander: --ablate 9.1: layer must be from 0 to 3 (this model has 4 layers)'],
      [['next', '-p', 'x', '--ablate', '1.x'], 'wander: --ablate entry "1.x": must be L.H, L.H:zero, L.H:mean or L.* (layer and head numbers from 0)'],
      [['generate', '-p', 'x', '--noise', 'hook=blocks.0.hook_resid,sigma=1'], 'wander: --noise "blocks.0.hook_resid" matches no hook point of this model (4 layers, gpt2 family); close: blocks.0.hook_resid_pre, blocks.0.hook_resid_mid'],
      [['lens', '-p', 'x', '--patch-from', 'missing.safetensors'], 'wander: --patch-from missing.safetensors: cannot open (ENOENT)'],
    ];
    for (const [args, message] of cases) {
      const r = wander(...args);
      assert.deepEqual([r.code, r.stderr], [2, message + '\n'], args.join(' '));
    }
  });

  test('a sweep preset may intervene: the notes\' head ablation as an experiment', () => {
    const dir = tempDir(), file = join(dir, 'ablation.yaml'), db = join(dir, 'r.sqlite');
    writeFileSync(file, 'name: ablation\nmodels: [ladder:small]\nprompts: ["And God said"]\npresets:\n  clean: { temperature: 0 }\n  no-layer-0: { temperature: 0, ablate: ["0.*"] }\nsamples: 1\nmax_tokens: 8\n');
    const r = wander('sweep', file, '--db', db);
    assert.equal(r.code, 0, r.stderr);
    const store = ResultsStore.open(db, { readonly: true });
    try {
      const cells = store.cells('ablation');
      assert.deepEqual(cells.map((c) => c.preset), ['clean', 'no-layer-0']);
      const texts = cells.map((c) => store.samples(c)[0]!.text);
      assert.notEqual(texts[0], texts[1]);
    } finally {
      store.close();
    }
  });
});
