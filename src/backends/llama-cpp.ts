import type { Llama, LlamaModel } from 'node-llama-cpp';
import { basename } from 'node:path';
import { UserError } from '../errors.js';
import { chatPrompt, type ChatPrompt } from '../generate/chat.js';
import { Generation, type GenerateOptions, type GenerationModel } from '../generate/generate.js';
import type { ModelInfo, Run } from '../generate/report.js';
import { nextFromLogits, nextIds, type NextOptions, type NextTokenDistribution } from '../generate/next.js';
import { resolveSettings, type SettingsInput } from '../generate/settings.js';
import { hasInterventions } from '../interp/intervention-specs.js';
import type { KvType } from '../model/kv-cache.js';
import { resolveModelSpec } from '../resolve/resolve.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { requireCapability, type BackendInfo } from './capabilities.js';

/**
 * llama.cpp in-process (node-llama-cpp): `--model llama.cpp:PATH.gguf` (or `llama.cpp:` before any
 * spec that resolves to a GGUF file). llama.cpp runs the model — every architecture it supports, at
 * its speed — and computes the next-token distribution; Wander's own sampling chain picks each token
 * from it, through the same `Generation` as the native engine, so every sampler, `--trace`, top
 * logprobs and the (seed, i) streams work as they do there.
 *
 * llama.cpp gives probabilities, not logits: the chain runs on log p, which is the logits less a
 * constant, so everything the chain does is the same except what depends on a logit's raw value —
 * the repetition penalty's sign rule (divide a positive logit, multiply a negative one) sees only
 * negative values here. llama.cpp is not batch-invariant: samples decoded together may differ from
 * alone in the last bits, which the backend declares.
 */

let llamaPromise: Promise<Llama> | undefined;

async function llama(): Promise<Llama> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  llamaPromise ??= getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, logLevel: LlamaLogLevel.error });
  try {
    return await llamaPromise;
  } catch (e) {
    llamaPromise = undefined;
    throw new UserError(`llama.cpp: node-llama-cpp's native binary did not load (${(e as Error).message.split('\n')[0]}); npm ci installs it`, 'model');
  }
}

export class LlamaCppModel implements GenerationModel {
  readonly tokenizer: Tokenizer;
  readonly config: { contextLength: number; vocabSize: number };
  readonly generationDefaults = {};
  readonly info: BackendInfo;
  /** The file's chat template (tokenizer.chat_template), which Wander applies as it does for its own engine. */
  readonly chatTemplate: string | undefined;

