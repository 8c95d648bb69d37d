import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { loadModel } from '../../src/model/load.js';
import { EMBEDDED_MODELS } from '../../src/resolve/embedded.js';
import { listModels } from '../../src/resolve/list.js';
import { resolveModelSpec } from '../../src/resolve/resolve.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { ROOT, tempDir, userError, wander, wanderWith } from '../helpers.js';



describe('models by name', () => {
  test('ladder:small, ladder:medium and ladder:large are the embedded files', async () => {
    for (const size of ['small', 'medium', 'large']) {
      assert.equal(await resolveModelSpec(`ladder:${size}`), join(ROOT, 'models', 'ladder', size, `wander-ladder-${size}.gguf`));
    }
    await assert.rejects(resolveModelSpec('ladder:huge'), userError('--model ladder:huge: no such embedded model; the embedded models are ladder:small, ladder:medium, ladder:large (wander models lists every model Wander can see)', 'model'));
  });

  test('a folder with one .gguf and no config.json loads that file, and the report names it', () => {
    const model = loadModel(join(ROOT, 'models', 'ladder', 'small'));
    assert.equal(model.path, join(ROOT, 'models', 'ladder', 'small', 'wander-ladder-small.gguf'));
    assert.equal(model.parameters, 239_360);
    model.close();
    const r = wander('next', '-m', 'models/ladder/large', '-p', 'And God said', '--top', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^model {5}wander-ladder-large\.gguf: gpt2 \(gguf\), 2\.2M parameters, context 128, vocab 2048$/m);
  });

  test('a folder with several .gguf files names them', () => {
    const dir = tempDir();
    const f = fixture('gguf', SMALL.llama, DType.F32);
    copyFileSync(f, join(dir, 'b.gguf'));
    copyFileSync(f, join(dir, 'a.gguf'));
    assert.throws(() => loadModel(dir), userError(`${dir}: the folder holds 2 .gguf files; pass one of them: a.gguf, b.gguf`, 'model'));
  });

  test('wander models lists the embedded models, then the Hugging Face cache and the Ollama store', () => {
    const home = tempDir();
    const hub = join(home, 'hub'), store = join(home, 'ollama');
    // A cached GGUF repository and a complete transformers folder, in the hub's layout.
    const snap = (repo: string) => {
      const dir = join(hub, `models--${repo.replace('/', '--')}`);
      mkdirSync(join(dir, 'refs'), { recursive: true });
      writeFileSync(join(dir, 'refs', 'main'), 'c0ffee');
      mkdirSync(join(dir, 'snapshots', 'c0ffee'), { recursive: true });
      return join(dir, 'snapshots', 'c0ffee');
    };
    copyFileSync(fixture('gguf', SMALL.llama, DType.Q8_0), join(snap('tester/tiny-gguf'), 'tiny-q8_0.gguf'));
    const hf = fixture('hf', SMALL.gpt2), folder = snap('tester/tiny-hf');
    for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) copyFileSync(join(hf, f), join(folder, f));
    // An Ollama manifest whose model layer is a blob in the store.
    const digest = 'sha256:' + 'ab'.repeat(32);
    mkdirSync(join(store, 'manifests', 'registry.ollama.ai', 'library', 'tiny'), { recursive: true });
    writeFileSync(join(store, 'manifests', 'registry.ollama.ai', 'library', 'tiny', '1b'), JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest }] }));
    mkdirSync(join(store, 'blobs'));
    copyFileSync(fixture('gguf', SMALL.llama, DType.F32), join(store, 'blobs', digest.replace(':', '-')));

    const env = { HF_HUB_CACHE: hub, OLLAMA_MODELS: store };
    assert.deepEqual(listModels(env).models.map((m) => [m.spec, m.source]), [
      ...EMBEDDED_MODELS.map((m) => [m.name, 'embedded']),
      ['hf:tester/tiny-gguf/tiny-q8_0.gguf', 'hf-cache'],
      ['hf:tester/tiny-hf', 'hf-cache'],
      ['ollama:tiny:1b', 'ollama'],
    ]);
    const r = wanderWith(env, 'models');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^--model +size {2}about$/);
    assert.match(lines[1]!, /^ladder:small +1\.0 MiB {2}GPT-2 family, 2 layers × 64, 0\.24M parameters, King James Bible$/);
    assert.match(r.stdout, /^ollama:tiny:1b +\d+\.\d MiB {2}GGUF in the Ollama store$/m);
    assert.match(r.stdout, new RegExp(`^Hugging Face cache {2}${hub} \\(2 models\\)$`, 'm'));
    // Every listed spec loads.
    for (const m of listModels(env).models.slice(3)) {
      const next = wanderWith(env, 'next', '-m', m.spec, '-p', 'The cat', '--top', '1', '--json');
      assert.equal(next.code, 0, `${m.spec}: ${next.stderr}`);
    }
  });

  test('wander models --json', () => {
    const r = wanderWith({ HF_HUB_CACHE: tempDir(), OLLAMA_MODELS: tempDir() }, 'models', '--json');
    const listing = JSON.parse(r.stdout) as { models: { spec: string; source: string; bytes: number }[] };
    assert.deepEqual(listing.models.map((m) => m.spec), ['ladder:small', 'ladder:medium', 'ladder:large']);
    assert.ok(listing.models.every((m) => m.source === 'embedded' && m.bytes > 900_000));
  });
});

describe('bare wander', () => {
  test('is a usage error: the help on stderr, exit code 2', () => {
    const r = wander();
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Usage: wander \[options\] \[command\]/);
    assert.match(r.stderr, /^ {2}models \[options\] +list the models Wander can load/m);
  });

  test('wander --help is not an error', () => {
    const r = wander('--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: wander/);
  });
});
