import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { logitLens, type LensCell, type LensResult } from '../interp/lens.js';
import { tokenLabel } from '../interp/tokens.js';
import { clip, pad, showToken } from './format.js';
import { addModelFlags, openModel, type ModelFlags } from './model-flags.js';
import { addInterventionAndSeedFlags, interventionSettings, numeric, type InterventionFlags } from './sampler-flags.js';

interface LensFlags extends ModelFlags, InterventionFlags { target?: string; top?: string }

export function lensCommand(program: Command): void {
  const cmd = program.command('lens').description('logit lens: what every layer would predict at every position, through the model\'s final norm and unembedding');
  addModelFlags(cmd);
  cmd
    .option('--target <TOKEN>', 'follow one token through the layers: its probability and rank in every cell (text that is one token, or #id)')
    .option('--top <N>', 'tokens per cell in --json (1–1000, default 5); the table shows the top one');
  addInterventionAndSeedFlags(cmd)
    .action(async (flags: LensFlags) => {
      const { interventions, seed } = interventionSettings(flags);
      const top = numeric(flags.top) ?? 5;
      if (typeof top !== 'number') throw new UserError(`--top must be an integer from 1 to 1000, got ${JSON.stringify(flags.top)}`, 'top');
      const { model, prompt } = await openModel(flags);
      try {
        const lens = logitLens(model, prompt, { target: flags.target, top, interventions, seed });
        const targetId = lens.layers[0]?.positions[0]?.target?.token_id;
        process.stdout.write(flags.json ? JSON.stringify(lens, null, 2) + '\n' : renderLens(lens, targetId === undefined ? undefined : tokenLabel(model.tokenizer, targetId)));
      } finally {
        model.close();
      }
    });
}

/** Longest token text shown in a cell, in code points. */
const CELL_TOKEN = 12;

/**
 * One row per input position, one column per layer: the top-1 token of that layer's residual with its
 * probability (or, with a target, the target's probability and rank). Read a row left to right to see
 * the prediction for the next token form.
 */
export function renderLens(lens: LensResult, targetText = ''): string {
  const cell = (c: LensCell) => (c.target ? `${c.target.prob.toFixed(4)} #${c.target.rank}` : `${clip(showToken(c.top[0]!.token), CELL_TOKEN)} ${c.top[0]!.prob.toFixed(2)}`);
  const grid = lens.tokens.map((_, p) => lens.layers.map((l) => cell(l.positions[p]!)));
  const tokens = lens.tokens.map((t) => clip(showToken(t.token), CELL_TOKEN));
  const tw = Math.max(5, ...tokens.map((t) => Array.from(t).length));
  const widths = lens.layers.map((l, i) => Math.max(`layer ${l.layer}`.length, ...grid.map((row) => Array.from(row[i]!).length)));
  const first = lens.layers[0]?.positions[0]?.target;
  const lines = [
    first
      ? `target    ${showToken(targetText)} (#${first.token_id}): its probability and rank (1 = top) after each layer, predicting the token after each position`
      : 'top-1 next-token prediction (and its probability) read from each layer\'s residual stream through the final norm and unembedding',
    '',
    `  pos  ${pad('token', tw)}  ${lens.layers.map((l, i) => pad(`layer ${l.layer}`, widths[i]!)).join('  ')}`,
  ];
  grid.forEach((row, p) => lines.push(`${String(p).padStart(5)}  ${pad(tokens[p]!, tw)}  ${row.map((c, i) => pad(c, widths[i]!)).join('  ')}`));
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}

