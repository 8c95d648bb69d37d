import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import type { ChatMessage, ChatPrompt } from '../generate/chat.js';
import { DEFAULT_MODEL } from '../resolve/embedded.js';
import { loadModel, type Model } from '../model/load.js';
import type { KvType } from '../model/kv-cache.js';
import { numeric } from './sampler-flags.js';

export const THREADS_HELP = 'threads for matrix products (default: this machine\'s cores, at most 8; results are identical for any count)';

export const KV_HELP = 'how KV caches store keys and values: f32 (default, exact) or f16 (half the memory, as llama.cpp does by default; each key and value rounded to f16)';

export const CONTEXT_HELP = 'cap the context, and so every KV cache, at N positions (at most the model\'s own context length)';

export const MODEL_HELP = 'a .gguf file, a model folder, ladder:small|medium|large, hf:<owner>/<repo>[/<file>], or ollama:<name>[:<tag>] (wander models lists them)';


/** Both cores (or more) where it pays: small matrices stay on one thread anyway (see MatmulPool.worthIt). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** The flags every model-running command shares; `prompt: false` for commands that take their text otherwise. */
export function addModelFlags(cmd: Command, opts: { prompt?: boolean } = {}): Command {
  cmd.option('-m, --model <spec>', `model: ${MODEL_HELP} (default: ladder:medium, embedded)`);
  if (opts.prompt !== false) cmd.option('-p, --prompt <text>', 'the text to continue');
  return cmd
    .option('--threads <N>', THREADS_HELP)
    .option('--kernels <impl>', 'wasm (default) or typescript')
    .option('--kv <type>', KV_HELP)
    .option('--context <N>', CONTEXT_HELP)
    .option('--json', 'print one JSON object instead of text')
    .option('--verbose', 'show stack traces for errors');
}

export interface MemoryFlags { kv?: string; context?: string }

export interface ModelFlags extends MemoryFlags { model?: string; prompt?: string; threads?: string; kernels?: string; json?: boolean }

/**
 * `--kv` and `--context`, checked: the KV cache's type and the context cap (its upper bound, the model's
 * own context length, is checked when the model loads).
 */
export function memoryOptions(f: MemoryFlags): { kv?: KvType; context?: number } {
  if (f.kv !== undefined && f.kv !== 'f32' && f.kv !== 'f16') throw new UserError(`--kv must be f32 or f16, got ${JSON.stringify(f.kv)}`, 'kv');
  const context = numeric(f.context);
  if (f.context !== undefined && (typeof context !== 'number' || !Number.isInteger(context) || context < 1)) {
    throw new UserError(`--context must be an integer from 1 to the model's context length, got ${JSON.stringify(f.context)}`, 'context');
  }
  return { kv: f.kv as KvType | undefined, context: context as number | undefined };
}

/** An openai: server sizes its own KV cache: --kv and --context would silently do nothing, so they are refused. */
export function refuseMemoryFlags(f: ModelFlags): void {
  const given = [f.kv !== undefined && '--kv', f.context !== undefined && '--context'].filter(Boolean);
  if (given.length) throw new UserError(`${given.join(' and ')}: ${f.model} is a server that manages its own KV cache; these flags size Wander's engine's or llama.cpp's (configure the server instead)`, given[0] === '--kv' ? 'kv' : 'context');
}

/** Checks the model flags, resolves the spec (downloading if needed) and loads the model. */
export async function openModel(f: ModelFlags, opts: { prompt?: boolean } = {}): Promise<{ model: Model; prompt: string; loadMs: number }> {
  if (!f.model && !existsSync(DEFAULT_MODEL)) throw new UserError(`--model is required (the embedded default model is missing from this copy): pass ${MODEL_HELP}`, 'model');
  if (opts.prompt !== false) requirePrompt(f);
  const threads = numeric(f.threads) ?? defaultThreads();
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new UserError(`--threads must be an integer from 1 to 64, got ${JSON.stringify(f.threads)}`, 'threads');
  }
  memoryOptions(f);
  if (f.kernels !== undefined && f.kernels !== 'wasm' && f.kernels !== 'typescript') {
    throw new UserError(`--kernels must be wasm or typescript, got ${JSON.stringify(f.kernels)}`, 'kernels');
  }
  if (f.model?.startsWith('llama.cpp:')) {
    throw new UserError(`--model ${f.model}: llama.cpp runs the model in its own engine, without Wander's hook points, so only generate and next run on it so far; this command needs Wander's own engine`, 'model');
  }
  if (f.model?.startsWith('openai:')) {
    throw new UserError(`--model ${f.model}: an OpenAI-compatible server samples for itself and returns a few logprobs per token, so only generate, next (its top logprobs) and sweep run on it; this command needs the full next-token distribution`, 'model');
  }
  // Resolving a spec (downloads, the HF cache, Ollama's store) is imported only when there is one to resolve.
  const path = f.model ? await (await import('../resolve/resolve.js')).resolveModelSpec(f.model, { progress: !f.json }) : DEFAULT_MODEL;
  const t0 = performance.now();
  const model = loadModel(path, { threads, kernels: f.kernels as 'wasm' | 'typescript' | undefined, ...memoryOptions(f) });
  return { model, prompt: f.prompt ?? '', loadMs: performance.now() - t0 };
}

/** `--chat` and `--system`: the prompt as a user message through the model's chat template. */
export function addChatFlags(cmd: Command): Command {
  return cmd
    .option('--chat', 'send the prompt as a user message through the model\'s own chat template (a server\'s chat endpoint for openai:)')
    .option('--system <text>', 'with --chat: a system message before the prompt');
}

export interface ChatFlags { chat?: boolean; system?: string }

/** The conversation `--chat` asks for (a system message first when given), or undefined without --chat. */
export function chatFlags(f: ModelFlags & ChatFlags): ChatPrompt | undefined {
  if (f.system !== undefined && !f.chat) throw new UserError('--system needs --chat: a system message only goes through a chat template', 'system');
  if (!f.chat) return undefined;
  const messages: ChatMessage[] = [...(f.system !== undefined ? [{ role: 'system', content: f.system }] : []), { role: 'user', content: requirePrompt(f) }];
  return { messages };
}

/** The prompt flag, which every generating command needs. */
export function requirePrompt(f: ModelFlags): string {
  if (f.prompt === undefined) throw new UserError('--prompt is required: the text for the model to continue', 'prompt');
  return f.prompt;
}
