import type { Command } from 'commander';
import { parseBiasFlag } from '../generate/bias.js';
import { cliNaming, parseSettings, type SettingsInput } from '../generate/settings.js';

/** CLI strings → numbers where they look like numbers; anything else is passed on for the schema to reject by name. */
export function numeric(s: string | undefined): number | string | undefined {
  if (s === undefined) return undefined;
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s.trim()) ? Number(s) : s;
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** The decoding flags shared by `generate` and `next` (with the intervention flags). */
export function addSamplerFlags(cmd: Command): Command {
  cmd
    .option('--temperature <T>', 'T ≥ 0; 0 = greedy (default 1, or the model\'s generation_config)')
    .option('--top-k <K>', 'keep the K most likely tokens; 0 = off (default)')
    .option('--top-p <P>', 'keep the smallest set with probability ≥ P, in (0, 1]; 1 = off (default)')
    .option('--min-p <P>', 'keep tokens with p ≥ P × the top token\'s p, in [0, 1]; 0 = off (default)')
    .option('--typical-p <P>', 'locally typical sampling mass, in (0, 1]; 1 = off (default)')
    .option('--epsilon <E>', 'drop tokens with p < E, in [0, 1); 0 = off (default)')
    .option('--eta <E>', 'η-sampling: drop p < min(E, √E·e^−H), in [0, 1); 0 = off (default)')
    .option('--top-n-sigma <N>', 'keep logits within N standard deviations of the max; 0 = off (default)')
    .option('--repetition-penalty <R>', 'divide repeated tokens\' positive logits by R (Hugging Face); 1 = off (default)')
    .option('--frequency-penalty <F>', 'logit −= F × count in the generated text, in [-2, 2] (OpenAI)')
    .option('--presence-penalty <P>', 'logit −= P if the token was generated, in [-2, 2] (OpenAI)')
    .option('--penalty-window <N>', 'penalties look at the last N tokens only; 0 = all (default)')
    .option('--no-repeat-ngram <N>', 'never repeat an N-gram; 0 = off (default)')
    .option('--bias <TOKEN=VALUE>', 'add VALUE to the logits of every token spelling TOKEN (or #id); -inf bans (repeatable)', collect, [] as string[])
    .option('--ban <STR>', 'never generate text containing STR (repeatable)', collect, [] as string[])
    .option('--min-new-tokens <N>', 'suppress end-of-sequence until N tokens are generated')
    .option('--min-keep <N>', 'truncation samplers keep at least N tokens (default 1)')
    .option('--dry-multiplier <M>', 'DRY: penalize the token that would extend a repeat by M·base^(length − allowed); 0 = off (default)')
    .option('--dry-base <B>', 'DRY: growth of the penalty per repeated token, ≥ 1 (default 1.75)')
    .option('--dry-allowed-length <N>', 'DRY: repeats up to N tokens go unpenalized (default 2)')
    .option('--dry-penalty-last-n <N>', 'DRY: search the last N tokens; -1 = the whole context (default), 0 = off')
    .option('--dry-sequence-breaker <STR>', 'DRY: a repeat never reaches back across STR; repeatable, and any replace the default list (\\n : " *)', collect, [] as string[])
    .option('--xtc-probability <P>', 'XTC: with probability P remove every token with p ≥ threshold but the least likely; 0 = off (default)')
    .option('--xtc-threshold <T>', 'XTC: the threshold, in [0, 1]; above 0.5 = off (default 0.1)')
    .option('--mirostat <V>', 'mirostat version 1 or 2: steer the surprise of chosen tokens toward tau; 0 = off (default)')
    .option('--mirostat-tau <TAU>', 'mirostat: target surprise in bits (default 5)')
    .option('--mirostat-eta <ETA>', 'mirostat: learning rate, in [0, 1] (default 0.1)')
    .option('--dynatemp-range <R>', 'dynamic temperature from T − R to T + R by the entropy; 0 = off (default)')
    .option('--dynatemp-exponent <E>', 'dynamic temperature: exponent of the normalized entropy (default 1)')
    .option('--smoothing-factor <F>', 'quadratic sampling: logit → max − F·(logit − max)²; 0 = off (default)')
    .option('--smoothing-curve <C>', 'quadratic sampling: ≥ 1, above 1 adds a cubic term (default 1)')
    .option('--top-h <H>', 'Top-H: keep top tokens while their entropy stays ≤ H × the entropy of the top 100, in [0, 1]; 0 = off (default)')
    .option('--chain <ORDER>', 'stage order: hf (default), llama.cpp, or a comma-separated list of stages')
    .option('--seed <S>', 'integer seed; same seed ⇒ same output (default: random, reported)');
  return addInterventionFlags(cmd);
}

