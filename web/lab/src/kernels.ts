import wasmUrl from '../../../build/kernels.wasm?url';

// The browser's stand-in for src/kernels/wasm.ts (swapped in by vite.config.ts): the same kernels file,
// fetched and compiled once before the sampling code loads (browsers compile large modules only
// asynchronously), so the page's sampling chain runs the very kernels the CLI runs.

let compiled: WebAssembly.Module | undefined;

/** Fetches and compiles the kernels; call (and await) before importing anything from src/sampling. */
export async function initKernels(): Promise<void> {
  if (compiled || typeof SharedArrayBuffer === 'undefined') return;
  compiled = await WebAssembly.compileStreaming(fetch(wasmUrl));
}

export function kernelModule(): WebAssembly.Module {
  if (!compiled) throw new Error('initKernels() has not finished');
  return compiled;
}

/** True once the kernels are compiled and the page may share memory (it is cross-origin isolated). */
export function wasmSimdAvailable(): boolean {
  return compiled !== undefined && typeof SharedArrayBuffer !== 'undefined';
}
