import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';
import { cliReference, CLI_DOC } from '../scripts/cli-docs.js';
import { buildProgram } from '../src/cli/main.js';
import { nextTokenDistribution } from '../src/generate/next.js';
import { loadModel } from '../src/model/load.js';
import { EMBEDDED_MODELS } from '../src/resolve/embedded.js';
import { needsShared, ROOT, SHARED_MODELS, tempDir } from './helpers.js';

// The documentation is tested like code: the README's tour prints what the README shows, the claims
// beside it hold, docs/cli.md is what the commands define, every flag the docs name exists, and every
// TypeScript snippet compiles.

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const DOCS = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f));

/** Fenced blocks of one language in a Markdown text. */
function blocks(md: string, lang: string): string[] {
  return [...md.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```', 'gm'))].map((m) => m[1]!);
}

/** A command line's words, as a POSIX shell splits them (double and single quotes, no expansions). */
function words(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)].map((m) => m[1]?.replace(/\\(.)/g, '$1') ?? m[2] ?? m[3]!);
}

/** What may differ between runs and machines: durations, rates and the thread count. */
function normalize(line: string): string {
  return line.trimEnd()
    .replace(/\d+(\.\d+)? (ms|s)\b/g, '#')
    .replace(/\d+(\.\d+)? (tok\/s|tokens\/s)/g, '#')
    .replace(/× \d+ threads?/g, '× # threads');
}

/** A shown line that stands for lines left out. */
const ELISION = /^\s*…\s*$/;

/**
 * Checks that `shown` (lines of a README block, with "…" lines for elisions) matches `actual`: runs of
 * shown lines between elisions appear in actual contiguously and in order; without an elision at the
 * start (end), the first (last) run must begin (end) the output.
 */
function matchOutput(shown: string[], actual: string[]): void {
  const act = actual.map(normalize);
  let at = 0, free = false;
  const runs: string[][] = [[]];
  for (const line of shown) {
    if (ELISION.test(line)) runs.push([]);
    else runs[runs.length - 1]!.push(normalize(line));
  }
  const openEnd = ELISION.test(shown[shown.length - 1] ?? '…');
  runs.forEach((run, r) => {
    free = r > 0;
    if (run.length === 0) return;
    let found = -1;
    if (r === runs.length - 1 && !openEnd) {
      // The last run, with nothing elided after it, must end the output.
      const i = act.length - run.length;
      if (i >= at && (free || i === at) && run.every((l, j) => act[i + j] === l)) found = i;
    } else {
      for (let i = at; i + run.length <= act.length; i++) {
        if (run.every((l, j) => act[i + j] === l)) { found = i; break; }
        if (!free) break;
      }
    }
    assert.ok(found >= 0, `the docs show\n  ${run.join('\n  ')}\nbut the command printed\n  ${act.join('\n  ')}`);
    at = found + run.length;
  });
  if (!openEnd) assert.equal(at, act.length, `the command printed more than the docs show:\n  ${act.slice(at).join('\n  ')}`);
}

describe('the README tour and the manual\'s examples print what they show', () => {
  // Each ```console block: "$ npx wander …" lines, each followed by what it prints.
  const commands = ['README.md', ...DOCS].flatMap((file) => blocks(readFileSync(join(ROOT, file), 'utf8'), 'console').flatMap((b) => {
    const out: { file: string; line: string; shown: string[] }[] = [];
    for (const l of b.replace(/\n$/, '').split('\n')) {
      if (l.startsWith('$ ')) out.push({ file, line: l.slice(2), shown: [] });
      else out[out.length - 1]!.shown.push(l);
    }
    for (const c of out) while (c.shown.length > 0 && c.shown[c.shown.length - 1] === '') c.shown.pop();
    return out;
  }));
  // Run where a reader would (the repository root, ../shared beside it), with files written into a scratch folder.
  const scratch = tempDir(), cwd = join(scratch, 'wander');
  mkdirSync(cwd);
  for (const name of ['experiments', 'models']) symlinkSync(join(ROOT, name), join(cwd, name));
  symlinkSync(join(SHARED_MODELS, '..'), join(scratch, 'shared'));

  test('the README has the commands it promises', () => {
    assert.ok(commands.filter((c) => c.file === 'README.md').length >= 6);
    for (const c of commands) assert.match(c.line, /^npx wander /, c.file);
  });

  for (const c of commands) {
    const shared = [...c.line.matchAll(/\.\.\/shared\/models\/([\w.-]+)/g)].map((m) => m[1]!);
    test(`${c.file}: ${c.line}`, needsShared(...shared), () => {
      // stdout and stderr into one file, so their lines interleave as a terminal shows them.
      const log = join(scratch, 'output.txt');
      const fd = openSync(log, 'w');
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'wander.mjs'), ...words(c.line).slice(2)], { cwd, stdio: ['ignore', fd, fd], env: { ...process.env, NO_COLOR: '1' } });
      closeSync(fd);
      const output = readFileSync(log, 'utf8');
      assert.equal(r.status, 0, output);
      matchOutput(c.shown, output.replace(/\n$/, '').split('\n'));
    });
  }

  test('the claims beside it hold on every embedded model', () => {
    for (const m of EMBEDDED_MODELS) {
      const model = loadModel(m.path);
      try {
        const confident = nextTokenDistribution(model, 'And the LORD spake unto Moses, saying', { seed: 1 }, { top: 1 });
        assert.equal(confident.candidates[0]!.token, ',', m.name);
        assert.ok(confident.candidates[0]!.prob > 0.5, `${m.name}: the confident prompt's top token has ${confident.candidates[0]!.prob}`);
        assert.ok(confident.entropy_bits < 2, `${m.name}: ${confident.entropy_bits} bits`);
        const open = nextTokenDistribution(model, 'And the', { seed: 1 }, { top: 1 });
        assert.ok(open.candidates[0]!.prob < 0.2, `${m.name}: the open prompt's top token has ${open.candidates[0]!.prob}`);
        assert.ok(open.entropy_bits > 6, `${m.name}: the open prompt has ${open.entropy_bits} bits`);
      } finally {
        model.close();
      }
    }
  });
});

