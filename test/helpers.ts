import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Heap } from '../src/kernels/heap.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_MODELS = process.env['WANDER_SHARED_MODELS'] ?? join(ROOT, '..', 'shared', 'models');

/** Path of a real model from ../shared/models, or undefined when that folder is absent. */
export function sharedModel(name: string): string | undefined {
  const p = join(SHARED_MODELS, name);
  return existsSync(p) ? p : undefined;
}

/**
 * The `skip` option for a test that needs a shared model: a clear message naming the missing file. Pass
 * it to each test, not to a describe: the runner counts skipped tests in its summary, not skipped suites.
 */
export function needsShared(...names: string[]): { skip: string | false } {
  const missing = names.filter((n) => !sharedModel(n));
  return { skip: missing.length === 0 ? false : `${missing.join(', ')} not found in ${SHARED_MODELS} (the shared test models are absent)` };
}

/**
 * The `skip` option for a test that needs something the project installs itself (Chromium from .ci/run,
 * node-llama-cpp's native binary from npm ci): skipped with the reason on a developer's machine that
 * lacks it, but run — and failing — in CI (CI=true), where nothing may be skipped for want of it.
 */
export function needsInstalled(missing: string | false): { skip: string | false } {
  return { skip: missing && !/^(1|true)$/i.test(process.env['CI'] ?? '') ? missing : false };
}

export function tempDir(prefix = 'wander-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Largest absolute elementwise difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function softmax(logits: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let i = 0; i < logits.length; i++) mx = Math.max(mx, logits[i]!);
  const p = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < logits.length; i++) { p[i] = Math.exp(logits[i]! - mx); s += p[i]!; }
  for (let i = 0; i < p.length; i++) p[i]! /= s;
  return p;
}

export function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
}

/** For assert.throws: a UserError with exactly this message (and, when given, this field). */
export function userError(message: string, field?: string): (e: unknown) => true {
  return (e: unknown) => {
    if (!(e instanceof Error) || e.name !== 'UserError') throw new Error(`expected a UserError, got ${String(e)}`);
    if (e.message !== message) throw new Error(`expected message\n  ${message}\ngot\n  ${e.message}`);
    if (field !== undefined && (e as { field?: string }).field !== field) throw new Error(`expected field ${field}, got ${(e as { field?: string }).field}`);
    return true;
  };
}

/** A CLI run that failed on bad input: exit code 2 and one line on stderr, returned without the prefix. */
export function cliError(r: { code: number; stdout: string; stderr: string }): string {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  return r.stderr.trim().replace(/^wander: /, '');
}

/** Runs the `wander` CLI as a real process and returns its exit code and output (colour off). */
export function wander(...args: string[]): { code: number; stdout: string; stderr: string } {
  return wanderWith({}, ...args);
}

/** The same, with variables added to the environment. */
export function wanderWith(env: NodeJS.ProcessEnv, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'wander.mjs'), ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI as a real process without blocking this one (for servers that run in the test's own process). */
export function wanderAsync(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'wander.mjs'), ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Debian's Chromium (apt-get install chromium; .ci/run installs it), or WANDER_CHROMIUM. */
export const CHROMIUM = [process.env['WANDER_CHROMIUM'], '/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => p && existsSync(p));
/** The `skip` option for a browser test: in CI the browser must be there (a missing one is a failure). */
export const needsChromium = needsInstalled(CHROMIUM ? false : 'Chromium not found (apt-get install chromium, or set WANDER_CHROMIUM)');
/** Where browser tests leave screenshots and pages to look at. */
export const ARTIFACTS = join(ROOT, 'build', 'test-artifacts');
/** Chromium's flags for a headless test on loopback: no sandbox (containers), nothing phoning home. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Copies bytes (a float array, quantized blocks) into a fresh allocation on the kernels' heap; returns its offset. */
export function putOnHeap(heap: Heap, data: Float32Array | Uint8Array | Int32Array): number {
  const p = heap.alloc(data.byteLength, 'test');
  heap.u8(p, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return p;
}
