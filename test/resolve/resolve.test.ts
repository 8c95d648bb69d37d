import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync, realpathSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DType } from '../../src/formats/tensor-types.js';
import { loadModel } from '../../src/model/load.js';
import { resolveModelSpec } from '../../src/resolve/resolve.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { tempDir, userError } from '../helpers.js';

// A stand-in for the Hugging Face hub on 127.0.0.1, serving files in the hub's URL layout:
//   /api/models/<owner>/<repo>/revision/main  → { sha, siblings: [{ rfilename }] }
//   /<owner>/<repo>/resolve/main/<file>       → the bytes, with X-Repo-Commit and ETag headers
const COMMIT = 'abc123def456';
const repos = new Map<string, Map<string, Buffer>>();
const requests: string[] = [];
let server: Server;
let endpoint = '';

before(async () => {
  const gguf = readFileSync(fixture('gguf', SMALL.llama, DType.Q8_0));
  repos.set('tester/tiny-gguf', new Map([['tiny-q8_0.gguf', gguf], ['README.md', Buffer.from('hi')]]));
  repos.set('tester/two-ggufs', new Map([['a.gguf', gguf], ['b.gguf', gguf]]));
  const hf = fixture('hf', SMALL.gpt2);
  repos.set('tester/tiny-hf', new Map(readdirSync(hf).map((f) => [f, readFileSync(join(hf, f))])));
  server = createServer((req, res) => {
    requests.push(req.url!);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/main$/.exec(req.url!);
    const file = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(req.url!);
    const repo = repos.get((api ?? file)?.[1] ?? '');
    if (api && repo) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ sha: COMMIT, siblings: [...repo.keys()].map((rfilename) => ({ rfilename })) }));
      return;
    }
    const body = file && repo?.get(decodeURIComponent(file[2]!));
    if (body) {
      res.writeHead(200, { 'content-length': body.length, 'x-repo-commit': COMMIT, etag: `"etag-${file![2]!.replace(/\W/g, '')}"` });
      res.end(body);
      return;
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const env = (home: string) => ({ HF_HOME: home, HF_ENDPOINT: endpoint, OLLAMA_MODELS: join(home, 'ollama') });

describe('hf: model specs', () => {
  test('a single file downloads once into the hub cache layout, then loads from the cache', async () => {
    const home = tempDir();
    requests.length = 0;
    const path = await resolveModelSpec('hf:tester/tiny-gguf/tiny-q8_0.gguf', { env: env(home) });
    assert.equal(path, join(home, 'hub', 'models--tester--tiny-gguf', 'snapshots', COMMIT, 'tiny-q8_0.gguf'));
    assert.equal(readFileSync(join(home, 'hub', 'models--tester--tiny-gguf', 'refs', 'main'), 'utf8'), COMMIT);
    assert.ok(realpathSync(path).includes(join('models--tester--tiny-gguf', 'blobs')));
    assert.equal(loadModel(path).config.architecture, 'llama');
    assert.deepEqual(requests, ['/tester/tiny-gguf/resolve/main/tiny-q8_0.gguf']);
    const again = await resolveModelSpec('hf:tester/tiny-gguf/tiny-q8_0.gguf', { env: env(home) });
    assert.equal(again, path);
    assert.equal(requests.length, 1, 'the second resolve touches no network');
  });

  test('a repository with one GGUF resolves to it', async () => {
    const path = await resolveModelSpec('hf:tester/tiny-gguf', { env: env(tempDir()) });
    assert.ok(path.endsWith('tiny-q8_0.gguf'));
  });

  test('a repository with several GGUFs asks which one', async () => {
    await assert.rejects(resolveModelSpec('hf:tester/two-ggufs', { env: env(tempDir()) }), userError('hf:tester/two-ggufs has 2 GGUF files; pick one with hf:tester/two-ggufs/<file>: a.gguf, b.gguf'));
  });

  test('a transformers repository downloads config, tokenizer and safetensors as a folder', async () => {
    const home = tempDir();
    const dir = await resolveModelSpec('hf:tester/tiny-hf', { env: env(home) });
    for (const f of ['config.json', 'tokenizer.json', 'model.safetensors', 'generation_config.json']) assert.ok(existsSync(join(dir, f)), f);
    assert.equal(loadModel(dir).config.architecture, 'gpt2');
    requests.length = 0;
    assert.equal(await resolveModelSpec('hf:tester/tiny-hf', { env: env(home) }), dir);
    assert.equal(requests.length, 0);
  });

  test('missing repositories and files are one-line errors', async () => {
    await assert.rejects(resolveModelSpec('hf:tester/nothing', { env: env(tempDir()) }), userError(`hf:tester/nothing: repository not found on ${endpoint} (HTTP 404)`));
    await assert.rejects(resolveModelSpec('hf:tester/tiny-gguf/nope.gguf', { env: env(tempDir()) }), userError('hf:tester/tiny-gguf: file nope.gguf not found (HTTP 404)'));
    await assert.rejects(resolveModelSpec('hf:not-a-spec', { env: env(tempDir()) }), userError('--model hf:not-a-spec: expected hf:<owner>/<repo>[/<file>]'));
    await assert.rejects(resolveModelSpec('hf:a/b/../../etc/passwd', { env: env(tempDir()) }), userError('--model hf:a/b/../../etc/passwd: expected hf:<owner>/<repo>[/<file>]'));
  });

  test('an unreachable endpoint says so', async () => {
    await assert.rejects(resolveModelSpec('hf:tester/tiny-gguf', { env: { HF_HOME: tempDir(), HF_ENDPOINT: 'http://127.0.0.1:1' } }), /^UserError: cannot reach http:\/\/127\.0\.0\.1:1 /);
  });

  test('plain paths pass through untouched', async () => {
    assert.equal(await resolveModelSpec('./model.gguf'), './model.gguf');
  });
});

describe('local model stores', () => {
  test('an Ollama store is found through its manifest, without the network', async () => {
    const home = tempDir();
    const store = join(home, 'ollama');
    const digest = 'sha256:' + 'ab'.repeat(32);
    mkdirSync(join(store, 'blobs'), { recursive: true });
    writeFileSync(join(store, 'blobs', digest.replace(':', '-')), readFileSync(fixture('gguf', SMALL.llama, DType.F32)));
    const manifest = JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest }] });
    for (const dir of [['registry.ollama.ai', 'library', 'tiny'], ['hf.co', 'tester', 'only-in-ollama']]) {
      mkdirSync(join(store, 'manifests', ...dir), { recursive: true });
      writeFileSync(join(store, 'manifests', ...dir, 'latest'), manifest);
    }
    const blob = join(store, 'blobs', digest.replace(':', '-'));
    assert.equal(await resolveModelSpec('ollama:tiny', { env: env(home) }), blob);
    assert.equal(await resolveModelSpec('ollama:tiny:latest', { env: env(home) }), blob);
    requests.length = 0;
    assert.equal(await resolveModelSpec('hf:tester/only-in-ollama', { env: env(home) }), blob);
    assert.equal(requests.length, 0);
    await assert.rejects(resolveModelSpec('ollama:missing', { env: env(home) }), userError(`ollama:missing: not in the Ollama store at ${store} (run \`ollama pull missing\` first)`));
  });
});
