import type { Command } from 'commander';
import { attribute, type Attribution } from '../interp/attribute.js';
import { bar, pad, showToken } from './format.js';
import { addModelFlags, openModel, type ModelFlags } from './model-flags.js';

interface AttributeFlags extends ModelFlags { target?: string }

export function attributeCommand(program: Command): void {
  const cmd = program.command('attribute').description('gradient saliency: how much each prompt token drives the next token (GPT-2 and Llama families)');
  addModelFlags(cmd);
  cmd
    .option('--target <TOKEN>', 'the next token to explain: text that is one token, or #id (default: the most likely one)')
    .action(async (flags: AttributeFlags) => {
      const { model, prompt } = await openModel(flags);
      try {
        const a = attribute(model, prompt, flags.target);
        process.stdout.write(flags.json ? JSON.stringify(a, null, 2) + '\n' : renderAttribution(a));
      } finally {
        model.close();
      }
    });
}

/** A table: each prompt token with its input × gradient (a bar left for against, right for toward) and gradient norm. */
export function renderAttribution(a: Attribution): string {
  const t = a.target;
  const lines = [
    `target    ${showToken(t.token)} (#${t.token_id}, rank ${t.rank}, p = ${t.prob.toFixed(4)}${t.chosen_by === 'argmax' ? ', the most likely next token' : ''})`,
    `method    ${a.method}`, '',
  ];
  const width = Math.max(8, ...a.tokens.map((x) => Array.from(showToken(x.token)).length));
  const maxIxg = Math.max(1e-30, ...a.tokens.map((x) => Math.abs(x.input_x_gradient)));
  const maxNorm = Math.max(1e-30, ...a.tokens.map((x) => x.gradient_norm));
  lines.push(`  pos  ${pad('token', width)}  input×grad  ${pad('against', 12, true)}|${pad('toward', 12)}  grad norm`);
  for (const x of a.tokens) {
    const f = x.input_x_gradient / maxIxg;
    const left = f < 0 ? pad(bar(-f, 12).trimEnd(), 12, true) : ' '.repeat(12);
    const right = f > 0 ? bar(f, 12) : ' '.repeat(12);
    lines.push(`${String(x.position).padStart(5)}  ${pad(showToken(x.token), width)}  ${x.input_x_gradient.toFixed(4).padStart(10)}  ${left}|${right}  ${x.gradient_norm.toFixed(4).padStart(9)} ${bar(x.gradient_norm / maxNorm, 12)}`);
  }
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}