  private constructor(readonly path: string, private readonly model: LlamaModel, private readonly threads: number, release: string,
    /** The KV cache's type, passed to llama.cpp (F32 unless --kv f16). */
    readonly kvType: KvType, context: number) {
    const vocab = (model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens?.length ?? 0;
    this.config = { contextLength: context, vocabSize: vocab };
    this.tokenizer = llamaTokenizer(model, vocab);
    const template = (model.fileInfo.metadata as unknown as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
    this.chatTemplate = typeof template === 'string' ? template : undefined;
    this.info = {
      kind: 'llama.cpp', name: path, version: release,
      capabilities: { full_logits: true, top_logprobs: vocab, own_sampling_chain: true, internals: false, token_ids: true, batch_invariant: false },
    };
  }

  /** Loads a GGUF file (`spec` after `llama.cpp:`, any spec that resolves to one). */
  static async open(spec: string, opts: { threads?: number; kv?: KvType; context?: number } = {}): Promise<LlamaCppModel> {
    const path = await resolveModelSpec(spec.slice('llama.cpp:'.length), { progress: false });
    if (!path.endsWith('.gguf')) throw new UserError(`--model ${spec}: llama.cpp runs GGUF files; ${path} is not one`, 'model');
    const l = await llama();
    let model: LlamaModel;
    try {
      model = await l.loadModel({ modelPath: path });
    } catch (e) {
      throw new UserError(`--model ${spec}: llama.cpp could not load it: ${(e as Error).message.split('\n')[0]}`, 'model');
    }
    const trained = model.trainContextSize;
    if (opts.context !== undefined && (!Number.isInteger(opts.context) || opts.context < 1 || opts.context > trained)) {
      await model.dispose();
      throw new UserError(`--context must be an integer from 1 to ${trained} (${basename(path)}'s context length), got ${JSON.stringify(opts.context)}`, 'context');
    }
    return new LlamaCppModel(path, model, opts.threads ?? 1, `llama.cpp ${l.llamaCppRelease.release} (${l.buildType})`, opts.kv ?? 'f32', opts.context ?? trained);
  }

  /** node-llama-cpp's names for the KV cache's type (llama.cpp defaults to F16; Wander's engine to F32). */
  private kvTypes(): object {
    const t = this.kvType === 'f16' ? 'F16' : 'F32';
    return { experimentalKvCacheKeyType: t, experimentalKvCacheValueType: t };
  }

  describe(): ModelInfo {
    const meta = this.model.fileInfo.metadata as unknown as { general?: { architecture?: string } };
    return {
      path: this.path, architecture: meta.general?.architecture ?? 'unknown', family: 'llama.cpp', format: 'gguf', parameters: this.model.fileInsights.totalParameters,
      context_length: this.config.contextLength, vocab_size: this.config.vocabSize, tokenizer: this.tokenizer.kind, kernels: 'llama.cpp', threads: this.threads, kv_cache: this.kvType,
    };
  }

  /**
   * Generates as `generate()` does on the native engine: one llama.cpp sequence per running sample
   * (up to max_batch_size at once, evaluated together), each step's full distribution handed to the
   * sample's own chain and stream (seed, i). Messages go through the file's chat template, as on
   * Wander's engine.
   */
  async generate(prompt: string | readonly number[] | ChatPrompt, input: SettingsInput, opts: GenerateOptions & { signal?: AbortSignal } = {}): Promise<Run> {
    if (hasInterventions(input)) requireCapability('generate', this.info, 'internals', 'interventions');
    const text = typeof prompt === 'object' && 'messages' in prompt ? chatPrompt(this, prompt.messages) : prompt;
    const job = new Generation(this, text, input, opts);
    const ids = job.promptIds;
    const batch = Math.min(job.maxLive, job.pending.length) || 1;
    const ctx = await this.model.createContext({
      contextSize: Math.min(this.config.contextLength, ids.length + job.settings.max_tokens + 1), sequences: batch, threads: this.threads,
      flashAttention: false, ...this.kvTypes(),
    } as never);
    job.begin();
    try {
      const run = async () => {
        for (let index = job.pending.shift(); index !== undefined && !opts.signal?.aborted; index = job.pending.shift()) {
          const seq = ctx.getSequence();
          const gen = seq.evaluateWithMetadata(ids as never, { probabilities: true }, { temperature: 0, yieldEogToken: true } as never);
          try {
            let step = await gen.next();
            let logits = this.logits(step.value);
            if (job.state === 'prompt') job.promptDone(logits);
            const state = job.startSample(index);
            for (;;) {
              // A cancelled run (its client left) stops at the next step of every sample.
              if (opts.signal?.aborted) break;
              const next = job.choose(state, logits, seq.nextTokenIndex);
              if (next === undefined) break;
              step = await gen.next(next as never);
              logits = this.logits(step.value);
            }
          } finally {
            await gen.return(undefined as never);
            seq.dispose();
          }
        }
      };
      await Promise.all(Array.from({ length: batch }, run));
    } finally {
      await ctx.dispose();
    }
    opts.signal?.throwIfAborted();
    if (job.error !== undefined) throw job.error;
    return { ...job.report(), backend: this.info };
  }

  /**
   * `wander next` on llama.cpp: the distribution after the prompt, through Wander's chain exactly as
   * on its own engine (every stage, removals, --draw with the seed).
   */
  async next(prompt: string | readonly number[], input: SettingsInput, opts: NextOptions = {}): Promise<NextTokenDistribution> {
    if (hasInterventions(input)) requireCapability('next', this.info, 'internals', 'interventions');
    const ids = nextIds(this, prompt, opts);
    const resolved = resolveSettings(input, this.generationDefaults);
    const ctx = await this.model.createContext({
      contextSize: Math.min(this.config.contextLength, ids.length + 1), threads: this.threads,
      flashAttention: false, ...this.kvTypes(),
    } as never);
    try {
      const gen = ctx.getSequence().evaluateWithMetadata(ids as never, { probabilities: true }, { temperature: 0, yieldEogToken: true } as never);
      const logits = this.logits((await gen.next()).value);
      await gen.return(undefined as never);
      return { ...nextFromLogits(this, prompt, ids, logits, resolved, opts), backend: this.info };
    } finally {
      await ctx.dispose();
    }
  }

  /** The step's probabilities as logits up to a constant: log p for every token (−∞ where p = 0). */
  private logits(value: unknown): Float32Array {
    const probs = (value as { probabilities?: Map<number, number> } | undefined)?.probabilities;
    if (!probs) throw new Error('llama.cpp returned no distribution for this step');
    const out = new Float32Array(this.config.vocabSize).fill(-Infinity);
    for (const [id, p] of probs) if (id < out.length) out[id] = Math.log(p);
    return out;
  }

  async close(): Promise<void> {
    await this.model.dispose();
  }
}

/** Wander's Tokenizer over llama.cpp's own: BOS as the model asks, special tokens in text parsed as llama.cpp does. */
function llamaTokenizer(model: LlamaModel, vocabSize: number): Tokenizer {
  const t = model.tokens;
  const bos = t.bos ?? undefined;
  const eos = [...new Set([t.eos, t.eot].filter((x): x is NonNullable<typeof x> => x !== null && x !== undefined).map(Number))];
  const addBos = t.shouldPrependBosToken && bos !== undefined;
  // A token is shown as it reads after a word, so SentencePiece keeps a word's leading space.
  const after = model.tokenize('a', false).slice(-1);
  return {
    kind: `llama.cpp ${model.vocabularyType ?? ''}`.trim(),
    vocabSize, bosId: bos === undefined ? undefined : Number(bos), eosIds: eos, addBos,
    encode: (text) => [...(addBos ? [Number(bos)] : []), ...model.tokenize(text, false).map(Number)],
    decode: (ids) => model.detokenize(ids.filter((id) => !eos.includes(id) && id !== Number(bos)) as never, false),
    tokenText: (id) => model.detokenize([id] as never, false, after),
  };
}
