// bin/wander.mjs runs the CLI compiled to build/cli/ (scripts/build-cli.mjs). These tests make sure it never
// runs stale code: each works on its own copy of the sources (node_modules and models linked), so that the
// builds it makes and the edits it does never touch the build every other test runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT, tempDir, wander } from '../helpers.js';

const GENERATE_ABOUT = 'generate continuations of a prompt and report what happened';
const copies: string[] = [];
after(() => { for (const dir of copies) rmSync(dir, { recursive: true, force: true }); });

/** A copy of what `wander` runs from: bin/, the build scripts, src/, package.json and tsconfig.json. */
function copy(): string {
  const dir = tempDir('wander-startup-');
  copies.push(dir);
  for (const p of ['bin', 'src', 'package.json', 'tsconfig.json', 'scripts/build-cli.mjs', 'scripts/build-kernels.mjs']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(ROOT, 'models'), join(dir, 'models'));
  mkdirSync(join(dir, 'build'));
  if (existsSync(join(ROOT, 'build', 'kernels.wasm'))) symlinkSync(join(ROOT, 'build', 'kernels.wasm'), join(dir, 'build', 'kernels.wasm'));
  return dir;
}

function run(dir: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'wander.mjs'), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function build(dir: string): void {
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'build-cli.mjs')], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

interface Manifest { dir: string; inputs: [string, number, number][] }
const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'build', 'cli', 'current.json'), 'utf8')) as Manifest;

/** Replaces text in a file, keeping its modification time when `mtime` is given. */
function edit(file: string, from: string, to: string, mtime?: Date): void {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes(from), `${file} should contain ${JSON.stringify(from)}`);
  writeFileSync(file, text.replace(from, to));
  if (mtime) utimesSync(file, mtime, mtime);
}

describe('bin/wander.mjs and the compiled CLI', () => {
  test('runs the compiled build while it is fresh, and rebuilds as soon as a source it was built from changes', () => {
    const dir = copy();
    build(dir);
    const built = manifest(dir);
    // Mark the compiled output itself: the mark shows in --help only if bin/wander.mjs runs the build.
    edit(join(dir, 'build', 'cli', built.dir, 'main.js'), GENERATE_ABOUT, 'COMPILED BUILD RAN');
    let r = run(dir, '--help');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /COMPILED BUILD RAN/);
    assert.equal(manifest(dir).dir, built.dir, 'a fresh build is used as it is');

    // An edit to a source: the next run rebuilds and shows it.
    const generateTs = join(dir, 'src', 'cli', 'generate.ts');
    const before = statSync(generateTs).mtime;
    edit(generateTs, GENERATE_ABOUT, 'EDITED continuations of a prompt and report what happened');
    r = run(dir, '--help');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /EDITED continuations/);
    assert.doesNotMatch(r.stdout, /COMPILED BUILD RAN/);
    assert.notEqual(manifest(dir).dir, built.dir);

    // The same size, and a modification time older than the build (a file restored from elsewhere): still noticed.
    edit(generateTs, 'EDITED continuations', 'EDITEd continuations', before);
    r = run(dir, '--help');
    assert.match(r.stdout, /EDITEd continuations/);
  });

  test('the freshness check covers every file the build was made from, deep imports and its own configuration included', () => {
    const dir = copy();
    build(dir);
    const built = manifest(dir);
    const inputs = new Set(built.inputs.map(([p]) => p));
    for (const p of ['src/cli/main.ts', 'src/generate/settings.ts', 'src/model/transformer.ts', 'src/kernels/wasm.ts', 'src/tokenizer/gguf-bpe.ts', 'src/server/app.ts', 'tsconfig.json', 'scripts/build-cli.mjs']) {
      assert.ok(inputs.has(p), `${p} is checked`);
    }
    assert.ok([...inputs].some((p) => p.endsWith('node_modules/zod/index.js')), 'the bundled package is checked');
    // A change deep in the graph (here the settings schema's module) is a rebuild like any other.
    const settings = join(dir, 'src', 'generate', 'settings.ts');
    writeFileSync(settings, readFileSync(settings, 'utf8') + '\n');
    const r = run(dir, '--version');
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(manifest(dir).dir, built.dir);
    assert.ok(manifest(dir).inputs.some(([p, , size]) => p === 'src/generate/settings.ts' && size === statSync(settings).size));
  });

  test('without a build (npm ci --ignore-scripts) the first run makes one, and generates exactly what the main copy does', () => {
    const dir = copy();
    const args = ['generate', '-p', 'Hi', '--max-tokens', '4', '--seed', '5'];
    const r = run(dir, ...args);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'build', 'cli', manifest(dir).dir, 'main.js')));
    const here = wander(...args);
    assert.equal(r.stdout, here.stdout);
    const noTimings = (s: string) => s.replace(/^timings .*$/m, '');
    assert.equal(noTimings(r.stderr), noTimings(here.stderr));
  });

  test('where no build can be made, tsx runs the sources', () => {
    const dir = copy();
    writeFileSync(join(dir, 'build', 'cli'), 'not a folder: no build can be written here\n');
    edit(join(dir, 'src', 'cli', 'generate.ts'), GENERATE_ABOUT, 'SOURCE RAN continuations of a prompt and report what happened');
    const r = run(dir, '--help');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SOURCE RAN continuations/);
  });
});
