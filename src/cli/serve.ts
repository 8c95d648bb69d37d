import type { Command } from 'commander';
import { UserError } from '../errors.js';
import type { ModelRegistry } from '../server/registry.js';
import { CONTEXT_HELP, defaultThreads, KV_HELP, memoryOptions, MODEL_HELP, THREADS_HELP, type MemoryFlags } from './model-flags.js';
import { numeric } from './sampler-flags.js';

interface ServeFlags extends MemoryFlags { model: string[]; host: string; port: string; apiKey?: string; threads?: string; maxBatchSize: string; queue: string; db?: string }

export function serveCommand(program: Command): void {
  program.command('serve')
    .description('an OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions) with Wander\'s own API (/api/…)')
    .option('-m, --model <spec>', `a model to serve, as SPEC or NAME=SPEC (repeatable; the first is the default): ${MODEL_HELP}`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8080')
    .option('--max-batch-size <B>', 'sequences each model decodes together (continuous batching), 1 to 64', '16')
    .option('--queue <N>', 'requests that may wait for each model; the next is refused with 503 and Retry-After', '64')
    .option('--db <file>', 'a results database (wander sweep) to serve under /api/sweeps, read-only')
    .option('--api-key <key>', 'require Authorization: Bearer <key> on every API request (/v1, /api, /tokenize, /detokenize)')
    .option('--threads <N>', THREADS_HELP)
    .option('--kv <type>', `${KV_HELP}, for every model served`)
    .option('--context <N>', `${CONTEXT_HELP}, for every model served`)
    .option('--verbose', 'show stack traces for errors')
    .action(async (flags: ServeFlags) => {
      const [{ ResultsStore }, { buildServer }, { ModelRegistry }] = await Promise.all([
        import('../experiments/store.js'), import('../server/app.js'), import('../server/registry.js'),
      ]);
      const port = intFlag(flags.port, '--port', 0, 65535);
      const threads = flags.threads === undefined ? defaultThreads() : intFlag(flags.threads, '--threads', 1, 64);
      const maxBatchSize = intFlag(flags.maxBatchSize, '--max-batch-size', 1, 64);
      const queue = intFlag(flags.queue, '--queue', 0, 100_000);
      const memory = memoryOptions(flags);
      // A database that cannot be read fails now, with one line, rather than on every request.
      if (flags.db !== undefined) ResultsStore.open(flags.db, { readonly: true }).close();
      let registry: ModelRegistry;
      try {
        registry = new ModelRegistry(flags.model.length ? flags.model : ['ladder:medium'], {
          threads, maxBatchSize, queue, ...memory, log: (line) => process.stderr.write(`wander serve: ${line}\n`),
        });
      } catch (e) {
        throw new UserError(`--model: ${(e as Error).message}`, 'model');
      }
      // Every model is loaded before the first request, so a bad spec fails now, with one line.
      try {
        await registry.start();
      } catch (e) {
        await registry.close(0);
        throw new UserError(`--model: ${(e as Error).message}`, 'model');
      }
      const app = buildServer({ registry, apiKey: flags.apiKey, db: flags.db });
      const loopback = /^(127\.|localhost$|::1$)/.test(flags.host);
      if (!loopback && !flags.apiKey) process.stderr.write(`wander serve: warning: listening on ${flags.host} without --api-key: anyone who can reach it can use it\n`);
      let address: string;
      try {
        address = await app.listen({ host: flags.host, port });
      } catch (e) {
        await app.close();
        throw new UserError(`cannot listen on ${flags.host}:${port}: ${(e as Error).message}`, 'port');
      }
      process.stderr.write(`wander serve: ${registry.ids.join(', ')} on ${address} (OpenAI-compatible: ${address}/v1)\n`);
      // SIGINT/SIGTERM: refuse new requests, let those in flight finish (up to 10 s), then stop the engines.
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.stderr.write('wander serve: stopping\n');
          void app.close().then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

function intFlag(v: string, flag: string, lo: number, hi: number): number {
  const n = numeric(v);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < lo || n > hi) throw new UserError(`${flag} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`, flag.slice(2));
  return n;
}
