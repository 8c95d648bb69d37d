// `npm run bench` (start-up): how long `wander generate` on the default model takes from spawning a fresh
// process to its first generated token on stdout, over BENCH_RUNS (default 7) fresh processes each, for
// `node bin/wander.mjs` as it is (the CLI compiled to build/cli/ by scripts/build-cli.mjs), beside tsx
// compiling the TypeScript on every start (the launcher before the build, as the reference) and
// `npx wander`. Then the same start-up taken apart inside the process. Not a test.
//
// The CLI echoes the prompt as soon as it is accepted and then writes each piece of text as it is
// generated; Node writes to a pipe synchronously on Linux, so the parent sees every piece when the
// process writes it. The first token is the first byte past the echoed prompt.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const PROMPT = 'Once upon a time';
const ARGS = ['generate', '-p', PROMPT, '--max-tokens', '8', '--seed', '1'];
const BUILD_SCRIPT = join(ROOT, 'scripts', 'build-cli.mjs');
const MAIN_TS = pathToFileURL(join(ROOT, 'src/cli/main.ts')).href;
const TSX_API = import.meta.resolve('tsx/esm/api');

/** The small scripts the bench runs, as files (workers inherit the flags `node -e` would need, and reject them). */
const SCRIPTS = mkdtempSync(join(tmpdir(), 'wander-startup-bench-'));
process.on('exit', () => rmSync(SCRIPTS, { recursive: true, force: true }));
function script(name: string, code: string): string {
  const path = join(SCRIPTS, name);
  writeFileSync(path, code);
  return path;
}

// ---- the ways to start it ------------------------------------------------------------------------------

/** What bin/wander.mjs did before the compiled build: register tsx's loader, import the TypeScript. */
const TSX_LAUNCHER = script('tsx-launcher.mjs', `import { register } from ${JSON.stringify(TSX_API)};
register();
const { main } = await import(${JSON.stringify(MAIN_TS)});
process.exitCode = await main(process.argv.slice(2));
`);

interface Variant { name: string; cmd: string; args: (nodeFlags: string[]) => string[] }
const VARIANTS: Variant[] = [
  { name: 'node bin/wander.mjs', cmd: process.execPath, args: (f) => [...f, 'bin/wander.mjs', ...ARGS] },
  { name: 'tsx on every start (reference)', cmd: process.execPath, args: (f) => [...f, TSX_LAUNCHER, ...ARGS] },
  { name: 'npx wander', cmd: 'npx', args: () => ['wander', ...ARGS] },
];

// In the process: when node ran its first line of JavaScript, and when the prompt echo and the first
// token were written (performance.now(), ms since the process started). Loaded with --import, it
// changes nothing the CLI does.
const MARKS = `const marks = { node: performance.now() }; const write = process.stdout.write.bind(process.stdout); let n = 0;
process.stdout.write = (chunk, ...rest) => { if (chunk.length > 0) { if (n === 0) marks.echo = performance.now(); else if (n === 1) { marks.token = performance.now(); const c = process.cpuUsage(); marks.cpu = (c.user + c.system) / 1000; } n++; } return write(chunk, ...rest); };
process.on('exit', () => process.stderr.write('STARTUP-MARKS ' + JSON.stringify(marks) + '\\n'));`;
const MARKS_FLAG = ['--import', `data:text/javascript,${encodeURIComponent(MARKS)}`];

// ---- one process ---------------------------------------------------------------------------------------

interface Sample {
  echo: number; token: number; exit: number; chunks: number; stdout: string; stderr: string;
  marks?: { node: number; echo: number; token: number; cpu: number };
  report?: { load: number; prompt: number };
}

