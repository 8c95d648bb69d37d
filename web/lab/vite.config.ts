import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The web lab: built into build/web by `npm run build:web` (part of `npm ci`) and served by
// `wander serve` at /. The page bundles Wander's own src/sampling; the one module of it that reads a
// file (the WebAssembly kernel loader) is swapped for a browser loader that fetches the same .wasm.
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [preact()],
  resolve: {
    alias: [{ find: /^\.\.\/kernels\/wasm\.js$/, replacement: here('src/kernels.ts') }],
  },
  build: {
    outDir: here('../../build/web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
  logLevel: 'warn',
});
