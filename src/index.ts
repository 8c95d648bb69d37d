/**
 * Wander's library API: everything the CLI does, from TypeScript. The CLI itself only parses flags,
 * calls these, and prints.
 */
export { UserError } from './errors.js';

// Models: open a file or folder, run the forward pass, hook into it.
export { loadModel, openModelSource, Model, type LoadOptions } from './model/load.js';
export type { ModelConfig, Family } from './model/config.js';
export { hookNames, type Hooks, type HookFn, type HookContext } from './model/hooks.js';
export type { KvCache, KvType } from './model/kv-cache.js';
export type { ForwardOptions } from './model/transformer.js';
export { resolveModelSpec } from './resolve/resolve.js';
export { DEFAULT_MODEL, EMBEDDED_MODELS, type EmbeddedModel } from './resolve/embedded.js';

// Tokenizers.
export type { Tokenizer } from './tokenizer/tokenizer.js';

// Generation and the next-token distribution.
export { generate, type GenerateOptions } from './generate/generate.js';
export { nextTokenDistribution, type NextTokenDistribution, type NextCandidate } from './generate/next.js';
export type { Run, Sample, FinishReason, BeamTraceStep, BeamTraceEntry, ContrastiveTraceStep, ContrastiveCandidate } from './generate/report.js';
export { parseSettings, resolveSettings, DEFAULTS, SettingsSchema, type Settings, type SettingsInput } from './generate/settings.js';
export { parseBiasFlag, resolveLogitBias } from './generate/bias.js';

// Sampling: the chain, its presets, and one class per sampler.
export { SamplingChain, PRESETS, STAGES, stageOrder, argmax, type ChainSettings, type StageName } from './sampling/chain.js';
export { Candidates, entropyBits } from './sampling/candidates.js';
export type { Sampler, SamplingContext } from './sampling/sampler.js';
export type { StepTrace, TraceCandidate } from './sampling/trace.js';
export { Rng, rngFor } from './sampling/rng.js';
export { stepLogprobs, type StepLogprobs } from './sampling/logprobs.js';
export { Temperature } from './sampling/temperature.js';
export { TopK } from './sampling/top-k.js';
export { TopP } from './sampling/top-p.js';
export { MinP } from './sampling/min-p.js';
export { TypicalP } from './sampling/typical-p.js';
export { Epsilon } from './sampling/epsilon.js';
export { Eta } from './sampling/eta.js';
export { TopNSigma } from './sampling/top-n-sigma.js';
export { RepetitionPenalty } from './sampling/repetition-penalty.js';
export { FrequencyPresencePenalty } from './sampling/frequency-presence.js';
export { NoRepeatNgram } from './sampling/no-repeat-ngram.js';
export { LogitBias } from './sampling/logit-bias.js';
export { BannedStrings } from './sampling/banned-strings.js';
export { MinNewTokens } from './sampling/min-new-tokens.js';
export { Dry } from './sampling/dry.js';
export { Xtc } from './sampling/xtc.js';
export { Mirostat } from './sampling/mirostat.js';
export { DynaTemp } from './sampling/dynatemp.js';
export { Smoothing } from './sampling/smoothing.js';
export { TopH } from './sampling/top-h.js';

// Chat templates and per-token statistics.
export { chatPrompt } from './generate/chat.js';
export { tokenStats, type TokenStats } from './sampling/token-stats.js';

// Experiments: files, sweeps into a results database, diversity metrics, reports.
export { loadExperiment, parseExperiment, applyOverrides, type ExperimentSpec, type SpecOverrides } from './experiments/spec.js';
export { planCells } from './experiments/plan.js';
export { ResultsStore, type StoredCell, type StoredSample, type StoreOptions } from './experiments/store.js';
export { runSweep, type SweepOptions, type SweepProgress, type SweepResult } from './experiments/sweep.js';
export * from './experiments/metrics/index.js';
export { collectReports, type ExperimentReport, type CellReport } from './experiments/report/collect.js';
export { jsonReport, csvReport, markdownReport, metricRow, type MetricRow } from './experiments/report/tables.js';
export { htmlReport } from './experiments/report/html.js';
export { writeReports } from './experiments/report/write.js';

// Gradients and training (GPT-2 family): the differentiable model, attribution, the trainer.
export { Gpt2Graph, ParameterSet, parameterLayout, type Gpt2Shape } from './train/gpt2.js';
export { gpt2Parameters } from './train/from-model.js';
export { attribute, type Attribution, type TokenAttribution } from './interp/attribute.js';
export { trainBpe, bpeFromTokenizerJson, type TrainedBpe } from './train/bpe.js';
export { train, TRAIN_DEFAULTS, type TrainOptions, type TrainProgress, type TrainResult } from './train/trainer.js';
export { SIZES } from './train/presets.js';

// Attention: every head's pattern on a prompt, and what each head mostly does.
export { attentionPatterns, type AttentionPatterns, type AttentionOptions, type HeadPattern } from './interp/attention.js';
export { summarizeHead, headScores, HEAD_THRESHOLDS, type HeadKind, type HeadSummary, type HeadScores } from './interp/head-summary.js';

// Inside the model: activation caches, the logit lens, per-token scores; hook names by glob.
export { captureActivations, saveActivations, cacheToJson, type ActivationCache, type Activation, type CaptureOptions } from './interp/cache.js';
export { logitLens, type LensResult, type LensCell, type LensToken, type LensOptions } from './interp/lens.js';
export { scoreTokens, bucketOf, BUCKETS, type TokenScores, type ScoredToken, type Bucket } from './interp/score.js';
export { selectHooks, modelHookNames, hookPattern } from './interp/hook-select.js';

// Causal scans: activation patching (one generic core, a specialisation per hook), head ablation scans,
// direct logit attribution; the batched runner behind the first two (variants of one input via forwardMany).
export {
  activationPatching, genericPatch, patchKind, patchResidPre, patchAttnOut, patchMlpOut, patchHeadZ, setPosition, setHead,
  layerPositionIndices, layerHeadPositionIndices, logitDiff, PATCH_HOOKS, PATCH_KINDS,
  type PatchResult, type PatchCell, type PatchOptions, type PatchHook, type PatchIndex, type PatchSetter, type PatchMetric, type GenericPatch, type GenericPatchResult,
} from './interp/patch.js';
export { headAblationScan, headAblationLogits, type HeadScan, type HeadAblation, type HeadScanOptions, type HeadAblationLogits, type AblationMode } from './interp/heads.js';
export { directLogitAttribution, DLA_CONVENTION, type DlaResult, type DlaComponent } from './interp/dla.js';
export { runVariants, type Variant, type VariantHooks, type VariantOptions, type VariantRuns } from './interp/variants.js';
