import { basename } from 'node:path';
import type { Command } from 'commander';
import { cacheToJson, captureActivations, l2Norm, saveActivations, type ActivationCache } from '../interp/cache.js';
import { pad, showToken } from './format.js';
import { addModelFlags, openModel, type ModelFlags } from './model-flags.js';

interface CacheFlags extends ModelFlags { hooks: string[]; save?: string }

export function cacheCommand(program: Command): void {
  const cmd = program.command('cache').description('run a prompt once and capture activations at hook points (print, save as safetensors, or JSON)');
  addModelFlags(cmd);
  cmd
    .option('--hooks <PATTERN>', 'hook points to keep, glob over hook names (blocks.*.hook_resid_post); repeatable; default every hook but hook_logits', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--save <FILE>', 'write the activations to FILE.safetensors (F32, one tensor per hook, named by the hook)')
    .action(async (flags: CacheFlags) => {
      const { model, prompt } = await openModel(flags);
      try {
        const cache = captureActivations(model, prompt, flags.hooks.length ? { hooks: flags.hooks } : {});
        if (flags.save) saveActivations(flags.save, cache, basename(model.path));
        if (flags.json) process.stdout.write(JSON.stringify(cacheToJson(cache)) + '\n');
        else process.stdout.write(renderCache(cache, flags.save));
      } finally {
        model.close();
      }
    });
}

/** One line per hook: its name, shape and L2 norm over all positions. */
export function renderCache(cache: ActivationCache, saved?: string): string {
  const width = Math.max(4, ...cache.activations.map((a) => a.name.length));
  const shapes = cache.activations.map((a) => `[${a.shape.join(', ')}]`);
  const sw = Math.max(5, ...shapes.map((s) => s.length));
  const values = cache.activations.reduce((n, a) => n + a.data.length, 0);
  const lines = [
    `tokens    ${cache.tokens.length} (${cache.tokens.map((t) => showToken(t.token)).slice(0, 12).join(' ')}${cache.tokens.length > 12 ? ' …' : ''})`,
    `captured  ${cache.activations.length} hook point${cache.activations.length === 1 ? '' : 's'}, ${values.toLocaleString('en-US')} values${saved ? ` → ${saved}` : ''}`,
    '',
    `${pad('hook', width)}  ${pad('shape', sw)}  ${pad('L2 norm', 11, true)}`,
  ];
  cache.activations.forEach((a, i) => lines.push(`${pad(a.name, width)}  ${pad(shapes[i]!, sw)}  ${l2Norm(a.data).toPrecision(6).padStart(11)}`));
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}
