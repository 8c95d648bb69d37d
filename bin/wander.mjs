#!/usr/bin/env node
// The `wander` command. It runs the CLI compiled to JavaScript in build/cli/ (scripts/build-cli.mjs, run
// by `npm ci`), rebuilding it first when any source it was built from has changed, so it never runs stale
// code; where no build can be made (esbuild missing, build/ read-only, a source that does not compile),
// tsx's loader compiles the TypeScript on the fly instead, as it always did.
import { freshBuild } from '../scripts/build-cli.mjs';

// --verbose prints stack traces: map them to the TypeScript sources (source maps cost start-up time, so only then).
if (process.argv.includes('--verbose')) process.setSourceMapsEnabled(true);
const entry = await freshBuild();
const { main } = entry ? await import(entry) : await viaTsx();
process.exitCode = await main(process.argv.slice(2));

async function viaTsx() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/cli/main.ts');
}
