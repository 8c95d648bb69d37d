import type { Command } from 'commander';
import { nextTokenDistribution, type NextTokenDistribution } from '../generate/next.js';
import { describeModel, describeSettings } from './print-report.js';
import { bar, pad, prob, showToken } from './format.js';
import { addChatFlags, addModelFlags, chatFlags, defaultThreads, memoryOptions, openModel, refuseMemoryFlags, requirePrompt, type ChatFlags, type ModelFlags } from './model-flags.js';
import { addSamplerFlags, numeric, samplerSettings, type SamplerFlags } from './sampler-flags.js';
import { UserError } from '../errors.js';
import type { SettingsInput } from '../generate/settings.js';

interface NextFlags extends ModelFlags, SamplerFlags, ChatFlags { top?: string; draw?: string }

export function nextCommand(program: Command): void {
  const cmd = program.command('next').description('show the next-token distribution and what each sampler does to it');
  addModelFlags(cmd);
  addChatFlags(cmd);
  addSamplerFlags(cmd);
  cmd
    .option('--top <N>', 'show the N most likely tokens (default 20)')
    .option('--draw <K>', 'draw K tokens from the final distribution and count them')
    .action(async (flags: NextFlags) => {
      const input = samplerSettings(flags);
      const top = numeric(flags.top) ?? 20, draws = numeric(flags.draw) ?? 0;
      if (typeof top !== 'number') throw new UserError(`--top must be an integer from 1 to 1000, got ${JSON.stringify(flags.top)}`, 'top');
      if (typeof draws !== 'number') throw new UserError(`--draw must be an integer from 0 to 1000000, got ${JSON.stringify(flags.draw)}`, 'draw');
      if (flags.model?.startsWith('openai:')) return served(flags, input, top);
      if (flags.model?.startsWith('llama.cpp:')) {
        requirePrompt(flags);
        const chat = chatFlags(flags);
        const threads = numeric(flags.threads);
        const { LlamaCppModel } = await import('../backends/llama-cpp.js');
        const m = await LlamaCppModel.open(flags.model, { threads: typeof threads === 'number' ? threads : defaultThreads(), ...memoryOptions(flags) });
        try {
          const d = await m.next(chat ? (await import('../generate/chat.js')).chatPrompt(m, chat.messages) : flags.prompt!, input, { top, draws });
          return void process.stdout.write(flags.json ? JSON.stringify(d, null, 2) + '\n' : renderNext(d));
        } finally {
          await m.close();
        }
      }
      const { model } = await openModel(flags);
      try {
        const chat = chatFlags(flags);
        const d = nextTokenDistribution(model, chat ? (await import('../generate/chat.js')).chatPrompt(model, chat.messages) : requirePrompt(flags), input, { top, draws });
        process.stdout.write(flags.json ? JSON.stringify(d, null, 2) + '\n' : renderNext(d));
      } finally {
        model.close();
      }
    });
}

/**
 * The distribution as a table: rank, token, raw probability with a bar, the running total, the final
 * probability after the chain, and which stage removed each token — with a rule where removal starts.
 */
