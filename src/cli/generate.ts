import type { Command } from 'commander';
import { requireSearchBackend } from '../backends/capabilities.js';
import { UserError } from '../errors.js';
import { generate } from '../generate/generate.js';
import type { ChatPrompt } from '../generate/chat.js';
import type { Run, Sample } from '../generate/report.js';
import type { SettingsInput } from '../generate/settings.js';
import { addChatFlags, addModelFlags, chatFlags, defaultThreads, memoryOptions, openModel, refuseMemoryFlags, requirePrompt, type ChatFlags, type ModelFlags } from './model-flags.js';
import { hasInterventions } from '../interp/intervene.js';
import { printComparison, printReport, printSample } from './print-report.js';
import { addSamplerFlags, numeric, samplerSettings, type SamplerFlags } from './sampler-flags.js';

interface GenerateFlags extends ModelFlags, SamplerFlags, ChatFlags {
  maxTokens?: string; stop: string[]; topLogprobs?: string; n?: string; maxBatchSize?: string; trace?: string | boolean;
  numBeams?: string; lengthPenalty?: string; earlyStopping?: string; numReturnSequences?: string; penaltyAlpha?: string;
  doSample?: boolean; numBeamGroups?: string; diversityPenalty?: string;
  apiKeyEnv?: string; concurrency?: string;
}

export function generateCommand(program: Command): void {
  const cmd = program.command('generate').description('generate continuations of a prompt and report what happened');
  addModelFlags(cmd);
  addChatFlags(cmd);
  addSamplerFlags(cmd);
  cmd
    .option('--max-tokens <N>', 'stop after N generated tokens (default 128)')
    .option('--stop <STR>', 'stop when the text contains STR (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--top-logprobs <N>', 'report each token\'s logprob and the N most likely alternatives (0–100)')
    .option('--n <N>', 'number of samples (default 1); sample i depends only on (seed, i)')
    .option('--max-batch-size <B>', 'decode up to B samples together (1–64, default 8)')
    .option('--trace [N]', 'explain every step: the top N candidates (default 10) through each sampler; with beams, the beam tree; with contrastive search, each candidate\'s score')
    .option('--num-beams <B>', 'beam search with B beams (1–64; 1 = off), as Hugging Face generate() does')
    .option('--length-penalty <L>', 'beam search: rank finished sequences by sum of log-probs / length^L (default 1)')
    .option('--early-stopping <WHEN>', 'beam search: true (stop once B sequences finished), false (default: stop when none can improve), or never')
    .option('--num-return-sequences <R>', 'beam search: return the R best sequences (R ≤ B, default 1)')
    .option('--do-sample', 'beam sampling: draw each step\'s candidates from the beams\' distributions after the warpers (--temperature, --top-k, --top-p, …) instead of keeping the best, as Hugging Face\'s do_sample; --seed repeats it')
    .option('--num-beam-groups <G>', 'diverse beam search: split the B beams into G groups (G divides B) that choose in turn at every step')
    .option('--diversity-penalty <D>', 'diverse beam search: lower a token\'s log-prob by D for each beam of an earlier group that chose it at the same step (> 0)')
    .option('--penalty-alpha <A>', 'contrastive search (with --top-k K candidates): score (1 − A)·p − A·max similarity to earlier hidden states; 0 = off')
    .option('--api-key-env <NAME>', 'with --model openai:URL: the environment variable holding the API key (default OPENAI_API_KEY)')
    .option('--concurrency <N>', 'with --model openai:URL: requests in flight at once (default 4)')
    .action(async (flags: GenerateFlags) => {
      const trace = flags.trace === undefined ? undefined : flags.trace === true ? 10 : numeric(String(flags.trace));
      const input = samplerSettings(flags, {
        max_tokens: numeric(flags.maxTokens), stop: flags.stop.length ? flags.stop : undefined, top_logprobs: numeric(flags.topLogprobs),
        n: numeric(flags.n), max_batch_size: numeric(flags.maxBatchSize), trace,
        num_beams: numeric(flags.numBeams), length_penalty: numeric(flags.lengthPenalty), early_stopping: booleanish(flags.earlyStopping),
        num_return_sequences: numeric(flags.numReturnSequences), penalty_alpha: numeric(flags.penaltyAlpha),
        do_sample: flags.doSample, num_beam_groups: numeric(flags.numBeamGroups), diversity_penalty: numeric(flags.diversityPenalty),
      });
      if (flags.model?.startsWith('openai:')) {
        requireSearchBackend(input, 'openai');
        return remote(flags, input);
      }
      if (flags.model?.startsWith('llama.cpp:')) {
        requireSearchBackend(input, 'llama.cpp');
        return inLlamaCpp(flags, input);
      }
      const { model, loadMs } = await openModel(flags);
      try {
        const chat = chatFlags(flags);
        const prompt = chat ? (await import('../generate/chat.js')).chatPrompt(model, chat.messages) : requirePrompt(flags);
        // With interventions the run is shown beside the clean one, so nothing streams.
        const compare = hasInterventions(input);
        const text = !flags.json && !compare;
        const single = isSingle(input);
        const run = withMessages(generate(model, prompt, input, {
          loadMs, compareClean: compare,
          // One sample streams as it is generated; several are printed whole as each one ends.
          onStart: text && single ? () => process.stdout.write(prompt) : undefined,
          onText: text && single ? (t) => process.stdout.write(t) : undefined,
          onSample: text && !single ? (s) => printSample(s, prompt, process.stdout) : undefined,
        }), chat);
        if (flags.json) process.stdout.write(JSON.stringify(run, null, 2) + '\n');
        else {
          if (compare) printComparison(run, process.stdout);
          else if (single) process.stdout.write('\n');
          printReport(run, process.stderr);
        }
        if (run.samples.some((s) => s.finish_reason === 'error')) process.exitCode = 1;
      } finally {
        model.close();
      }
    });
}

