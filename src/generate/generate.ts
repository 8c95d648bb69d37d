import { UserError } from '../errors.js';
import type { Hooks } from '../model/hooks.js';
import type { Model } from '../model/load.js';
import { SamplingChain } from '../sampling/chain.js';
import { stepLogprobs, type StepLogprobs } from '../sampling/logprobs.js';
import { rngFor } from '../sampling/rng.js';
import type { FinishReason, Run, Sample } from './report.js';
import { resolveSettings, type SettingsInput } from './settings.js';
import { TextStream } from './text-stream.js';

export interface GenerateOptions {
  /** Called once the prompt is accepted, before any model work (e.g. to echo the prompt). */
  onStart?: (promptIds: number[]) => void;
  /** Called with each newly visible piece of text as it is generated. */
  onText?: (delta: string) => void;
  /** Milliseconds spent loading the model, for the report. */
  loadMs?: number;
  /** Hooks run in every forward pass of the generation (interventions such as ablation or noise). */
  hooks?: Hooks;
}

/**
 * Generates one continuation of `prompt` and reports exactly what happened: the settings actually
 * used, the tokens, why it stopped, and how long each part took. Same model + prompt + settings + seed
 * ⇒ same tokens.
 */
export function generate(model: Model, prompt: string, input: SettingsInput, opts: GenerateOptions = {}): Run {
  const { settings, sources } = resolveSettings(input, model.generationDefaults);
  const c = model.config;
  const tok = model.tokenizer;
  const promptIds = tok.encode(prompt);
  if (promptIds.length === 0) throw new UserError('--prompt is empty and this model adds no BOS token, so there is nothing to continue; give a prompt', 'prompt');
  if (promptIds.length > c.contextLength) {
    throw new UserError(`--prompt is ${promptIds.length} tokens, longer than the model's context of ${c.contextLength} tokens`, 'prompt');
  }
  opts.onStart?.(promptIds);
  const chain = new SamplingChain(settings);
  const rng = rngFor(settings.seed, 0);
  const eos = new Set(tok.eosIds);

  const ids: number[] = [];
  const logprobs: StepLogprobs[] = [];
  const stream = new TextStream((x) => tok.decode(x.filter((id) => !eos.has(id))), settings.stop);
  let finish: FinishReason = 'max_tokens';
  let error: string | undefined;
  let promptMs = 0;
  const t0 = performance.now();
  let t1 = t0;

  model.withScratch(() => {
    const cache = model.newCache(promptIds.length + settings.max_tokens);
    try {
      const forwardOpts = { hooks: opts.hooks };
      let logits = model.forward(promptIds, cache, forwardOpts);
      t1 = performance.now();
      promptMs = t1 - t0;
      for (;;) {
        const next = chain.sample(logits, rng);
        if (settings.top_logprobs > 0) logprobs.push(stepLogprobs(logits, next, settings.top_logprobs, (id) => tok.tokenText(id)));
        ids.push(next);
        if (eos.has(next)) { finish = 'eos'; break; }
        const delta = stream.push(next);
        if (delta) opts.onText?.(delta);
        if (stream.stopped !== undefined) { finish = 'stop_sequence'; break; }
        if (ids.length >= settings.max_tokens) { finish = 'max_tokens'; break; }
        if (cache.length >= c.contextLength) { finish = 'context_full'; break; }
        logits = model.forward([next], cache, forwardOpts);
      }
    } catch (e) {
      if (e instanceof UserError) throw e;
      finish = 'error';
      error = (e as Error).message;
    }
  });
  const tail = stream.flush();
  if (tail) opts.onText?.(tail);
  const t2 = performance.now();
  if (promptMs === 0) promptMs = t2 - t0;

  const sample: Sample = { index: 0, text: stream.text, token_ids: ids, finish_reason: finish };
  if (stream.stopped !== undefined) sample.stop_sequence = stream.stopped;
  if (error !== undefined) sample.error = error;
  if (settings.top_logprobs > 0) sample.logprobs = logprobs;
  const generateMs = t2 - t1;
  return {
    model: {
      path: model.path, architecture: c.architecture, family: c.family, format: model.format, parameters: model.parameters,
      context_length: c.contextLength, vocab_size: c.vocabSize, tokenizer: tok.kind, kernels: model.kernels, threads: model.threads,
      ...(model.source.generationConfig ? { generation_config: model.source.generationConfig } : {}),
    },
    settings: { ...settings, sources },
    prompt: { text: prompt, token_ids: promptIds },
    samples: [sample],
    usage: { prompt_tokens: promptIds.length, completion_tokens: ids.length, total_tokens: promptIds.length + ids.length },
    timings: {
      load_ms: round(opts.loadMs ?? 0), prompt_ms: round(promptMs), generate_ms: round(generateMs),
      tokens_per_second: generateMs > 0 ? round((ids.length / generateMs) * 1000) : 0,
    },
  };
}

const round = (x: number) => Math.round(x * 100) / 100;
