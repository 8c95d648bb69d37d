import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { buildServer } from '../server/app.js';
import { ModelRegistry } from '../server/registry.js';
import { defaultThreads, MODEL_HELP, THREADS_HELP } from './model-flags.js';
import { numeric } from './sampler-flags.js';

interface ServeFlags { model: string[]; host: string; port: string; apiKey?: string; threads?: string }

export function serveCommand(program: Command): void {
  program.command('serve')
    .description('an OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions) with Wander\'s own API (/api/…)')
    .option('-m, --model <spec>', `a model to serve, as SPEC or NAME=SPEC (repeatable; the first is the default): ${MODEL_HELP}`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8080')
    .option('--api-key <key>', 'require Authorization: Bearer <key> on every request but /health')
    .option('--threads <N>', THREADS_HELP)
    .option('--verbose', 'show stack traces for errors')
    .action(async (flags: ServeFlags) => {
      const port = numeric(flags.port);
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(flags.port)}`, 'port');
      const threads = numeric(flags.threads) ?? defaultThreads();
      if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 64) throw new UserError(`--threads must be an integer from 1 to 64, got ${JSON.stringify(flags.threads)}`, 'threads');
      let registry: ModelRegistry;
      try {
        registry = new ModelRegistry(flags.model.length ? flags.model : ['ladder:medium'], threads, (line) => process.stderr.write(`wander serve: ${line}\n`));
      } catch (e) {
        throw new UserError(`--model: ${(e as Error).message}`, 'model');
      }
      // Every model is loaded before the first request, so a bad spec fails now, with one line.
      for (const id of registry.ids) await registry.get(id);
      const app = buildServer({ registry, apiKey: flags.apiKey });
      const loopback = /^(127\.|localhost$|::1$)/.test(flags.host);
      if (!loopback && !flags.apiKey) process.stderr.write(`wander serve: warning: listening on ${flags.host} without --api-key: anyone who can reach it can use it\n`);
      const address = await app.listen({ host: flags.host, port });
      process.stderr.write(`wander serve: ${registry.ids.join(', ')} on ${address} (OpenAI-compatible: ${address}/v1)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => { void app.close().then(resolve); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
