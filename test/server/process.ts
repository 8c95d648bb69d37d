import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

// `wander serve` as a real process on a free loopback port, and llama.cpp's llama-server beside it.

export const LLAMA_SERVER = join(ROOT, '..', 'shared', 'tools', 'llama.cpp', 'llama-server');

export interface Server { proc: ChildProcess; url: string; stderr: () => string }

/** Starts `wander serve --port 0 --threads 1 ARGS` and waits for the address it prints. */
export function serve(...args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'wander.mjs'), 'serve', '--port', '0', '--threads', '1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = / on (http:\/\/127\.0\.0\.1:\d+) /.exec(err);
      if (m) resolve({ proc, url: m[1]!, stderr: () => err });
    });
    proc.on('exit', (code) => reject(new Error(`wander serve exited with ${code}: ${err}`)));
  });
}

/** Stops a server: SIGTERM, then SIGKILL after 3 s. */
export function stop(s: Server | undefined): Promise<void> {
  if (!s || s.proc.exitCode !== null || s.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => s.proc.kill('SIGKILL'), 3000);
    s.proc.on('exit', () => { clearTimeout(force); resolve(); });
    s.proc.kill('SIGTERM');
  });
}

/** A loopback port that was free a moment ago (listen on port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts llama-server (F32 KV cache, one thread: see llama-server.test.ts) on a free port and polls
 * GET /health until it answers {"status":"ok"}.
 */
export async function llamaServe(model: string): Promise<Server> {
  const port = await freePort();
  const proc = spawn(LLAMA_SERVER, ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-c', '512', '-np', '2', '-t', '1', '-ctk', 'f32', '-ctv', 'f32'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  // Always drain its (chatty) log so the pipe never fills; keep the tail for error messages.
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8000); });
  let exited: number | null | undefined;
  proc.on('exit', (code) => { exited = code; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`llama-server exited with ${exited} before /health answered ok:\n${err}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok && ((await r.json()) as { status?: string }).status === 'ok') return { proc, url, stderr: () => err };
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`llama-server did not answer /health with ok within 15 s:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
