// The speed anchors: llama.cpp's own benchmark programs (../shared/tools/llama.cpp, read-only), each run
// in a fresh process. Two variants of the same build: "best" is the folder as it is (it loads the best
// CPU library for this machine, e.g. AVX-512/AMX), "AVX2" a temporary copy holding only the haswell
// library, so that it has to run on AVX2/FMA — the closest native relative of 4-lane WebAssembly SIMD.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capture } from './processes.js';

const LLAMA_DIR = fileURLToPath(new URL('../../shared/tools/llama.cpp/', import.meta.url));

export type Variant = 'AVX2' | 'best';
export const VARIANTS: readonly Variant[] = ['AVX2', 'best'];

/** A variant that did not run on the CPU library it stands for: its figures would mislead. */
export class WrongLibrary extends Error {}

let avx2Dir: string | undefined;

/** The folder to run a variant from; the AVX2 copy is made on first use and removed when this process exits. */
function folder(variant: Variant): string {
  if (variant === 'best') return LLAMA_DIR;
  if (!avx2Dir) {
    const dir = mkdtempSync(join(tmpdir(), 'wander-llama-avx2-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const cpuLib = /^libggml-cpu-.*\.so$/;
    for (const f of readdirSync(LLAMA_DIR)) {
      if (!cpuLib.test(f) || f === 'libggml-cpu-haswell.so') cpSync(join(LLAMA_DIR, f), join(dir, f));
    }
    avx2Dir = dir;
  }
  return avx2Dir;
}

// A run stuck behind other work (llama.cpp's threads spin on their barriers, which a busy 2-core
// machine can slow a hundredfold) is stopped rather than waited for.
const TIMEOUT_MS = 300_000;

/** Runs one of the programs and checks, from its "loaded CPU backend" line, which CPU library it used. */
async function runNative(variant: Variant, program: string, args: string[]): Promise<{ stdout: string; backend: string }> {
  const { stdout, stderr } = await capture(join(folder(variant), program), args, { timeoutMs: TIMEOUT_MS });
  const backend = /loaded CPU backend from \S*libggml-cpu-(\w+)\.so/.exec(stderr)?.[1] ?? 'unknown';
  if (variant === 'AVX2' && backend !== 'haswell') throw new WrongLibrary(`${program} (AVX2 copy) loaded the "${backend}" CPU library, not haswell`);
  return { stdout, backend };
}

export interface NativeSpeed { pp: number; tg: number; backend: string }

/** `llama-bench -p PROMPT -n GEN`, one repetition (after its own warm-up): prompt and generation tokens/s. */
export async function llamaBench(variant: Variant, model: string, threads: number, prompt: number, gen: number): Promise<NativeSpeed> {
  const args = ['-m', model, '-p', String(prompt), '-n', String(gen), '-t', String(threads), '-r', '1', '-o', 'json'];
  const { stdout, backend } = await runNative(variant, 'llama-bench', args);
  const tests = JSON.parse(stdout) as { n_prompt: number; n_gen: number; avg_ts: number }[];
  const rate = (p: number, g: number) => tests.find((t) => t.n_prompt === p && t.n_gen === g)?.avg_ts ?? NaN;
  return { pp: rate(prompt, 0), tg: rate(0, gen), backend };
}

/**
 * `llama-batched-bench`: `sequences` sequences of a 1-token prompt, each decoded `gen` tokens together;
 * the aggregate generation speed (its S_TG column) at 1 and at `sequences` sequences.
 */
export async function llamaBatched(variant: Variant, model: string, threads: number, sequences: number, gen: number): Promise<{ b1: number; bn: number; backend: string }> {
  const args = ['-m', model, '-c', '2048', '-b', '2048', '-ub', '512', '-npp', '1', '-ntg', String(gen), '-npl', `1,${sequences}`,
    '-t', String(threads), '-tb', String(threads), '--output-format', 'jsonl'];
  const { stdout, backend } = await runNative(variant, 'llama-batched-bench', args);
  const rows = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { pl: number; speed_tg: number });
  const at = (pl: number) => rows.find((r) => r.pl === pl)?.speed_tg ?? NaN;
  return { b1: at(1), bn: at(sequences), backend };
}