/** The intervention flags (see src/interp/intervene.ts), shared by every command that runs the model forward. */
export function addInterventionFlags(cmd: Command): Command {
  return cmd
    .option('--ablate <L.H[:MODE]>', 'replace head H of layer L (L.* = every head) by zero or by its mean over the prompt (MODE zero, the default, or mean); repeatable', collect, [] as string[])
    .option('--noise <SPEC>', 'add Gaussian noise: hook=NAME,sigma=S[,positions=A-B] (NAME may be a glob); repeatable', collect, [] as string[])
    .option('--patch-from <FILE[:HOOK[,A-B]]>', 'set hook values from a saved cache (wander cache --save): every hook in FILE, or HOOK alone, at positions A-B; repeatable', collect, [] as string[]);
}

export interface InterventionFlags { ablate: string[]; noise: string[]; patchFrom: string[]; seed?: string }

/** For commands without sampler flags: the intervention flags and a seed for the noise. */
export function addInterventionAndSeedFlags(cmd: Command): Command {
  return addInterventionFlags(cmd).option('--seed <S>', 'seed of the noise streams (default 0); same seed ⇒ same noise');
}

/** The intervention flags (and the noise seed) as settings fields, validated by the one schema. */
export function interventionSettings(f: InterventionFlags): { interventions: SettingsInput; seed: number } {
  const raw = {
    ablate: f.ablate.length ? f.ablate : undefined, noise: f.noise.length ? f.noise : undefined, patch_from: f.patchFrom.length ? f.patchFrom : undefined,
    seed: numeric(f.seed),
  };
  const s = parseSettings(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)), cliNaming);
  return { interventions: s, seed: s.seed ?? 0 };
}

export interface SamplerFlags extends InterventionFlags {
  temperature?: string; topK?: string; topP?: string; minP?: string; typicalP?: string; epsilon?: string; eta?: string;
  topNSigma?: string; repetitionPenalty?: string; frequencyPenalty?: string; presencePenalty?: string; penaltyWindow?: string;
  repeatNgram?: string | boolean; bias: string[]; ban: string[]; minNewTokens?: string; minKeep?: string; chain?: string; seed?: string;
  dryMultiplier?: string; dryBase?: string; dryAllowedLength?: string; dryPenaltyLastN?: string; drySequenceBreaker?: string[];
  xtcProbability?: string; xtcThreshold?: string; mirostat?: string; mirostatTau?: string; mirostatEta?: string;
  dynatempRange?: string; dynatempExponent?: string; smoothingFactor?: string; smoothingCurve?: string; topH?: string;
}

/** The sampler flags as settings (validated by the one schema), plus any extra fields the command adds. */
export function samplerSettings(f: SamplerFlags, extra: Record<string, unknown> = {}): SettingsInput {
  // commander reads --no-repeat-ngram as the negation of --repeat-ngram; take its value back.
  const ngram = typeof f.repeatNgram === 'string' ? f.repeatNgram : undefined;
  const raw: Record<string, unknown> = {
    temperature: numeric(f.temperature), top_k: numeric(f.topK), top_p: numeric(f.topP), min_p: numeric(f.minP),
    typical_p: numeric(f.typicalP), epsilon_cutoff: numeric(f.epsilon), eta_cutoff: numeric(f.eta), top_n_sigma: numeric(f.topNSigma),
    repetition_penalty: numeric(f.repetitionPenalty), frequency_penalty: numeric(f.frequencyPenalty), presence_penalty: numeric(f.presencePenalty),
    penalty_window: numeric(f.penaltyWindow), no_repeat_ngram_size: numeric(ngram), min_new_tokens: numeric(f.minNewTokens),
    min_tokens_to_keep: numeric(f.minKeep), seed: numeric(f.seed),
    dry_multiplier: numeric(f.dryMultiplier), dry_base: numeric(f.dryBase), dry_allowed_length: numeric(f.dryAllowedLength),
    dry_penalty_last_n: numeric(f.dryPenaltyLastN), dry_sequence_breakers: f.drySequenceBreaker?.length ? f.drySequenceBreaker : undefined,
    xtc_probability: numeric(f.xtcProbability), xtc_threshold: numeric(f.xtcThreshold),
    mirostat: numeric(f.mirostat), mirostat_tau: numeric(f.mirostatTau), mirostat_eta: numeric(f.mirostatEta),
    dynatemp_range: numeric(f.dynatempRange), dynatemp_exponent: numeric(f.dynatempExponent),
    smoothing_factor: numeric(f.smoothingFactor), smoothing_curve: numeric(f.smoothingCurve), top_h: numeric(f.topH),
    logit_bias: f.bias.length ? f.bias.map(parseBiasFlag) : undefined,
    banned_strings: f.ban.length ? f.ban : undefined,
    chain: f.chain === undefined || f.chain === 'hf' || f.chain === 'llama.cpp' ? f.chain : f.chain.split(',').map((x) => x.trim()),
    ablate: f.ablate.length ? f.ablate : undefined, noise: f.noise.length ? f.noise : undefined, patch_from: f.patchFrom.length ? f.patchFrom : undefined,
    ...extra,
  };
  return parseSettings(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)), cliNaming);
}
