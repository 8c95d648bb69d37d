import type { BackendInfo } from '../backends/capabilities.js';
import type { ChatMessage } from './chat.js';
import type { Model } from '../model/load.js';
import type { StepLogprobs } from '../sampling/logprobs.js';
import type { StepTrace } from '../sampling/trace.js';
import type { Settings, SettingSource } from './settings.js';

export type FinishReason = 'eos' | 'max_tokens' | 'stop_sequence' | 'context_full' | 'error';
export const FINISH_REASONS: FinishReason[] = ['eos', 'max_tokens', 'stop_sequence', 'context_full', 'error'];

export interface Sample {
  index: number;
  /** The visible text: generated tokens decoded, cut before a stop string; an EOS token adds no text. */
  text: string;
  /** Every token the model generated, the final EOS (or stop-completing token) included. */
  token_ids: number[];
  finish_reason: FinishReason;
  /** The stop string that ended the sample (finish_reason "stop_sequence"). */
  stop_sequence?: string;
  error?: string;
  /** From a server: settings it was sent and, as its answer proves, did not apply (src/backends/ignored.ts). */
  ignored?: { setting: string; evidence: string }[];
  logprobs?: StepLogprobs[];
  /** With --trace: what the sampling chain did at every step. */
  trace?: StepTrace[];
  /** With token stats: each token's natural-log probability under the model (temperature 1, no filtering). */
  token_logprobs?: number[];
  /** With token stats: the entropy (bits) of the model's distribution each token was drawn at. */
  token_entropy_bits?: number[];
  /** With token stats: the entropy (bits) of the distribution the sampling chain drew each token from (0 when greedy). */
  token_sampled_entropy_bits?: number[];
  /** With token stats: wall time from the sample's first step to its end (batched samples overlap). */
  elapsed_ms?: number;
  /**
   * Beam search: the sequence's score, its sum of log-probabilities divided by (generated tokens)^length_penalty,
   * which ranks the returned sequences (index 0 is the best).
   */
  score?: number;
  /**
   * Beam search: the sum of the sequence's token scores, its log-probabilities after the logit
   * processors (with beam sampling also the warpers, e.g. divided by the temperature; with diverse beam
   * search less the diversity penalty), as Hugging Face sums them.
   */
  sum_logprobs?: number;
  /** Diverse beam search: the beam group (0 … num_beam_groups − 1) the sequence grew in. */
  group?: number;
}

/** One kept beam or finished hypothesis at a beam-search step. */
export interface BeamTraceEntry {
  /** The beam it extends: its index (rank) among the previous step's beams; 0 at step 0 (the prompt). */
  parent: number;
  token_id: number;
  token: string;
  /** The token's score: its log-probability after the logit processors (and warpers, and diversity penalty; see Sample.sum_logprobs). */
  logprob: number;
  /** Cumulative score of the whole continuation, this token included. */
  sum_logprobs: number;
  /** Diverse beam search: the beam group it belongs to (absent without groups). */
  group?: number;
}

/** What beam search did at one step (with --trace). */
export interface BeamTraceStep {
  /** Generated position: 0 for the first new token. */
  step: number;
  /**
   * The beams kept to continue, best first (diverse beam search: group by group, best first within
   * each): beam i of this step is `beams[i]`.
   */
  beams: BeamTraceEntry[];
  /** Hypotheses that ended at this step and entered the finished set, with their length-penalised score. */
  finished: (BeamTraceEntry & { score: number; finish_reason: FinishReason })[];
}

/** One candidate of a contrastive-search step. */
export interface ContrastiveCandidate {
  token_id: number;
  token: string;
  /** Probability after the logit processors (the model's confidence). */
  prob: number;
  /** Largest cosine similarity of the candidate's last hidden state to those of every earlier position. */
  max_similarity: number;
  /** (1 − α)·prob − α·max_similarity; the largest is chosen. */
  score: number;
}

/** What contrastive search did at one step (with --trace): its top_k candidates, most probable first. */
export interface ContrastiveTraceStep {
  step: number;
  candidates: ContrastiveCandidate[];
  chosen: number;
}

/** What a result says about the model that produced it (the file chosen, its shape, how it ran). */
export interface ModelInfo {
  path: string;
  architecture: string;
  family: string;
  format: string;
  parameters: number;
  context_length: number;
  vocab_size: number;
  tokenizer: string;
  kernels: string;
  threads: number;
  /** How the KV cache stored keys and values (Wander's engine and llama.cpp; absent for servers). */
  kv_cache?: 'f32' | 'f16';
  generation_config?: Record<string, unknown>;
}

export function modelInfo(model: Model): ModelInfo {
  const c = model.config;
  return {
    path: model.path, architecture: c.architecture, family: c.family, format: model.format, parameters: model.parameters,
    context_length: c.contextLength, vocab_size: c.vocabSize, tokenizer: model.tokenizer.kind, kernels: model.kernels, threads: model.threads,
    kv_cache: model.kvType,
    ...(model.source.generationConfig ? { generation_config: model.source.generationConfig } : {}),
  };
}

/**
 * The one report of a run, behind the CLI's text report, --json, and (later) the HTTP API and the
 * experiment store. Fields are only ever added, never renamed.
 */
export interface Run {
  model: ModelInfo;
  settings: Settings & {
    sources: Record<keyof Settings, SettingSource>;
    /** The stages that ran, in order (neutral ones are left out). */
    stages: string[];
    /** logit_bias resolved to token ids. */
    resolved_bias?: { token_id: number; token: string; bias: number | '-inf' }[];
  };
  /**
   * The prompt; `messages` when it was a conversation: on Wander's engine and llama.cpp `text` is the
   * chat template's rendering, on a server's chat endpoint (which applies its own) the messages' contents.
   */
  prompt: { text: string; token_ids: number[]; messages?: ChatMessage[] };
  samples: Sample[];
  /** Over all samples: how many distinct texts, and how many samples ended each way. */
  summary: { samples: number; distinct_texts: number; finish_reasons: Record<FinishReason, number> };
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  timings: { load_ms: number; prompt_ms: number; generate_ms: number; tokens_per_second: number };
  /** With interventions and compareClean: the same samples (same seed) generated without them. */
  clean?: Run;
  /** When another engine than Wander's own ran the model (an OpenAI-compatible server): which, and what it can do. */
  backend?: BackendInfo;
  /** From a server: each setting its answers prove it ignored, in how many samples, with the first evidence. */
  ignored?: { setting: string; samples: number; evidence: string }[];
  /** Beam search with --trace: per step, the beams kept (parent, token, cumulative log-prob) and the hypotheses finished. */
  beam_trace?: BeamTraceStep[];
  /** Contrastive search with --trace: per step, each candidate's probability, similarity and score. */
  contrastive_trace?: ContrastiveTraceStep[];
}
