import type { Command } from 'commander';
import { directLogitAttribution, isLayerLevel, type DlaComponent, type DlaResult } from '../interp/dla.js';
import { bar, pad, showToken } from './format.js';
import { addModelFlags, openModel, type ModelFlags } from './model-flags.js';

interface DlaFlags extends ModelFlags { target?: string }

export function dlaCommand(program: Command): void {
  const cmd = program.command('dla').description('direct logit attribution: how much each embedding, attention output, head and MLP output pushes the next token\'s logit');
  addModelFlags(cmd);
  cmd
    .option('--target <TOKEN>', 'the next token to explain: text that is one token, or #id (default: the most likely one)')
    .action(async (flags: DlaFlags) => {
      const { model, prompt } = await openModel(flags);
      try {
        const r = directLogitAttribution(model, prompt, { target: flags.target });
        process.stdout.write(flags.json ? JSON.stringify(r, null, 2) + '\n' : renderDla(r));
      } finally {
        model.close();
      }
    });
}

const HEADS = 10;
const BAR = 16;

export function componentLabel(c: DlaComponent): string {
  switch (c.name) {
    case 'head': return `L${c.layer}H${c.head}`;
    case 'attn_out': case 'mlp_out': case 'attn_bias': return `L${c.layer} ${c.name}`;
    default: return c.name;
  }
}

/** Two ranked lists with bars (left: against the target, right: toward it): the layer-level pieces, then the top heads. */
export function renderDla(r: DlaResult): string {
  const t = r.target;
  const layer = r.components.filter(isLayerLevel);
  const heads = r.components.filter((c) => c.name === 'head').sort((a, b) => Math.abs(b.logit) - Math.abs(a.logit)).slice(0, HEADS);
  const max = Math.max(1e-30, ...r.components.map((c) => Math.abs(c.logit)));
  const width = Math.max(12, ...r.components.map((c) => componentLabel(c).length));
  const row = (c: DlaComponent) => {
    const f = c.logit / max;
    const left = f < 0 ? pad(bar(-f, BAR).trimEnd(), BAR, true) : ' '.repeat(BAR);
    const right = f > 0 ? bar(f, BAR) : '';
    return `  ${pad(componentLabel(c), width)}  ${c.logit.toFixed(4).padStart(9)}  ${left}|${right}`;
  };
  const lines = [
    `target      ${showToken(t.token)} (#${t.token_id}, rank ${t.rank}, p = ${t.prob.toFixed(4)})`,
    `logit       ${r.logit.toFixed(4)}; the layer-level components below add up to ${r.total.toFixed(4)}`,
    `convention  ${r.convention}`,
    '',
    `${pad('  by layer', width + 2)}  ${pad('logit', 9, true)}  ${pad('against', BAR, true)}|toward`,
    ...[...layer].sort((a, b) => b.logit - a.logit).map(row),
    '',
    `  top ${heads.length} heads by size (each layer's attn_out = its heads${r.components.some((c) => c.name === 'attn_bias') ? ' + its attn_bias' : ''})`,
    ...heads.sort((a, b) => b.logit - a.logit).map(row),
  ];
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}
