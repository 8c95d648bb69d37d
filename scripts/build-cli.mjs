// Compiles the CLI (src/cli/main.ts and everything it imports) to JavaScript in build/cli/, so that
// `wander` starts without compiling TypeScript: one esbuild bundle, split where the CLI imports lazily
// (`wander generate` never loads the server, SQLite or YAML), npm packages imported from node_modules at
// run time except those in BUNDLED. Runs on `npm ci` (the `prepare` script), on `npm run build:cli`, and
// from bin/wander.mjs whenever the build is missing or stale.
//
// Never stale: build/cli/current.json lists every file the build was made from (each source, each file of
// a bundled package, tsconfig.json and this script) with its modification time and size as they were
// *before* the build read them; currentBuild() stats them all (about 260 files, a millisecond or two) and
// any difference — an edit, a `git checkout`, a file restored with an older time — means a rebuild. Each
// build gets its own folder and current.json is replaced atomically, so processes that start together,
// or one still running from an older build, never see a half-written one.
//
// Paths: sources find files relative to themselves (`new URL('../../build/kernels.wasm', import.meta.url)`,
// `new Worker(new URL('./matmul-worker.mjs', import.meta.url))`, models/, web/ …). The build rewrites each
// source's `import.meta.url` to that source file's own URL, so every such path resolves exactly as it
// does under tsx, wherever the bundle's chunks sit. Names: esbuild renames a top-level function or class
// only where two modules share its name, and nothing in Wander reads a function's name.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_BUILD = join(ROOT, 'build', 'cli');
const CURRENT = join(CLI_BUILD, 'current.json');
/** Files outside the bundle's sources that change what it compiles to. */
const CONFIG = ['tsconfig.json', 'scripts/build-cli.mjs'];
/**
 * npm packages compiled into the bundle rather than imported from node_modules at run time: pure ES modules
 * on the `generate` path whose many small files cost more to load one by one than to parse at once
 * (zod: about 100 files, some 40 ms of every start). Packages written as CommonJS, with native code or
 * reading files beside themselves stay in node_modules.
 */
const BUNDLED = new Set(['zod']);
/**
 * A superseded build is removed after this long: a process started from it may still be running, and the
 * CLI's lazy imports all happen within its first seconds (each command imports what it runs as it starts).
 */
const KEEP_MS = 10 * 60 * 1000;

const posix = (p) => p.split(sep).join('/');

/** A file's identity for the freshness check: [path from the root, mtimeMs, size]. */
function stamp(path) {
  const st = statSync(join(ROOT, path), { throwIfNoEntry: false });
  return st ? [path, st.mtimeMs, st.size] : [path, -1, -1];
}

/** The entry module's URL when build/cli holds a build of exactly the sources on disk now, else undefined. */
export function currentBuild() {
  const manifest = readCurrent();
  if (!manifest) return undefined;
  for (const [path, mtime, size] of manifest.inputs) {
    const st = statSync(join(ROOT, path), { throwIfNoEntry: false });
    if (!st || st.mtimeMs !== mtime || st.size !== size) return undefined;
  }
  const entry = join(CLI_BUILD, manifest.dir, 'main.js');
  return existsSync(entry) ? pathToFileURL(entry).href : undefined;
}

/** build/cli/current.json: { dir, inputs: [[path, mtimeMs, size], …] }, or undefined. */
function readCurrent() {
  try {
    return JSON.parse(readFileSync(CURRENT, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every file under src/ as it is before the build reads it (so an edit made during the build still counts as one). */
function snapshotSources() {
  const files = new Map();
  const walk = (dir) => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else files.set(p, stamp(p));
    }
  };
  walk('src');
  for (const p of CONFIG) files.set(p, stamp(p));
  return files;
}

/** Builds into a new folder under build/cli/ and makes it the current one; returns its entry module's URL. */
export async function buildCli({ quiet = false } = {}) {
  const { build } = await import('esbuild');
  const before = snapshotSources();
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const outdir = join(CLI_BUILD, id);
  mkdirSync(outdir, { recursive: true });
  /** Each source's import.meta.url, as the URL of the source file itself (see the header). */
  const sourceUrls = {
    name: 'source-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const url = `new URL(${JSON.stringify(posix(relative(outdir, args.path)))}, import.meta.url).href`;
        return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
      });
    },
  };
  /** Every npm package is imported from node_modules at run time, except the BUNDLED ones. */
  const packages = {
    name: 'external-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        const name = args.path.split('/').slice(0, args.path.startsWith('@') ? 2 : 1).join('/');
        return BUNDLED.has(name) ? undefined : { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: join(ROOT, 'src', 'cli', 'main.ts') },
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: join(ROOT, 'tsconfig.json'),
    // Read only when source maps are on (bin/wander.mjs turns them on for --verbose's stack traces).
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    plugins: [packages, sourceUrls],
    logLevel: quiet ? 'silent' : 'warning',
  }).catch((e) => {
    rmSync(outdir, { recursive: true, force: true });
    throw e;
  });
  const inputs = Object.keys(result.metafile.inputs).map((p) => posix(p));
  // A source the build read that was not there when it started has no "before": recorded as changed.
  // Files of bundled packages (wherever node_modules is) are stamped now: nobody edits those mid-build.
  const recorded = (p) => before.get(p) ?? (p.startsWith('src/') ? [p, -1, -1] : stamp(p));
  const manifest = { dir: id, inputs: [...new Set([...inputs, ...CONFIG])].sort().map(recorded) };
  const previous = readCurrent()?.dir;
  const tmp = `${CURRENT}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(manifest) + '\n');
  renameSync(tmp, CURRENT);
  // The superseded build's folder time says when it stopped being current (removeOldBuilds goes by it).
  if (previous && previous !== id) {
    try {
      const now = new Date();
      utimesSync(join(CLI_BUILD, previous), now, now);
    } catch { /* already gone */ }
  }
  removeOldBuilds(id);
  return pathToFileURL(join(outdir, 'main.js')).href;
}

function removeOldBuilds(keep) {
  const current = readCurrent()?.dir;
  for (const e of readdirSync(CLI_BUILD, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === keep || e.name === current) continue;
    const p = join(CLI_BUILD, e.name);
    try {
      if (Date.now() - statSync(p).mtimeMs > KEEP_MS) rmSync(p, { recursive: true, force: true });
    } catch { /* another process removed it */ }
  }
}

/**
 * The compiled CLI's entry URL, rebuilt first when stale or missing; undefined when it cannot be built
 * (esbuild missing, build/ not writable, a source that does not compile — then tsx reports the error).
 */
export async function freshBuild() {
  const current = currentBuild();
  if (current) return current;
  try {
    return await buildCli({ quiet: true });
  } catch {
    return undefined;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const entry = await buildCli();
  console.log(`${posix(relative(ROOT, fileURLToPath(entry)))}: the CLI compiled in ${(performance.now() - t0).toFixed(0)} ms`);
}
