import type { Command } from 'commander';
import { checkAblationMode, headAblationScan, type HeadScan } from '../interp/heads.js';
import { pad, shade, showToken } from './format.js';
import { addModelFlags, openModel, type ModelFlags } from './model-flags.js';

interface HeadsFlags extends ModelFlags { mode: string }

export function headsCommand(program: Command): void {
  const cmd = program.command('heads').description('ablate each attention head in turn and rank the heads by how far the next-token distribution moves (KL)');
  addModelFlags(cmd);
  cmd
    .option('--mode <MODE>', 'zero (the head\'s output set to 0) or mean (set to its mean over the prompt), at every position', 'zero')
    .action(async (flags: HeadsFlags) => {
      checkAblationMode(flags.mode);
      const { model, prompt } = await openModel(flags);
      try {
        const scan = headAblationScan(model, prompt, { mode: flags.mode });
        process.stdout.write(flags.json ? JSON.stringify(scan) + '\n' : renderHeads(scan, model.config.nLayer, model.config.nHead));
      } finally {
        model.close();
      }
    });
}

const TOP = 10;

/** A layers × heads grid of KL(clean ‖ ablated), shaded by its share of the largest, then the top heads. */
export function renderHeads(scan: HeadScan, nLayer: number, nHead: number): string {
  const kl = (l: number, h: number) => scan.heads.find((x) => x.layer === l && x.head === h)!.kl_nats;
  const max = Math.max(1e-300, ...scan.heads.map((x) => x.kl_nats));
  const what = scan.mode === 'zero' ? 'set to 0' : 'set to its mean over the prompt';
  const lines = [
    `ablation  each head's output (attn.hook_z) ${what} at every position, one head at a time`,
    `KL        KL(clean ‖ ablated) of the next-token distribution at the last position, nats; shade: share of the largest (${max.toPrecision(3)})`,
    '',
  ];
  const per = Math.min(nHead, 8);
  for (let g = 0; g < nHead; g += per) {
    const heads = Array.from({ length: Math.min(per, nHead - g) }, (_, i) => g + i);
    lines.push(`${pad('', 9)}${heads.map((h) => pad(`head ${h}`, 10, true)).join('')}`);
    for (let l = 0; l < nLayer; l++) lines.push(`${pad(`layer ${l}`, 9)}${heads.map((h) => pad(`${shade(kl(l, h) / max)} ${kl(l, h).toFixed(4)}`, 10, true)).join('')}`);
    lines.push('');
  }
  const kept = scan.heads.find((x) => !x.top1_changed);
  if (kept) lines.push(`clean     top-1 next token ${showToken(kept.top[0]!.token)}; ${scan.heads.filter((x) => x.top1_changed).length} of ${scan.heads.length} ablations change it`, '');
  lines.push(`top ${Math.min(TOP, scan.heads.length)}`, '  rank  head       KL (nats)  top-1      ablated run\'s top tokens');
  scan.heads.slice(0, TOP).forEach((x, i) => {
    const top = x.top.slice(0, 3).map((t) => `${showToken(t.token)} ${t.prob.toFixed(2)}`).join('  ');
    lines.push(`${String(i + 1).padStart(6)}  ${pad(`L${x.layer}H${x.head}`, 7)}  ${x.kl_nats.toFixed(4).padStart(10)}  ${pad(x.top1_changed ? 'changed' : 'kept', 9)}  ${top}`);
  });
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}
