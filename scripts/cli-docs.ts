// Writes docs/cli.md, the command reference, from the commands' own definitions (commander), so that
// `wander <command> --help` and the docs cannot drift apart. `npm run docs`; test/docs.test.ts checks it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';

/** The manual page that explains each command. */
const MANUAL: Record<string, string> = {
  generate: 'generate.md', next: 'sampling.md#wander-next', sweep: 'experiments.md', report: 'experiments.md#reports',
  attribute: 'internals.md#gradients-wander-attribute', attention: 'internals.md#attention-patterns-wander-attention', cache: 'internals.md#wander-cache--an-activation-cache',
  lens: 'internals.md#wander-lens--the-logit-lens', score: 'internals.md#wander-score--per-token-loss', patch: 'internals.md#wander-patch--activation-patching',
  heads: 'internals.md#wander-heads--which-heads-matter-an-ablation-scan', dla: 'internals.md#wander-dla--direct-logit-attribution',
  train: 'training.md', models: 'models.md#wander-models', serve: 'server.md',
};

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function cliReference(program: Command = buildProgram()): string {
  const commands = program.commands.filter((c) => c.name() !== 'help');
  const out = [
    '# Command reference',
    '',
    'Generated from the commands\' own definitions by `npm run docs` (a test fails when it is out of date), so',
    'it says exactly what `wander <command> --help` says. The manual pages explain what each command does.',
    '`wander` with no command prints the help on stderr and exits with code 2; every command exits 0 on',
    'success, 1 when the run itself failed, and 2 on bad input (one line on stderr naming what was wrong).',
    '',
    '| command | what it does | manual |',
    '| --- | --- | --- |',
    ...commands.map((c) => `| [\`${c.name()}\`](#wander-${c.name()}) | ${cell(c.description())} | ${MANUAL[c.name()] ? `[${MANUAL[c.name()]!.split('#')[0]}](${MANUAL[c.name()]})` : ''} |`),
  ];
  for (const c of commands) {
    out.push('', `## \`wander ${c.name()}\``, '', cell(c.description()) + '.', '', '```', `wander ${c.name()} ${c.usage()}`, '```');
    const args = c.registeredArguments;
    if (args.length > 0) {
      out.push('', '| argument | what it is |', '| --- | --- |', ...args.map((a) => `| \`${a.name()}\` | ${cell(a.description)} |`));
    }
    out.push('', '| option | what it does |', '| --- | --- |');
    for (const o of c.options) {
      const dflt = o.defaultValue !== undefined && !(Array.isArray(o.defaultValue) && o.defaultValue.length === 0) ? ` (default: ${JSON.stringify(o.defaultValue)})` : '';
      out.push(`| \`${o.flags}\` | ${cell(o.description)}${dflt} |`);
    }
  }
  return out.join('\n') + '\n';
}

export const CLI_DOC = join(fileURLToPath(new URL('..', import.meta.url)), 'docs', 'cli.md');

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(CLI_DOC, cliReference());
  console.log(`wrote ${CLI_DOC}`);
}