describe('help and docs agree', () => {
  test('docs/cli.md is what the commands define (npm run docs rewrites it)', () => {
    assert.equal(readFileSync(CLI_DOC, 'utf8'), cliReference(), 'docs/cli.md is out of date: run npm run docs');
  });

  test('every flag the README and the manual name exists', () => {
    const program = buildProgram();
    const known = new Set(['--help', '--version', ...program.commands.flatMap((c) => c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x)))]);
    const missing: string[] = [];
    for (const file of ['README.md', ...DOCS.filter((f) => !f.endsWith('cli.md'))]) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      // Flags in code spans and in command lines: `--top-p 0.9`, wander next --draw 1000.
      const spans = [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
      const lines = text.split('\n').filter((l) => /\bwander [a-z]/.test(l));
      for (const s of [...spans, ...lines]) {
        for (const f of s.matchAll(/(?:^|[\s[(|])(--[a-z][A-Za-z0-9-]*)/g)) if (!known.has(f[1]!) && !NOT_WANDER.has(f[1]!)) missing.push(`${file}: ${f[1]}`);
      }
    }
    assert.deepEqual([...new Set(missing)], []);
  });

  test('every TypeScript snippet type-checks under the project\'s strict tsconfig', () => {
    const dir = join(ROOT, 'build', 'doc-snippets');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    for (const file of ['README.md', ...DOCS]) {
      blocks(readFileSync(join(ROOT, file), 'utf8'), 'ts').forEach((code, i) => {
        // Snippets are written as if run from the repository root (npx tsx file.ts).
        const path = join(dir, `${file.replace(/[/.]/g, '_')}_${i}.ts`);
        writeFileSync(path, code.replaceAll("from './src/", "from '../../src/") + (/^(import|export) /m.test(code) ? '' : '\nexport {};\n'));
        files.push(path);
      });
    }
    assert.ok(files.length >= 3, `${files.length} snippets`);
    const config = ts.parseJsonConfigFileContent(ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, ROOT);
    const program = ts.createProgram(files, config.options);
    const problems = ts.getPreEmitDiagnostics(program).filter((d) => d.file && files.includes(d.file.fileName))
      .map((d) => `${d.file!.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    assert.deepEqual(problems, []);
  });
});

/** Flags the docs mention that belong to other programs (npm, node, llama.cpp). */
const NOT_WANDER = new Set(['--omit', '--cpu-prof', '--noEmit', '--test', '--import', '--temp', '--seed-file', '--threads-http']);
