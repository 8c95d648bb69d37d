import type { Command } from 'commander';
import { attentionPatterns, indexError, type AttentionPatterns, type HeadPattern } from '../interp/attention.js';
import { HEAD_THRESHOLDS } from '../interp/head-summary.js';
import type { Model } from '../model/load.js';
import { pad, shade, SHADES, showToken } from './format.js';
import { addModelFlags, openModel, type ModelFlags } from './model-flags.js';

interface AttentionFlags extends ModelFlags { layer?: string; head?: string }

export function attentionCommand(program: Command): void {
  const cmd = program.command('attention').description('every attention head\'s pattern on a prompt, and what each head mostly does');
  addModelFlags(cmd);
  cmd
    .option('--layer <L>', 'only this layer (from 0)')
    .option('--head <H>', 'only this query head (from 0); without --layer, that head in every layer')
    .action(async (flags: AttentionFlags) => {
      const { model, prompt } = await openModel(flags);
      try {
        const one = flags.layer !== undefined && flags.head !== undefined;
        // The text grid needs only the summaries; the heat map and --json need the patterns.
        const a = attentionPatterns(model, prompt, { layer: index(model, 'layer', flags.layer), head: index(model, 'head', flags.head), patterns: !!flags.json || one });
        process.stdout.write(flags.json ? JSON.stringify(a) + '\n' : renderAttention(a, model.config.nHead, one));
      } finally {
        model.close();
      }
    });
}

function index(model: Model, field: 'layer' | 'head', s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\s*-?\d+\s*$/.test(s)) throw indexError(model, field, JSON.stringify(s));
  return Number(s);
}

/** Positions drawn in a heat map; longer prompts show position 0 and the last MAP_SIZE − 1. */
const MAP_SIZE = 40;
/** Head columns per table before the heads wrap into another table. */
const HEADS_PER_TABLE = 6;

/** The prompt, a grid of head summaries per layer, and with one layer and head the pattern as a heat map. */
export function renderAttention(a: AttentionPatterns, nHead: number, heatMap: boolean): string {
  const T = a.tokens.length;
  const shown = a.tokens.slice(0, 12).map((t) => showToken(t.token)).join(' ');
  const lines = [`tokens    ${T}: ${shown}${T > 12 ? ' …' : ''}`, ''];
  const heads = a.layers[0]?.heads.map((h) => h.head) ?? [];
  const tables = Math.ceil(heads.length / HEADS_PER_TABLE);
  const per = Math.ceil(heads.length / tables);
  for (let g = 0; g < heads.length; g += per) {
    const cols = heads.slice(g, g + per);
    lines.push(`${pad('', 9)}${cols.map((h) => pad(`head ${h}`, 16)).join('')}`);
    for (const l of a.layers) {
      const cells = l.heads.slice(g, g + per).map((h) => pad(`${pad(h.summary.kind, 9)} ${h.summary.score.toFixed(2)}`, 16));
      lines.push(`${pad(`layer ${l.layer}`, 9)}${cells.join('')}`);
    }
    lines.push('');
  }
  const t = HEAD_THRESHOLDS.previous;
  lines.push(
    'kinds     previous → i−1 · first → position 0 · self → i · induction → the token after an earlier copy of token i',
    `score     mean attention on that key per query row (row 0 left out); a kind needs ≥ ${t}, the highest wins;`,
    `          diffuse: none reaches ${t}, score = mean row entropy ÷ uniform attention's (1 = spread evenly)`,
  );
  if (nHead > heads.length) lines.push(`heads     ${heads.length} of ${nHead} shown`);
  if (heatMap && a.layers.length === 1 && a.layers[0]!.heads.length === 1) lines.push('', ...heatMapLines(a, a.layers[0]!.layer, a.layers[0]!.heads[0]!));
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}

/** Rows = query tokens, columns = key tokens (labelled vertically), one shade per probability; each row's top key at the right. */
function heatMapLines(a: AttentionPatterns, layer: number, h: HeadPattern): string[] {
  const T = a.tokens.length;
  const pos = T <= MAP_SIZE ? [...Array(T).keys()] : [0, ...Array.from({ length: MAP_SIZE - 1 }, (_, i) => T - MAP_SIZE + 1 + i)];
  const gapAfter = T <= MAP_SIZE ? -1 : 0;
  const label = (i: number) => showToken(a.tokens[i]!.token);
  const width = Math.min(14, Math.max(...pos.map((i) => Array.from(label(i)).length)));
  const cut = (s: string) => (Array.from(s).length > width ? Array.from(s).slice(0, width - 1).join('') + '…' : s);
  const lead = ' '.repeat(6 + width + 2);
  const legend = SHADES.map(([hi, c], i) => (i === 0 ? `${c} < ${hi}` : hi === Infinity ? `${c} ≥ ${SHADES[i - 1]![0]}` : `${c} < ${hi}`)).join('  ');
  const out = [`layer ${layer}, head ${h.head}: ${h.summary.kind} ${h.summary.score.toFixed(2)}    rows: query tokens, columns: key tokens;  ${legend}`];
  if (gapAfter >= 0) out.push(`(${T} tokens: showing position 0 and the last ${MAP_SIZE - 1}; the top key on the right looks at all of them)`);
  out.push('');
  // Column labels: each key's token text written downwards, spaces shown as ␣.
  const texts = pos.map((i) => Array.from(showToken(a.tokens[i]!.token).slice(1, -1).replace(/ /g, '␣')));
  const depth = Math.min(5, Math.max(...texts.map((x) => x.length)));
  for (let r = 0; r < depth; r++) {
    out.push(lead + texts.map((x, c) => (x[r] ?? ' ') + ' ' + (c === gapAfter ? '┆ ' : '')).join(''));
  }
  pos.forEach((i, ri) => {
    const row = h.pattern![i]!;
    const cells = pos.map((k, c) => (k > i ? '  ' : shade(row[k]!).repeat(2)) + (c === gapAfter ? '┆ ' : '')).join('');
    let top = 0;
    for (let k = 1; k <= i; k++) if (row[k]! > row[top]!) top = k;
    out.push(`${String(i).padStart(4)}  ${pad(cut(label(i)), width)}  ${cells}  → ${top} ${label(top)} ${row[top]!.toFixed(2)}`);
    if (ri === gapAfter) out.push(`${pad('   ⋮', lead.length)}  ┆`);
  });
  return out;
}

