import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isUserError } from '../errors.js';
import { attentionCommand } from './attention.js';
import { attributeCommand } from './attribute.js';
import { cacheCommand } from './cache.js';
import { dlaCommand } from './dla.js';
import { generateCommand } from './generate.js';
import { headsCommand } from './heads.js';
import { lensCommand } from './lens.js';
import { modelsCommand } from './models.js';
import { nextCommand } from './next.js';
import { patchCommand } from './patch.js';
import { reportCommand } from './report.js';
import { scoreCommand } from './score.js';
import { serveCommand } from './serve.js';
import { sweepCommand } from './sweep.js';
import { trainCommand } from './train.js';

/**
 * The `wander` program with every command, ready to parse (also what docs/cli.md is generated from).
 * Each command's module declares its flags here; the heavy parts of what it runs (the server, SQLite,
 * YAML, backends, chat templates, progress bars) it imports when it runs, so `wander generate` starts
 * without loading them (bench/startup.bench.ts).
 */
export function buildProgram(): Command {
  const program = new Command('wander')
    .description('See how language models choose their next token.')
    .version((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `wander: ${s.slice(7).trimEnd()} (see wander --help)\n` : s) })
    .showHelpAfterError(false);
  generateCommand(program);
  nextCommand(program);
  sweepCommand(program);
  reportCommand(program);
  attributeCommand(program);
  attentionCommand(program);
  cacheCommand(program);
  lensCommand(program);
  patchCommand(program);
  headsCommand(program);
  dlaCommand(program);
  scoreCommand(program);
  trainCommand(program);
  modelsCommand(program);
  serveCommand(program);
  return program;
}

/** Exit codes: 0 ok, 1 the run failed or a bug, 2 bad input (one line on stderr). */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const program = buildProgram();
  if (argv.length === 0) {
    // A command is required: bare `wander` is a usage error, answered with the help on stderr.
    process.stderr.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are "errors" to commander; everything else is a usage mistake.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    }
    if (isUserError(e)) {
      process.stderr.write(`wander: ${e.message}\n`);
      if (verbose) process.stderr.write(`${e.stack}\n`);
      return 2;
    }
    process.stderr.write(`wander: internal error: ${(e as Error).message ?? String(e)}\n`);
    if (verbose) process.stderr.write(`${(e as Error).stack}\n`);
    else process.stderr.write('(run again with --verbose for the stack trace)\n');
    return 1;
  }
}