/** Spawns the command and times (on this process's clock) the echoed prompt, the first token and the exit. */
function once(v: Variant, nodeFlags: string[] = []): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(v.cmd, v.args(nodeFlags), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '', stderr = '', bytes = 0, chunks = 0, echo = NaN, token = NaN;
    child.stdout.on('data', (d: Buffer) => {
      const t = performance.now() - t0;
      if (chunks++ === 0) echo = t;
      bytes += d.length;
      if (Number.isNaN(token) && bytes > Buffer.byteLength(PROMPT)) token = t;
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const exit = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${v.name} exited with code ${code}:\n${stderr}`));
      const marks = /^STARTUP-MARKS (.*)$/m.exec(stderr);
      const timings = /load ([\d.]+) ms · prompt ([\d.]+) ms/.exec(stderr);
      resolve({
        echo, token, exit, chunks, stdout, stderr: stderr.replace(/^STARTUP-MARKS .*\n/m, ''),
        ...(marks ? { marks: JSON.parse(marks[1]!) as Sample['marks'] } : {}),
        ...(timings ? { report: { load: Number(timings[1]), prompt: Number(timings[2]) } } : {}),
      });
    });
  });
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(0)} ms`;
const spread = (xs: number[]) => `${ms(median(xs))} (${sorted(xs)[0]!.toFixed(0)}–${sorted(xs).at(-1)!.toFixed(0)})`;

// ---- loading the CLI's code alone -------------------------------------------------------------------------

/** Loader registration (or the build's freshness check) and the module graph import, without running anything. */
function codeLoad(kind: 'tsx' | 'compiled'): { node: number; loader: number; graph: number } {
  const code = kind === 'tsx'
    ? `const t0 = performance.now(); const { register } = await import(${JSON.stringify(TSX_API)}); register(); const t1 = performance.now();
       await import(${JSON.stringify(MAIN_TS)});`
    : `const t0 = performance.now(); const { freshBuild } = await import(${JSON.stringify(pathToFileURL(BUILD_SCRIPT).href)});
       const entry = await freshBuild(); if (!entry) throw new Error('no compiled build'); const t1 = performance.now(); await import(entry);`;
  const r = spawnSync(process.execPath, [script(`load-${kind}.mjs`, `${code}
    process.stdout.write(JSON.stringify({ node: t0, loader: t1 - t0, graph: performance.now() - t1 }));
`)], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loading the ${kind} CLI failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as { node: number; loader: number; graph: number };
}

// ---- the model's load, taken apart ----------------------------------------------------------------------

/** Run in a child (`--model-load`): each part of loading the default model, cold, in the order the CLI does them. */
async function modelLoadParts(): Promise<void> {
  const { DEFAULT_MODEL } = await import('../src/resolve/embedded.js');
  const { GgufMeta, readGguf } = await import('../src/formats/gguf.js');
  const { tokenizerFromGguf } = await import('../src/tokenizer/from-gguf.js');
  const { kernelModule } = await import('../src/kernels/wasm.js');
  const { loadModel } = await import('../src/model/load.js');
  const { defaultThreads } = await import('../src/cli/model-flags.js');
  const t = [performance.now()];
  const lap = () => { t.push(performance.now()); return t.at(-1)! - t.at(-2)!; };
  const file = readGguf(DEFAULT_MODEL);
  const meta = new GgufMeta(file);
  const parse = lap();
  tokenizerFromGguf(meta);
  const tokenizer = lap();
  file.close();
  kernelModule();
  const wasm = lap();
  lap();
  const model = loadModel(DEFAULT_MODEL, { threads: defaultThreads() });
  const rest = lap();
  const ids = model.tokenizer.encode(PROMPT);
  const cache = model.newCache();
  lap();
  model.forward(ids, cache);
  const forward = lap();
  model.forward(ids, model.newCache());
  const forward2 = lap();
  model.close();
  process.stdout.write(JSON.stringify({ parse, tokenizer, wasm, rest, forward, forward2 }));
}

// ---- the report ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const built = existsSync(BUILD_SCRIPT);
  if (built) {
    // Build now if needed, so that no run below pays for it.
    const r = spawnSync(process.execPath, [BUILD_SCRIPT], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('scripts/build-cli.mjs failed');
  }
  const node = Array.from({ length: RUNS }, () => { const t0 = performance.now(); spawnSync(process.execPath, ['-e', '0']); return performance.now() - t0; });
  console.log(`\nStart-up: spawn → first generated token of \`wander ${ARGS.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}\``);
  console.log(`(default model, stdout a pipe), ${RUNS} fresh processes each, one after another; ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}\n`);
  console.log('| command | first token: median (min–max) | prompt echoed | exit | stdout chunks (streamed: prompt + each token) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(`| \`node -e 0\` (a bare node process, for scale) | | | ${spread(node)} | |`);
  const results = new Map<string, Sample[]>();
  for (const v of VARIANTS) {
    await once(v); // warm the file cache
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) samples.push(await once(v));
    results.set(v.name, samples);
    console.log(`| \`${v.name}\` | ${spread(samples.map((s) => s.token))} | ${spread(samples.map((s) => s.echo))} | ${spread(samples.map((s) => s.exit))} | ${median(samples.map((s) => s.chunks))} |`);
  }
  // Every way of starting it must print the same thing (same seed), or the comparison means nothing.
  const outputs = new Set([...results.values()].flat().map((s) => s.stdout));
  const reports = new Set([...results.values()].flat().map((s) => s.stderr.replace(/^timings .*$/m, '').replace(/^npm warn .*\n/gm, '')));
  if (outputs.size !== 1 || reports.size !== 1) throw new Error(`the commands printed different output:\n${[...outputs, ...reports].join('\n---\n')}`);
  console.log(`\nAll ${[...results.values()].flat().length} runs printed the same text and report (timings aside): ${JSON.stringify([...outputs][0]!.trim())}`);

  // Inside the process.
  const inside: Sample[][] = [];
  for (const v of VARIANTS.slice(0, 2)) {
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) samples.push(await once(v, MARKS_FLAG));
    inside.push(samples);
  }
  const loads = { compiled: [] as ReturnType<typeof codeLoad>[], tsx: [] as ReturnType<typeof codeLoad>[] };
  for (let i = 0; i < RUNS; i++) {
    if (built) loads.compiled.push(codeLoad('compiled'));
    loads.tsx.push(codeLoad('tsx'));
  }
  const col = (samples: Sample[], f: (s: Required<Sample>) => number) => ms(median(samples.map((s) => f(s as Required<Sample>))));
  const codeCol = (xs: ReturnType<typeof codeLoad>[], f: (x: ReturnType<typeof codeLoad>) => number) => (xs.length ? ms(median(xs.map(f))) : '—');
  const [bin, tsx] = inside as [Sample[], Sample[]];
  console.log(`\nInside the process (medians of ${RUNS}; performance.now() in the process, from its start):\n`);
  console.log('| phase | `node bin/wander.mjs` | tsx (reference) |');
  console.log('| --- | ---: | ---: |');
  console.log(`| node start (to the first line of JavaScript) | ${col(bin, (s) => s.marks.node)} | ${col(tsx, (s) => s.marks.node)} |`);
  console.log(`| code: launcher, loader, module graph, flags, settings, prompt tokens | ${col(bin, (s) => s.marks.echo - s.marks.node - s.report.load)} | ${col(tsx, (s) => s.marks.echo - s.marks.node - s.report.load)} |`);
  console.log(`|   ↳ alone: build freshness check / tsx loader registration | ${codeCol(loads.compiled, (x) => x.loader)} | ${codeCol(loads.tsx, (x) => x.loader)} |`);
  console.log(`|   ↳ alone: importing the CLI's module graph | ${codeCol(loads.compiled, (x) => x.graph)} | ${codeCol(loads.tsx, (x) => x.graph)} |`);
  console.log(`| model load (the report's "load") | ${col(bin, (s) => s.report.load)} | ${col(tsx, (s) => s.report.load)} |`);
  console.log(`| first forward: the prompt (the report's "prompt") | ${col(bin, (s) => s.report.prompt)} | ${col(tsx, (s) => s.report.prompt)} |`);
  console.log(`| first sample and its text | ${col(bin, (s) => s.marks.token - s.marks.echo - s.report.prompt)} | ${col(tsx, (s) => s.marks.token - s.marks.echo - s.report.prompt)} |`);
  console.log(`| first token written | ${col(bin, (s) => s.marks.token)} | ${col(tsx, (s) => s.marks.token)} |`);
  console.log(`| CPU time by then, all threads (less sensitive to a busy machine) | ${col(bin, (s) => s.marks.cpu)} | ${col(tsx, (s) => s.marks.cpu)} |`);

  const runs = Array.from({ length: RUNS }, () => JSON.parse(spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--model-load'], { cwd: ROOT, encoding: 'utf8' }).stdout) as Record<string, number>);
  const part = (k: string) => ms(median(runs.map((r) => r[k]!)));
  console.log(`\nThe model load taken apart (medians of ${RUNS} fresh processes, each part cold, in the CLI's order): GGUF parse ${part('parse')} · `
    + `tokenizer ${part('tokenizer')} · WebAssembly compile ${part('wasm')} · the rest of loadModel (parse and tokenizer again, `
    + `instance, weights, worker start) ${part('rest')}; first forward ${part('forward')} (it may wait for the worker threads to start), the next ${part('forward2')}`);
}

if (process.argv.includes('--model-load')) await modelLoadParts();
else await main();
