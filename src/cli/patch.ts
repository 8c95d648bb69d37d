import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { activationPatching, checkPatchHook, PATCH_KINDS, type PatchCell, type PatchResult } from '../interp/patch.js';
import { tokenLabel, type TokenEntry } from '../interp/tokens.js';
import { clip, pad, shade, showToken } from './format.js';
import { addModelFlags, openModel, type ModelFlags } from './model-flags.js';

interface PatchFlags extends ModelFlags { clean?: string; corrupted?: string; hook: string; target?: string; foil?: string }

export function patchCommand(program: Command): void {
  const cmd = program.command('patch').description('activation patching: which layer and position (or head) carries the difference between a clean and a corrupted prompt');
  addModelFlags(cmd, { prompt: false });
  cmd
    .option('--clean <text>', 'the prompt whose activations are patched in')
    .option('--corrupted <text>', 'the prompt the patched runs start from (the same number of tokens as --clean)')
    .option('--hook <HOOK>', 'what to patch: resid_pre, attn_out, mlp_out, or z (one head\'s output)', 'resid_pre')
    .option('--target <TOKEN>', 'the metric is logit(target) − logit(foil) at the last position; default target: the clean run\'s top token (text that is one token, or #id)')
    .option('--foil <TOKEN>', 'default: the corrupted run\'s top token')
    .action(async (flags: PatchFlags) => {
      checkPatchHook(flags.hook);
      if (flags.clean === undefined) throw new UserError('--clean is required: the prompt whose activations are patched in', 'clean');
      if (flags.corrupted === undefined) throw new UserError('--corrupted is required: the prompt the patched runs start from', 'corrupted');
      const { model } = await openModel(flags, { prompt: false });
      try {
        const r = activationPatching(model, flags.clean, flags.corrupted, { hook: flags.hook, target: flags.target, foil: flags.foil });
        process.stdout.write(flags.json ? JSON.stringify(r) + '\n' : renderPatch(r, (id) => tokenLabel(model.tokenizer, id)));
      } finally {
        model.close();
      }
    });
}

const LEGEND = '· < 0.1  ░ < 0.25  ▒ < 0.5  ▓ < 0.75  █ ≥ 0.75 (by size)';
/** Longest token text shown, in code points. */
const TOKEN = 12;


/** A cell: a shade for the size of the normalized effect, then its value. */
function cellText(c: PatchCell): string {
  if (c.normalized === null) return '      —';
  const x = Math.abs(c.normalized) < 0.005 ? 0 : c.normalized; // no "-0.00"
  return `${shade(Math.abs(x))} ${x.toFixed(2).padStart(5)}`;
}


/**
 * The grid with one row per position (the clean token, and → the corrupted one where they differ) and
 * one column per layer — for hook z one such table per layer, one column per head. Each cell is the
 * normalized effect (patched − corrupted) / (clean − corrupted) with a shade for its size. `label`
 * gives a token id's text.
 */
export function renderPatch(r: PatchResult, label: (id: number) => string): string {
  const T = r.clean.token_ids.length;
  const rows = Array.from({ length: T }, (_, p) => {
    const a = clip(showToken(label(r.clean.token_ids[p]!)), TOKEN), b = clip(showToken(label(r.corrupted.token_ids[p]!)), TOKEN);
    return a === b ? a : `${a} → ${b}`;
  });
  const tw = Math.max(5, ...rows.map((x) => Array.from(x).length));
  const list = (ids: number[]) => ids.slice(0, 12).map((id) => showToken(label(id))).join(' ') + (ids.length > 12 ? ' …' : '');
  const tokenText = (t: TokenEntry) => `${showToken(t.token)} (#${t.token_id})`;
  const hook = PATCH_KINDS[r.hook].activation;
  const lines = [
    `clean      ${T} tokens: ${list(r.clean.token_ids)}`,
    `corrupted  ${T} tokens: ${list(r.corrupted.token_ids)}`,
    `metric     logit ${tokenText(r.target)} − logit ${tokenText(r.foil)} at the last position: clean ${r.clean_logit_diff.toFixed(4)}, corrupted ${r.corrupted_logit_diff.toFixed(4)}`,
    `patched    blocks.{layer}.${hook}${r.hook === 'z' ? ', one head' : ''} at one position, from the clean run into the corrupted one`,
    `cell       (patched − corrupted) / (clean − corrupted): 0 = no effect, 1 = the clean run's difference;  ${LEGEND}`,
  ];
  const table = (title: string, heads: string[], columns: PatchCell[][]) => {
    lines.push('', ...(title ? [title] : []), `  pos  ${pad('token', tw)}  ${heads.map((h) => pad(h, 7, true)).join('  ')}`);
    for (let p = 0; p < T; p++) lines.push(`${String(p).padStart(5)}  ${pad(rows[p]!, tw)}  ${columns.map((col) => cellText(col[p]!)).join('  ')}`);
  };
  if (r.hook === 'z') {
    (r.grid as PatchCell[][][]).forEach((heads, l) => table(`layer ${l} (blocks.${l}.${hook}): one column per head`, heads.map((_, h) => `head ${h}`), heads));
  } else {
    const grid = r.grid as PatchCell[][];
    table('', grid.map((_, l) => `layer ${l}`), grid);
  }
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}
