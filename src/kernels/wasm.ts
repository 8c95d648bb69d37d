import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import type { Kernels } from './kernels.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KERNELS_WASM = join(ROOT, 'build', 'kernels.wasm');

let compiled: WebAssembly.Module | undefined;

/** The compiled kernel module, built on first use if `npm ci` did not build it (e.g. --ignore-scripts). */
export function kernelModule(): WebAssembly.Module {
  if (compiled) return compiled;
  if (!existsSync(KERNELS_WASM)) {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-kernels.mjs')], { stdio: 'inherit' });
  }
  compiled = new WebAssembly.Module(readFileSync(KERNELS_WASM));
  return compiled;
}

/** True where this runtime can compile WebAssembly SIMD with shared memory. */
export function wasmSimdAvailable(): boolean {
  try {
    kernelModule();
    return typeof SharedArrayBuffer !== 'undefined';
  } catch {
    return false;
  }
}

export function instantiateWasmKernels(memory: WebAssembly.Memory): Kernels {
  const inst = new WebAssembly.Instance(kernelModule(), { env: { memory } });
  return { name: 'wasm-simd', ...(inst.exports as unknown as Omit<Kernels, 'name'>) };
}
