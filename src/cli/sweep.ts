import type { Command } from 'commander';
import { UserError } from '../errors.js';
import type { SweepProgress } from '../experiments/sweep.js';
import { defaultThreads, MODEL_HELP, THREADS_HELP } from './model-flags.js';
import { numeric } from './sampler-flags.js';

export const DEFAULT_DB = 'results.sqlite';

interface SweepFlags { db: string; force?: boolean; chat: boolean; model: string[]; samples?: string; maxTokens?: string; threads?: string; kernels?: string; json?: boolean; concurrency?: string; apiKeyEnv?: string; endpoint: string[] }

export function sweepCommand(program: Command): void {
  program.command('sweep')
    .description('run an experiment file (models × prompts × presets × seeds) into a results database; resumes where it stopped')
    .argument('<file>', 'experiment file (YAML); see experiments/')
    .option('--db <path>', 'SQLite results database (created if missing)', DEFAULT_DB)
    .option('--force', 'generate every sample again, even those already stored')
    .option('--model <spec>', `run on this model instead of the file's models (repeatable): ${MODEL_HELP}`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--samples <N>', 'samples per cell and seed, instead of the file\'s')
    .option('--max-tokens <N>', 'max tokens per sample, instead of the file\'s')
    .option('--no-chat', 'send prompts as plain text, even where the file asks for the model\'s chat template')
    .option('--threads <N>', THREADS_HELP)
    .option('--kernels <impl>', 'wasm (default) or typescript')
    .option('--concurrency <N>', 'for openai: models, requests in flight per server (1–256, default 4)')
    .option('--endpoint <URL>', 'another server (URL[#MODEL-ID]) serving the experiment\'s openai: model: the sweep spreads its requests over all of them (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--api-key-env <NAME>', 'for openai: models, the environment variable holding the API key (default OPENAI_API_KEY)')
    .option('--json', 'print the outcome as JSON')
    .option('--verbose', 'show stack traces for errors')
    .action(async (file: string, flags: SweepFlags) => {
      const [{ SingleBar }, { applyOverrides, loadExperiment }, { ResultsStore }, { runSweep }] = await Promise.all([
        import('cli-progress'), import('../experiments/spec.js'), import('../experiments/store.js'), import('../experiments/sweep.js'),
      ]);
      const threads = numeric(flags.threads) ?? defaultThreads();
      if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 64) {
        throw new UserError(`--threads must be an integer from 1 to 64, got ${JSON.stringify(flags.threads)}`, 'threads');
      }
      if (flags.kernels !== undefined && flags.kernels !== 'wasm' && flags.kernels !== 'typescript') {
        throw new UserError(`--kernels must be wasm or typescript, got ${JSON.stringify(flags.kernels)}`, 'kernels');
      }
      const concurrency = integer(flags.concurrency, '--concurrency');
      if (concurrency !== undefined && (concurrency < 1 || concurrency > 256)) throw new UserError(`--concurrency must be an integer from 1 to 256, got ${concurrency}`, 'concurrency');
      const apiKey = process.env[flags.apiKeyEnv ?? 'OPENAI_API_KEY'];
      if (flags.apiKeyEnv && apiKey === undefined) throw new UserError(`--api-key-env ${flags.apiKeyEnv}: no such environment variable`, 'api-key-env');
      const spec = applyOverrides(loadExperiment(file), {
        models: flags.model, samples: integer(flags.samples, '--samples'), max_tokens: integer(flags.maxTokens, '--max-tokens'), chat: flags.chat,
      });
      const store = ResultsStore.open(flags.db);
      const tty = process.stderr.isTTY && !flags.json;
      const bar = tty ? new SingleBar({
        format: '{bar} {percentage}% | cells {cells} | samples {value}/{total} | {tps} tok/s | ETA {eta_formatted}',
        stream: process.stderr, etaBuffer: 50, // cursor left visible: Ctrl-C ends the process mid-line
      }) : undefined;
      let barStarted = false;
      const log = (line: string) => {
        if (flags.json) return;
        if (bar) bar.stop();
        process.stderr.write(`${line}\n`);
        barStarted = false;
      };
      let cellsShown: number | undefined;
      const onProgress = (p: SweepProgress) => {
        if (!bar) {
          // Without a terminal (logs, nohup): one line per finished cell.
          if (cellsShown === undefined) cellsShown = p.cellsDone;
          else if (!flags.json && p.cellsDone > cellsShown) {
            cellsShown = p.cellsDone;
            process.stderr.write(`cells ${p.cellsDone}/${p.cellsTotal} · samples ${p.samplesDone}/${p.samplesTotal} · ${Math.round((p.tokens / p.elapsedMs) * 1000)} tok/s\n`);
          }
          return;
        }
        const payload = { cells: `${p.cellsDone}/${p.cellsTotal}`, tps: p.elapsedMs > 0 ? Math.round((p.tokens / p.elapsedMs) * 1000) : 0 };
        if (!barStarted) { bar.start(p.samplesTotal, p.samplesDone, payload); barStarted = true; } else bar.update(p.samplesDone, payload);
      };
      if (!flags.json) process.stderr.write(`sweep ${spec.name} → ${flags.db} (each sample is stored as it finishes: interrupt at any time and run again to resume)\n`);
      try {
        const r = await runSweep(spec, store, {
          force: flags.force, threads, kernels: flags.kernels as 'wasm' | 'typescript' | undefined, progress: !flags.json, onProgress, onLog: log, concurrency, apiKey, endpoints: flags.endpoint,
        });
        bar?.stop();
        if (flags.json) {
          process.stdout.write(JSON.stringify({ ...r, db: flags.db, elapsedMs: Math.round(r.elapsedMs) }, null, 2) + '\n');
        } else if (r.upToDate) {
          process.stdout.write(`${r.experiment}: already complete in ${flags.db} (${r.reused} samples in ${r.cells} cells); --force runs it again\n`);
        } else {
          const s = r.elapsedMs / 1000;
          process.stdout.write(`${r.experiment}: ${r.cells} cells, ${r.generated} samples generated${r.reused ? `, ${r.reused} already stored` : ''}, ${r.tokens} tokens in ${s.toFixed(1)} s (${Math.round(r.tokens / s)} tok/s) → ${flags.db}\n`);
          if (r.errors) process.stdout.write(`${r.errors} samples ended in an error; run the sweep again to retry them\n`);
          process.stdout.write(`next: wander report ${flags.db} --experiment ${r.experiment}\n`);
        }
        if (r.errors) process.exitCode = 1;
      } finally {
        bar?.stop();
        store.close();
      }
    });
}

function integer(v: string | undefined, flag: string): number | undefined {
  const n = numeric(v);
  if (n === undefined) return undefined;
  if (typeof n !== 'number') throw new UserError(`${flag} must be an integer, got ${JSON.stringify(v)}`, flag.slice(2));
  return n;
}
