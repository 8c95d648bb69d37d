import type { Command } from 'commander';
import type { ModelListing } from '../resolve/list.js';
import { pad } from './format.js';

export function modelsCommand(program: Command): void {
  program.command('models')
    .description('list the models Wander can load without the network: embedded, Hugging Face cache, Ollama store')
    .option('--json', 'print one JSON object instead of text')
    .option('--verbose', 'show stack traces for errors')
    .action(async (flags: { json?: boolean }) => {
      const listing = (await import('../resolve/list.js')).listModels();
      process.stdout.write(flags.json ? JSON.stringify(listing, null, 2) + '\n' : renderModels(listing));
    });
}

/** One line per model: the --model spec to pass, its size, what it is; then where Wander looked. */
export function renderModels(l: ModelListing): string {
  const width = Math.max(16, ...l.models.map((m) => Array.from(m.spec).length));
  const lines = [`${pad('--model', width)}  ${'size'.padStart(9)}  about`];
  for (const m of l.models) lines.push(`${pad(m.spec, width)}  ${mib(m.bytes).padStart(9)}  ${m.about ?? ''}`);
  const hf = l.models.filter((m) => m.source === 'hf-cache').length, ol = l.models.filter((m) => m.source === 'ollama').length;
  lines.push('', `Hugging Face cache  ${l.places.hf_cache} (${hf} model${hf === 1 ? '' : 's'})`,
    `Ollama store        ${l.places.ollama_store} (${ol} model${ol === 1 ? '' : 's'})`,
    'Also: any .gguf file or model folder by its path, and hf:<owner>/<repo>[/<file>] (downloaded once into the cache).');
  return lines.map((x) => x.trimEnd()).join('\n') + '\n';
}

function mib(bytes: number): string {
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(1)} GiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