/** `--model openai:URL#ID`: the server samples, one request per sample (src/backends/openai.ts). */
async function remote(flags: GenerateFlags, input: SettingsInput): Promise<void> {
  refuseMemoryFlags(flags);
  const prompt = requirePrompt(flags), chat = chatFlags(flags);
  const apiKey = process.env[flags.apiKeyEnv ?? 'OPENAI_API_KEY'];
  if (flags.apiKeyEnv && apiKey === undefined) throw new UserError(`--api-key-env ${flags.apiKeyEnv}: no such environment variable`, 'api-key-env');
  const t0 = performance.now();
  const { OpenAIBackend } = await import('../backends/openai.js');
  const backend = await OpenAIBackend.connect(flags.model!, { apiKey, concurrency: numeric(flags.concurrency) as number | undefined });
  // Samples come back whole, so even a single one is printed when it is done. A chat reply is printed
  // alone: the server applies its own template, which Wander does not see.
  const shown = chat ? '' : prompt;
  const run = await backend.generate(chat ?? prompt, input, { loadMs: performance.now() - t0, onSample: printing(flags, input, shown).onSample });
  show(run, flags, input, shown, false);
}

/** `--model llama.cpp:FILE.gguf`: llama.cpp computes each distribution, Wander's chain picks (src/backends/llama-cpp.ts). */
async function inLlamaCpp(flags: GenerateFlags, input: SettingsInput): Promise<void> {
  requirePrompt(flags);
  const chat = chatFlags(flags);
  const t0 = performance.now();
  const threads = numeric(flags.threads);
  const { LlamaCppModel } = await import('../backends/llama-cpp.js');
  const model = await LlamaCppModel.open(flags.model!, { threads: typeof threads === 'number' ? threads : defaultThreads(), ...memoryOptions(flags) });
  try {
    const prompt = chat ? (await import('../generate/chat.js')).chatPrompt(model, chat.messages) : flags.prompt!;
    const run = withMessages(await model.generate(prompt, input, { loadMs: performance.now() - t0, ...printing(flags, input, prompt) }), chat);
    show(run, flags, input, prompt, true);
  } finally {
    await model.close();
  }
}

/** A run whose prompt was a conversation records its messages beside the rendered text. */
function withMessages(run: Run, chat: ChatPrompt | undefined): Run {
  return chat ? { ...run, prompt: { ...run.prompt, messages: [...chat.messages] } } : run;
}

/** One sequence comes back (it can stream); several samples or returned beams are printed whole. */
function isSingle(input: SettingsInput): boolean {
  return (input.n ?? 1) === 1 && (input.num_return_sequences ?? 1) === 1;
}

/** --early-stopping true|false|never: the words true and false are booleans; anything else goes to the schema as given. */
function booleanish(s: string | undefined): boolean | string | undefined {
  return s === 'true' ? true : s === 'false' ? false : s;
}

/** As the native path prints: one sample streams as it is generated; several are printed whole as each ends. */
function printing(flags: GenerateFlags, input: SettingsInput, prompt: string) {
  const text = !flags.json, single = isSingle(input);
  return {
    onStart: text && single ? () => process.stdout.write(prompt) : undefined,
    onText: text && single ? (t: string) => process.stdout.write(t) : undefined,
    onSample: text && !single ? (s: Sample) => printSample(s, prompt, process.stdout) : undefined,
  };
}

/** The run as JSON, or the end of the text and the report; exit code 1 when a sample failed. */
function show(run: Run, flags: GenerateFlags, input: SettingsInput, prompt: string, streamed: boolean): void {
  if (flags.json) process.stdout.write(JSON.stringify(run, null, 2) + '\n');
  else {
    if ((input.n ?? 1) === 1) process.stdout.write(streamed ? '\n' : prompt + run.samples[0]!.text + '\n');
    printReport(run, process.stderr);
  }
  if (run.samples.some((s) => s.finish_reason === 'error')) process.exitCode = 1;
}
