import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { generate } from '../generate/generate.js';
import { cliNaming, parseSettings } from '../generate/settings.js';
import { loadModel } from '../model/load.js';
import { resolveModelSpec } from '../resolve/resolve.js';
import { printReport } from './print-report.js';

/** CLI strings → numbers where they look like numbers; anything else is passed on for the schema to reject by name. */
export function numeric(s: string | undefined): number | string | undefined {
  if (s === undefined) return undefined;
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s.trim()) ? Number(s) : s;
}

export const MODEL_HELP = 'a .gguf file, a Hugging Face model folder, or hf:<owner>/<repo>[/<file>]';

export function requireModel(spec: string | undefined): string {
  if (!spec) throw new UserError(`--model is required: pass ${MODEL_HELP} (e.g. --model ./stories260K.gguf)`, 'model');
  return spec;
}

interface GenerateFlags {
  model?: string; prompt?: string; temperature?: string; topK?: string; topP?: string; seed?: string;
  maxTokens?: string; stop: string[]; topLogprobs?: string; threads?: string; json?: boolean; kernels?: string; verbose?: boolean;
}

export function generateCommand(program: Command): void {
  program
    .command('generate')
    .description('generate a continuation of a prompt and report what happened')
    .option('-m, --model <spec>', `model: ${MODEL_HELP}`)
    .option('-p, --prompt <text>', 'the text to continue')
    .option('--temperature <T>', 'T ≥ 0; 0 = greedy (default 1, or the model\'s generation_config)')
    .option('--top-k <K>', 'keep the K most likely tokens; 0 = off (default 0)')
    .option('--top-p <P>', 'keep the smallest set with probability ≥ P, in (0, 1]; 1 = off (default 1)')
    .option('--seed <S>', 'integer seed; same seed ⇒ same output (default: random, reported)')
    .option('--max-tokens <N>', 'stop after N generated tokens (default 128)')
    .option('--stop <STR>', 'stop when the text contains STR (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--top-logprobs <N>', 'report each token\'s logprob and the N most likely alternatives (0–100)')
    .option('--threads <N>', `threads for matrix products (default ${defaultThreads()}: this machine's cores, at most 8)`)
    .option('--kernels <impl>', 'wasm (default) or typescript')
    .option('--json', 'print one JSON report instead of streaming text')
    .option('--verbose', 'show stack traces for errors')
    .action(async (flags: GenerateFlags) => {
      const spec = requireModel(flags.model);
      if (flags.prompt === undefined) throw new UserError('--prompt is required: the text for the model to continue', 'prompt');
      const input = parseSettings(dropUndefined({
        temperature: numeric(flags.temperature), top_k: numeric(flags.topK), top_p: numeric(flags.topP), seed: numeric(flags.seed),
        max_tokens: numeric(flags.maxTokens), stop: flags.stop.length ? flags.stop : undefined, top_logprobs: numeric(flags.topLogprobs),
      }), cliNaming);
      const threads = numeric(flags.threads) ?? defaultThreads();
      if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 64) {
        throw new UserError(`--threads must be an integer from 1 to 64, got ${JSON.stringify(flags.threads)}`, 'threads');
      }
      if (flags.kernels !== undefined && flags.kernels !== 'wasm' && flags.kernels !== 'typescript') {
        throw new UserError(`--kernels must be wasm or typescript, got ${JSON.stringify(flags.kernels)}`, 'kernels');
      }

      const path = await resolveModelSpec(spec, { progress: !flags.json });
      const t0 = performance.now();
      const model = loadModel(path, { threads, kernels: flags.kernels as 'wasm' | 'typescript' | undefined });
      const loadMs = performance.now() - t0;
      try {
        const stream = !flags.json;
        const prompt = flags.prompt;
        const run = generate(model, prompt, input, {
          loadMs,
          onStart: stream ? () => process.stdout.write(prompt) : undefined,
          onText: stream ? (t) => process.stdout.write(t) : undefined,
        });
        if (flags.json) process.stdout.write(JSON.stringify(run, null, 2) + '\n');
        else {
          process.stdout.write('\n');
          printReport(run, process.stderr);
        }
        if (run.samples.some((s) => s.finish_reason === 'error')) process.exitCode = 1;
      } finally {
        model.close();
      }
    });
}

/** Both cores (or more) where it pays: small matrices stay on one thread anyway (see MatmulPool.worthIt). */
function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
