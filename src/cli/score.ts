import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { BUCKETS, scoreTokens, type Bucket, type TokenScores } from '../interp/score.js';
import { pad, showToken } from './format.js';
import { addModelFlags, openModel, type ModelFlags } from './model-flags.js';
import { addInterventionAndSeedFlags, interventionSettings, type InterventionFlags } from './sampler-flags.js';

interface ScoreFlags extends ModelFlags, InterventionFlags { text?: string; ids?: string; file?: string; color?: boolean }

export function scoreCommand(program: Command): void {
  const cmd = program.command('score').description('per-token loss: how surprising each token of a text is to the model (teacher-forced)');
  addModelFlags(cmd, { prompt: false });
  cmd
    .option('--text <text>', 'the text to score (tokenized as the model does, BOS included when it adds one)')
    .option('--ids <ids>', 'token ids to score exactly as given, comma-separated (no BOS added)')
    .option('--file <path>', 'score the text in this file (UTF-8)')
    .option('--color', 'colour the text by bucket even when stdout is not a terminal')
    .option('--no-color', 'never colour the text');
  addInterventionAndSeedFlags(cmd)
    .action(async (flags: ScoreFlags) => {
      const input = scoreInput(flags);
      const { interventions, seed } = interventionSettings(flags);
      const { model } = await openModel(flags, { prompt: false });
      try {
        const s = scoreTokens(model, input.value, input.flag, { interventions, seed });
        const color = flags.color ?? (!!process.stdout.isTTY && !process.env['NO_COLOR']);
        process.stdout.write(flags.json ? JSON.stringify(s, null, 2) + '\n' : renderScores(s, color));
      } finally {
        model.close();
      }
    });
}

/** Exactly one of --text, --ids, --file: what to score, and the flag it came from. */
function scoreInput(f: ScoreFlags): { value: string | number[]; flag: string } {
  const given = (['text', 'ids', 'file'] as const).filter((k) => f[k] !== undefined);
  if (given.length !== 1) {
    throw new UserError(given.length === 0 ? 'give what to score: one of --text, --ids or --file' : `give only one of --text, --ids and --file (got ${given.map((k) => `--${k}`).join(' and ')})`, given[0] ?? 'text');
  }
  if (f.ids !== undefined) {
    const parts = f.ids.split(',').map((x) => x.trim());
    if (!parts.every((x) => /^\d+$/.test(x))) throw new UserError(`--ids must be comma-separated token ids (e.g. 1,403,407), got ${JSON.stringify(f.ids)}`, 'ids');
    return { value: parts.map(Number), flag: 'ids' };
  }
  if (f.file !== undefined) {
    try {
      return { value: readFileSync(f.file, 'utf8'), flag: 'file' };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserError(`--file ${f.file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : `cannot read it (${code ?? (e as Error).message})`}`, 'file');
    }
  }
  return { value: f.text!, flag: 'text' };
}

/** GLTR's colours: green, yellow, red, violet backgrounds (black text). */
const COLORS: Record<Bucket, string> = { top10: '\x1b[30;42m', top100: '\x1b[30;43m', top1000: '\x1b[30;41m', beyond: '\x1b[30;45m' };
const RESET = '\x1b[0m';

/** The text (each token coloured by its bucket when `color`), a summary, and one row per token. */
export function renderScores(s: TokenScores, color: boolean): string {
  const paint = (text: string, b: Bucket | null) => (color && b ? COLORS[b] + text + RESET : text);
  const counts = BUCKETS.map((b) => `${paint(b, b)} ${s.tokens.filter((t) => t.bucket === b).length}`).join(' · ');
  const lines = [
    s.tokens.map((t) => paint(t.token, t.bucket)).join(''),
    '',
    `scored    ${s.tokens.length - 1} of ${s.tokens.length} tokens (the first has nothing before it) · buckets by rank: ${counts}`,
    s.mean_nll === null ? 'mean NLL  — (one token: nothing to predict)' : `mean NLL  ${s.mean_nll.toFixed(4)} nats/token (${(s.mean_nll / Math.LN2).toFixed(3)} bits) · perplexity ${s.perplexity!.toFixed(3)}`,
    '',
  ];
  const width = Math.max(8, ...s.tokens.map((t) => Array.from(showToken(t.token)).length));
  lines.push(`  pos  ${pad('token', width)}   logprob  surprisal     rank  bucket   entropy`);
  lines.push(`       ${pad('', width)}    (nats)     (bits)                     (bits)`);
  for (const t of s.tokens) {
    const cells = t.logprob === null
      ? ['—'.padStart(8), '—'.padStart(9), '—'.padStart(7), pad('—', 7), '—'.padStart(8)]
      : [t.logprob.toFixed(4).padStart(8), (-t.logprob / Math.LN2).toFixed(3).padStart(9), String(t.rank).padStart(7), paint(pad(t.bucket!, 7), t.bucket), t.entropy_bits!.toFixed(3).padStart(8)];
    lines.push(`${String(t.position).padStart(5)}  ${pad(showToken(t.token), width)}  ${cells.join('  ')}`);
  }
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}