export function renderNext(d: NextTokenDistribution): string {
  const lines: string[] = [`model     ${describeModel(d.model)}`];
  lines.push(`prompt    ${showToken(d.prompt.text)} (${d.prompt.token_ids.length} tokens)`);
  lines.push(`settings  ${describeSettings(d.settings, d.settings.sources, d.stages, false)}`);
  const shape = d.entropy_bits < 1 ? 'peaked: the model is confident' : d.entropy_bits > 4 ? 'flat: many continuations are plausible' : 'in between';
  lines.push(`entropy   ${d.entropy_bits.toFixed(2)} bits raw (${shape}) → ${d.final_entropy_bits.toFixed(2)} bits after the chain`);
  lines.push(`kept      ${d.kept_count} token${d.kept_count === 1 ? '' : 's'}, holding ${(d.kept_mass * 100).toFixed(1)}% of the raw probability`);
  if (d.mirostat_mu) lines.push(`mirostat  μ ${d.mirostat_mu.before.toFixed(3)} (2τ: a sample's first step) → ${d.mirostat_mu.after.toFixed(3)} after this draw`);
  if (d.intervention) {
    const e = d.intervention, clean = e.clean_top[0]!;
    lines.push(`effect    KL(clean ‖ intervened) ${e.kl_nats.toFixed(4)} nats · top-1 ${e.top1_changed ? `changed: ${showToken(clean.token)} → ${showToken(d.candidates[0]!.token)}` : `unchanged (${showToken(clean.token)})`} · the table is the intervened model's`);
    lines.push(`clean     ${e.clean_top.slice(0, 5).map((t) => `${showToken(t.token)} ${prob(t.prob)}`).join('  ')}`);
  }
  lines.push('');
  const maxP = Math.max(...d.candidates.map((c) => c.prob));
  const width = Math.max(8, ...d.candidates.map((c) => Array.from(showToken(c.token)).length));
  lines.push(`rank  ${pad('token', width)}  p raw   ${pad('', 24)}  cumul.  p final  removed by`);
  let ruled = false;
  d.candidates.forEach((c, i) => {
    if (!ruled && c.removed_by) {
      lines.push(`${' '.repeat(6)}${'─'.repeat(width)}── ${c.removed_by} cuts here ${'─'.repeat(20)}`);
      ruled = true;
    }
    lines.push(`${String(i + 1).padStart(4)}  ${pad(showToken(c.token), width)}  ${prob(c.prob)}  ${bar(c.prob / maxP, 24)}  ${prob(c.cumulative_prob)}  ${c.removed_by ? '   —   ' : prob(c.final_prob)}  ${c.removed_by ?? ''}`);
  });
  const rest = 1 - (d.candidates[d.candidates.length - 1]?.cumulative_prob ?? 0);
  if (rest > 0.00005) lines.push(`      ${pad('(all others)', width)}  ${prob(rest)}`);
  if (d.draws) {
    const total = d.draws.reduce((n, x) => n + x.count, 0);
    lines.push('', `draws     ${total} tokens drawn from the final distribution (seed ${d.settings.seed}):`);
    const dw = Math.max(8, ...d.draws.map((x) => Array.from(showToken(x.token)).length));
    for (const x of d.draws.slice(0, 30)) {
      lines.push(`          ${pad(showToken(x.token), dw)}  ${String(x.count).padStart(7)}  ${bar(x.count / total, 24)}  ${((x.count / total) * 100).toFixed(1)}%`);
    }
    if (d.draws.length > 30) lines.push(`          … and ${d.draws.length - 30} more distinct tokens`);
  }
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}

/**
 * `--model openai:URL`: the server's top alternatives, raw, and the tail it does not list. Wander's
 * chain needs every logit, so sampler settings (and --draw) are refused rather than approximated.
 */
async function served(flags: NextFlags, input: SettingsInput, top: number): Promise<void> {
  refuseMemoryFlags(flags);
  const prompt = requirePrompt(flags), chat = chatFlags(flags);
  const [{ OpenAIBackend }, { requireCapability }] = await Promise.all([import('../backends/openai.js'), import('../backends/capabilities.js')]);
  const backend = await OpenAIBackend.connect(flags.model!, { apiKey: process.env['OPENAI_API_KEY'] });
  const chain = Object.keys(input).filter((k) => k !== 'seed');
  if (chain.length || numeric(flags.draw)) requireCapability('next', backend.info, 'full_logits', `${chain.length ? chain.join(', ') : '--draw'} on the full distribution`);
  const d = await backend.next(chat ?? prompt, top);
  if (flags.json) return void process.stdout.write(JSON.stringify(d, null, 2) + '\n');
  const width = Math.max(8, ...d.candidates.map((c) => Array.from(showToken(c.token)).length));
  const maxP = Math.max(...d.candidates.map((c) => c.prob), 1e-12);
  const lines = [`model     ${d.backend.name}, served (${d.backend.kind} backend): its top ${d.listed} alternatives, raw`, `prompt    ${showToken(d.prompt.text)}`, ''];
  lines.push(`rank  ${pad('token', width)}  p raw   ${pad('', 24)}  cumul.`);
  d.candidates.forEach((c, i) => lines.push(`${String(i + 1).padStart(4)}  ${pad(showToken(c.token), width)}  ${prob(c.prob)}  ${bar(c.prob / maxP, 24)}  ${prob(c.cumulative_prob)}`));
  lines.push(`      ${pad('(all others)', width)}  ${prob(d.tail_mass)}  (the tokens the server does not list, together)`);
  process.stdout.write(lines.join('\n') + '\n');
}
