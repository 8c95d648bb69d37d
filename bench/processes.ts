// The benches' child processes: servers started on loopback, their output kept for error messages, and
// all of them stopped however the bench ends (normally, on an error, on Ctrl-C).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/server/process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const LLAMA_SERVER = join(ROOT, '../shared/tools/llama.cpp/llama-server');

const running = new Set<ChildProcess>();

/** Spawns a process, keeping the last few KB of its output (`log`) and calling `onLine` listeners per line. */
export function launch(cmd: string, args: string[]): { child: ChildProcess; log: () => string; onLine: (f: (line: string) => void) => void } {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let tail = '', partial = '';
  const listeners: ((line: string) => void)[] = [];
  const take = (chunk: Buffer) => {
    const s = chunk.toString();
    tail = (tail + s).slice(-4000);
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const line of lines) for (const f of listeners) f(line);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return { child, log: () => tail.trim().split('\n').slice(-8).join('\n'), onLine: (f) => listeners.push(f) };
}

/** SIGTERM, then SIGKILL after 5 s. */
export async function stop(s: ChildProcess | undefined): Promise<void> {
  if (!s || s.exitCode !== null || s.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => s.once('exit', () => resolve()));
  s.kill('SIGTERM');
  const t = setTimeout(() => s.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

export const stopAll = () => Promise.all([...running].map(stop));
process.on('exit', () => { for (const c of running) c.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void stopAll().then(() => process.exit(130)); });

/** "exited (code 1)" / "exited (SIGKILL)" once the process ends. */
export const exited = (child: ChildProcess) => new Promise<string>((resolve) => child.once('exit', (code, sig) => resolve(`exited (${sig ?? `code ${code}`})`)));

/** llama-server on a free loopback port with `args` (-np, -c, threads …); resolves once /health says ok (180 s at most). */
export async function startLlamaServer(model: string, args: string[]): Promise<{ url: string; child: ChildProcess; log: () => string }> {
  const port = await freePort();
  const { child, log } = launch(LLAMA_SERVER, ['-m', model, '--host', '127.0.0.1', '--port', String(port), ...args]);
  const url = `http://127.0.0.1:${port}`;
  const until = performance.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`llama-server exited (${child.signalCode ?? `code ${child.exitCode}`}):\n${log()}`);
    if (performance.now() > until) throw new Error(`llama-server: not ready after 180 s:\n${log()}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok && ((await r.json()) as { status?: string }).status === 'ok') return { url, child, log };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Runs a command to its end (a bench worker, llama-bench …) and resolves with its whole stdout and
 * stderr; rejects on a non-zero exit or a signal, with the end of stderr. Stopped with the others on
 * Ctrl-C, or after `timeoutMs` (SIGKILL). `env` is added to this process's environment.
 */
export function capture(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  running.add(child);
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  let late = false;
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => { late = true; child.kill('SIGKILL'); }, opts.timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => {
      running.delete(child);
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')}: ${late ? `stopped after ${opts.timeoutMs! / 1000} s` : `exited (${sig ?? `code ${code}`})`}:\n${stderr.trim().split('\n').slice(-8).join('\n')}`));
    });
  });
}
