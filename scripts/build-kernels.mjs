// Compiles the AssemblyScript kernels in src/kernels/wasm/ to build/kernels.wasm (WebAssembly SIMD,
// importing one shared memory so worker threads can run the same kernels over the same weights).
// Runs on `npm ci` (the `prepare` script) and on demand from the loader when the file is missing.
import { main } from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'build'), { recursive: true });

const { error, stderr } = await main([
  join(root, 'src/kernels/wasm/kernels.ts'),
  '--outFile', join(root, 'build/kernels.wasm'),
  '--optimizeLevel', '3', '--shrinkLevel', '0', '--noAssert',
  '--runtime', 'stub', '--use', 'abort=',
  '--enable', 'simd', '--enable', 'threads',
  '--importMemory', '--sharedMemory', '--initialMemory', '32', '--maximumMemory', '65536',
]);
if (error) {
  process.stderr.write(stderr.toString());
  process.stderr.write(`kernel build failed: ${error.message}\n`);
  process.exit(1);
}
