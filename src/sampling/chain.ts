import { UserError } from '../errors.js';
import { BannedStrings } from './banned-strings.js';
import { Candidates, entropyBits } from './candidates.js';
import { Dry } from './dry.js';
import { DynaTemp } from './dynatemp.js';
import { Epsilon } from './epsilon.js';
import { Eta } from './eta.js';
import { FrequencyPresencePenalty } from './frequency-presence.js';
import { LogitBias } from './logit-bias.js';
import { MinNewTokens } from './min-new-tokens.js';
import { MinP } from './min-p.js';
import { Mirostat, MIROSTAT_MU } from './mirostat.js';
import { NoRepeatNgram } from './no-repeat-ngram.js';
import { RepetitionPenalty } from './repetition-penalty.js';
import type { Rng } from './rng.js';
import type { RandomSource, Sampler, SamplingContext } from './sampler.js';
import { Smoothing } from './smoothing.js';
import { Temperature } from './temperature.js';
import { TopH } from './top-h.js';
import { TopK } from './top-k.js';
import { TopNSigma } from './top-n-sigma.js';
import { TopP } from './top-p.js';
import type { StepTrace, TraceCandidate } from './trace.js';
import { vectorMath } from './vector-math.js';
import { TypicalP } from './typical-p.js';
import { Xtc } from './xtc.js';

/** The settings the chain is built from (a subset of the generation settings). */
export interface ChainSettings {
  temperature: number;
  top_k: number;
  top_p: number;
  min_p: number;
  typical_p: number;
  epsilon_cutoff: number;
  eta_cutoff: number;
  top_n_sigma: number;
  repetition_penalty: number;
  frequency_penalty: number;
  presence_penalty: number;
  penalty_window: number;
  no_repeat_ngram_size: number;
  min_new_tokens: number;
  min_tokens_to_keep: number;
  dry_multiplier: number;
  dry_base: number;
  dry_allowed_length: number;
  dry_penalty_last_n: number;
  dry_sequence_breakers: readonly string[];
  xtc_probability: number;
  xtc_threshold: number;
  mirostat: number;
  mirostat_tau: number;
  mirostat_eta: number;
  dynatemp_range: number;
  dynatemp_exponent: number;
  smoothing_factor: number;
  smoothing_curve: number;
  top_h: number;
  chain: string | string[];
}

export const STAGES = [
  'logit_bias', 'repetition_penalty', 'frequency_presence_penalty', 'no_repeat_ngram', 'banned_strings', 'min_new_tokens', 'dry',
  'temperature', 'dynatemp', 'smoothing', 'top_h', 'top_n_sigma', 'top_k', 'top_p', 'min_p', 'typical_p', 'epsilon', 'eta', 'xtc', 'mirostat',
] as const;
export type StageName = (typeof STAGES)[number];

const PROCESSORS: StageName[] = ['logit_bias', 'repetition_penalty', 'frequency_presence_penalty', 'no_repeat_ngram', 'banned_strings', 'min_new_tokens', 'dry'];

/**
 * Named stage orders. `dynatemp` sits right after `temperature` in both: it replaces the temperature
 * stage when dynatemp_range > 0 (only one of the two is ever active), so it runs at temperature's place.
 *
 * | step | hf                         | llama.cpp                  |
 * | ---- | -------------------------- | -------------------------- |
 * | 1–7  | the processors, then dry   | the processors, then dry   |
 * | 8    | temperature / dynatemp     | top_n_sigma                |
 * | 9    | smoothing                  | top_k                      |
 * | 10   | top_h                      | typical_p                  |
 * | 11   | top_n_sigma                | top_p                      |
 * | 12   | top_k                      | min_p                      |
 * | 13   | top_p                      | xtc                        |
 * | 14   | min_p                      | epsilon                    |
 * | 15   | typical_p                  | eta                        |
 * | 16   | epsilon                    | top_h                      |
 * | 17   | eta                        | temperature / dynatemp     |
 * | 18   | xtc                        | smoothing                  |
 * | 19   | mirostat                   | mirostat                   |
 *
 * `hf` is Hugging Face transformers' order (GenerationMixin._get_logits_processor): the logits
 * processors, then TemperatureLogitsWarper, TopHLogitsWarper right after it, then top-k, top-p, min-p,
 * typical-p, ε, η. Stages HF does not have go where text-generation-webui's default sampler_priority
 * (modules/sampler_hijack.py) puts them in its HF-style chain: DRY with the penalties (a processor, after
 * them), dynamic temperature and smoothing (its quadratic_sampling) right after temperature — they
 * reshape the distribution as temperature does, so HF's top_h follows all three — top-nσ before top-k,
 * XTC after the truncation stages; mirostat comes last because it is where a draw's surprise is
 * measured (the webui puts it just before XTC; the two never run together).
 *
 * `llama.cpp` is llama.cpp's default common sampler chain (common/sampling.cpp, common_params_sampling
 * samplers): penalties, dry, top_n_sigma, top_k, typical_p, top_p, min_p, xtc, temperature (temp-ext,
 * i.e. dynatemp when its range is set) — truncation on the temperature-1 distribution, temperature
 * last. ε, η and top_h, which llama.cpp does not have, are truncations like the others and go before
 * temperature. Smoothing follows temperature, where the webui puts it with temperature_last. With
 * mirostat llama.cpp runs temperature then mirostat (which draws), so mirostat is last here too.
 */
export const PRESETS: Record<string, StageName[]> = {
  hf: [...PROCESSORS, 'temperature', 'dynatemp', 'smoothing', 'top_h', 'top_n_sigma', 'top_k', 'top_p', 'min_p', 'typical_p', 'epsilon', 'eta', 'xtc', 'mirostat'],
  'llama.cpp': [...PROCESSORS, 'top_n_sigma', 'top_k', 'typical_p', 'top_p', 'min_p', 'xtc', 'epsilon', 'eta', 'top_h', 'temperature', 'dynatemp', 'smoothing', 'mirostat'],
};

/** What the chain needs besides settings: resolved biases and bans, EOS ids, and token texts. */
export interface ChainInputs {
  logitBias?: ReadonlyMap<number, number>;
  bannedStrings?: readonly string[];
  eosIds?: readonly number[];
  /** Every token's text, by id (needed for banned strings and DRY's sequence breakers). */
  vocabTexts?: () => readonly string[];
}

/** Which stages are active (not neutral) for these settings. */
function activeStages(s: ChainSettings, inputs: ChainInputs): Set<StageName> {
  const on = new Set<StageName>();
  if (inputs.logitBias && inputs.logitBias.size > 0) on.add('logit_bias');
  if (s.repetition_penalty !== 1) on.add('repetition_penalty');
  if (s.frequency_penalty !== 0 || s.presence_penalty !== 0) on.add('frequency_presence_penalty');
  if (s.no_repeat_ngram_size > 0) on.add('no_repeat_ngram');
  if (inputs.bannedStrings && inputs.bannedStrings.length > 0) on.add('banned_strings');
  if (s.min_new_tokens > 0 && (inputs.eosIds?.length ?? 0) > 0) on.add('min_new_tokens');
  if (s.dry_multiplier > 0 && s.dry_penalty_last_n !== 0) on.add('dry');
  // Dynamic temperature includes the temperature (its midpoint), so it takes the temperature's place.
  if (s.dynatemp_range > 0) on.add('dynatemp');
  else if (s.temperature !== 1 && s.temperature !== 0) on.add('temperature');
  if (s.smoothing_factor > 0) on.add('smoothing');
  if (s.top_h > 0) on.add('top_h');
  if (s.top_n_sigma > 0) on.add('top_n_sigma');
  if (s.top_k > 0) on.add('top_k');
  if (s.top_p < 1) on.add('top_p');
  if (s.min_p > 0) on.add('min_p');
  if (s.typical_p < 1) on.add('typical_p');
  if (s.epsilon_cutoff > 0) on.add('epsilon');
  if (s.eta_cutoff > 0) on.add('eta');
  // A threshold above 0.5 lets at most one token reach it, so XTC can never act (llama.cpp skips it).
  if (s.xtc_probability > 0 && s.xtc_threshold <= 0.5) on.add('xtc');
  if (s.mirostat > 0) on.add('mirostat');
  return on;
}

/** The stage order for a `chain` setting: a preset name or an explicit list of stage names. */
export function stageOrder(chain: string | string[]): StageName[] {
  if (typeof chain === 'string') {
    const preset = PRESETS[chain];
    if (!preset) throw new UserError(`--chain must be ${Object.keys(PRESETS).join(' or ')}, or a comma-separated list of stages (${STAGES.join(', ')}); got ${JSON.stringify(chain)}`, 'chain');
    return preset;
  }
  for (const name of chain) {
    if (!(STAGES as readonly string[]).includes(name)) throw new UserError(`--chain: unknown stage ${JSON.stringify(name)} (stages: ${STAGES.join(', ')})`, 'chain');
  }
  if (new Set(chain).size !== chain.length) throw new UserError('--chain lists a stage twice', 'chain');
  return chain as StageName[];
}

export class SamplingChain {
  readonly samplers: Sampler[];
  readonly greedy: boolean;

  constructor(readonly settings: ChainSettings, private readonly inputs: ChainInputs = {}) {
    this.greedy = settings.temperature === 0;
    const order = stageOrder(settings.chain);
    const active = activeStages(settings, inputs);
    for (const name of active) {
      if (!order.includes(name)) throw new UserError(`${name} is set but the chain (${order.join(', ')}) does not include it`, 'chain');
    }
    const k = settings.min_tokens_to_keep;
    const make: Record<StageName, () => Sampler> = {
      logit_bias: () => new LogitBias(inputs.logitBias ?? new Map()),
      repetition_penalty: () => new RepetitionPenalty(settings.repetition_penalty, settings.penalty_window),
      frequency_presence_penalty: () => new FrequencyPresencePenalty(settings.frequency_penalty, settings.presence_penalty, settings.penalty_window),
      no_repeat_ngram: () => new NoRepeatNgram(settings.no_repeat_ngram_size),
      banned_strings: () => new BannedStrings(inputs.bannedStrings ?? [], inputs.vocabTexts?.() ?? []),
      min_new_tokens: () => new MinNewTokens(settings.min_new_tokens, inputs.eosIds ?? []),
      temperature: () => new Temperature(settings.temperature),
      top_n_sigma: () => new TopNSigma(settings.top_n_sigma, k),
      top_k: () => new TopK(settings.top_k, k),
      top_p: () => new TopP(settings.top_p, k),
      min_p: () => new MinP(settings.min_p, k),
      typical_p: () => new TypicalP(settings.typical_p, k),
      epsilon: () => new Epsilon(settings.epsilon_cutoff, k),
      eta: () => new Eta(settings.eta_cutoff, k),
      dry: () => new Dry(settings.dry_multiplier, settings.dry_base, settings.dry_allowed_length, settings.dry_penalty_last_n, settings.dry_sequence_breakers, inputs.vocabTexts?.() ?? []),
      dynatemp: () => new DynaTemp(settings.temperature, settings.dynatemp_range, settings.dynatemp_exponent),
      smoothing: () => new Smoothing(settings.smoothing_factor, settings.smoothing_curve),
      top_h: () => new TopH(settings.top_h, k),
      xtc: () => new Xtc(settings.xtc_probability, settings.xtc_threshold, k),
      mirostat: () => new Mirostat(settings.mirostat === 1 ? 1 : 2, settings.mirostat_tau, settings.mirostat_eta, k),
    };
    // Greedy decoding runs the logit processors, then takes the argmax: warpers cannot change it.
    this.samplers = order.filter((n) => active.has(n)).map((n) => make[n]()).filter((s) => !this.greedy || s.kind === 'processor');
  }

  /** Candidates buffers, reused from step to step (a step allocates nothing proportional to the vocabulary). */
  private work?: Candidates;
  private scatter?: Float32Array;

  /**
   * Runs the stages over a copy of the logits, handing stages that flip coins (XTC) the sample's rng.
   * The result is valid until the next call.
   */
  private run(logits: Float32Array, ctx: SamplingContext, rng?: RandomSource, onStage?: (name: string, c: Candidates) => void): Candidates {
    let c = this.work;
    if (!c || c.ids.length !== logits.length) c = this.work = new Candidates(logits);
    else c.reset(logits);
    for (const s of this.samplers) {
      s.apply(c, ctx, rng);
      onStage?.(s.name, c);
      if (c.size === 0) throw new UserError(`every token was removed by ${s.name}; nothing is left to sample`, s.name);
    }
    return c;
  }

  /** Tells the stages which token was drawn from `c` (mirostat learns from it). */
  private accept(token: number, c: Candidates, ctx: SamplingContext): number {
    for (const s of this.samplers) s.accept?.(token, c, ctx);
    return token;
  }

  /** Chooses the next token: the argmax (greedy) or a draw with this sample's rng. */
  sample(logits: Float32Array, rng: Rng, ctx: SamplingContext): number {
    if (this.greedy && this.samplers.length === 0) return argmax(logits); // plain greedy: no copy needed
    const c = this.run(logits, ctx, rng);
    return this.accept(this.choose(c, rng), c, ctx);
  }

  /**
   * As sample(), and also the entropy (bits) of the distribution the token was drawn from — after
   * every stage, so it shows what temperature and truncation did (0 for greedy).
   */
  sampleWithEntropy(logits: Float32Array, rng: Rng, ctx: SamplingContext): { token: number; entropy_bits: number } {
    if (this.greedy) return { token: this.sample(logits, rng, ctx), entropy_bits: 0 };
    const c = this.run(logits, ctx, rng);
    // H = ln Z − Σ e·(l − max) / Z with e = exp(l − max), Z = Σ e; the draw reuses the same exponentials.
    const es = c.expSum();
    const weighted = c.math.weightedShift(c.logits, es.exps, c.size, es.max);
    const entropy_bits = Math.max(0, Math.log(es.sum) - weighted / es.sum) / Math.LN2;
    return { token: this.accept(this.drawByIdOrder(c, rng.uniform(), es), c, ctx), entropy_bits };
  }

  /**
   * The whole vocabulary after the chain's stages, by token id: each survivor's logit as the stages
   * left it, −∞ for every removed token. What decoders that score tokens themselves (beam and
   * contrastive search, which run only logit processors) start from. Nothing is drawn, so no stage
   * may need a coin (XTC, a warper, cannot run here). Valid until the next call.
   */
  processed(logits: Float32Array, ctx: SamplingContext): Float32Array {
    const c = this.run(logits, ctx);
    const V = logits.length;
    const out = this.scatter && this.scatter.length === V ? this.scatter : (this.scatter = new Float32Array(V));
    out.fill(-Infinity);
    for (let i = 0; i < c.size; i++) out[c.ids[i]!] = c.logits[i]!;
    return out;
  }

  /**
   * The distribution the chain draws from: surviving tokens (ascending id) and their probabilities.
   * With XTC it is the mixture over its coin — the chain run with the coin forcing XTC to act
   * (weight xtc_probability) and not (the rest) — so draws from it follow what sampling does.
   */
  distribution(logits: Float32Array, ctx: SamplingContext): { ids: number[]; probs: number[] } {
    const xtc = this.samplers.find((s): s is Xtc => s instanceof Xtc);
    if (this.greedy || !xtc) return this.oneDistribution(logits, ctx);
    // A uniform of 0 is never above the probability (XTC acts); 1 always is, unless it is 1.
    const acts = this.oneDistribution(logits, ctx, { uniform: () => 0 });
    if (xtc.probability >= 1) return acts;
    const rests = this.oneDistribution(logits, ctx, { uniform: () => 1 });
    const mixed = new Map<number, number>();
    acts.ids.forEach((id, i) => mixed.set(id, xtc.probability * acts.probs[i]!));
    rests.ids.forEach((id, i) => mixed.set(id, (mixed.get(id) ?? 0) + (1 - xtc.probability) * rests.probs[i]!));
    const ids = [...mixed.keys()].sort((a, b) => a - b);
    return { ids, probs: ids.map((id) => mixed.get(id)!) };
  }

  private oneDistribution(logits: Float32Array, ctx: SamplingContext, coin?: RandomSource): { ids: number[]; probs: number[] } {
    const c = this.run(logits, ctx, coin);
    if (this.greedy) return { ids: [argmaxOf(c)], probs: [1] };
    const p = c.probs();
    const order = Array.from({ length: c.size }, (_, i) => i).sort((a, b) => c.ids[a]! - c.ids[b]!);
    return { ids: order.map((i) => c.ids[i]!), probs: order.map((i) => p[i]!) };
  }

  private choose(c: Candidates, rng: Rng): number {
    return this.greedy ? argmaxOf(c) : this.drawByIdOrder(c, rng.uniform());
  }

  /**
   * Inverse-CDF draw over the surviving tokens in ascending token-id order: a canonical order that
   * does not depend on how stages happened to arrange the candidates.
   */
  private drawByIdOrder(c: Candidates, u: number, es: { exps: Float32Array; sum: number } = c.expSum()): number {
    const { exps, sum } = es;
    const target = u * sum;
    let cum = 0;
    if (c.idOrder) return c.ids[c.math.cumulativeFind(exps, c.size, target)]!;
    if (c.size <= 4096) {
      const order = Array.from({ length: c.size }, (_, i) => i).sort((a, b) => c.ids[a]! - c.ids[b]!);
      for (const i of order) {
        cum += exps[i]!;
        if (target < cum) return c.ids[i]!;
      }
      return c.ids[order[order.length - 1]!]!;
    }
    // Many survivors in ranked order: scatter them by id and walk the vocabulary once.
    const V = c.ids.length;
    const byId = this.scatter && this.scatter.length === V ? this.scatter.fill(0) : (this.scatter = new Float32Array(V));
    let last = 0;
    for (let i = 0; i < c.size; i++) { byId[c.ids[i]!] = exps[i]!; last = Math.max(last, c.ids[i]!); }
    for (let id = 0; id < V; id++) {
      if (byId[id] === 0) continue;
      cum += byId[id]!;
      if (target < cum) return id;
    }
    return last;
  }

  /**
   * As sample(), and explains the step for the `top` most likely tokens. With mirostat the trace shows
   * μ before and after the step (a one-off step without state starts from 2τ and keeps nothing).
   */
  sampleWithTrace(logits: Float32Array, rng: Rng, ctx: SamplingContext, top: number, text: (id: number) => string): { token: number; trace: StepTrace } {
    const V = logits.length;
    const mirostat = this.samplers.find((s): s is Mirostat => s instanceof Mirostat);
    // A step without state runs on a throwaway one, so the μ it would move to can still be shown.
    if (mirostat && !ctx.state) ctx = { ...ctx, state: {} };
    const muBefore = mirostat?.mu(ctx);
    const raw = new Candidates(logits);
    const rawProbs = raw.probs(); // in id order: raw is untouched
    raw.sortTop(Math.min(top, V));
    const tracked = Array.from(raw.ids.subarray(0, Math.min(top, V)));
    const stageProbs: number[][] = tracked.map(() => []);
    const stages: string[] = [];
    const removedBy: (string | null)[] = tracked.map(() => null);
    const c = this.run(logits, ctx, rng, (name, cur) => {
      stages.push(name);
      const p = probsById(cur, V);
      const present = new Uint8Array(V);
      for (let i = 0; i < cur.size; i++) present[cur.ids[i]!] = 1;
      tracked.forEach((id, j) => {
        stageProbs[j]!.push(p[id]!);
        if (!present[id] && removedBy[j] === null) removedBy[j] = name;
      });
    });
    const token = this.choose(c, rng);
    const final = this.greedy ? oneHot(token, V) : probsById(c, V);
    let keptMass = 0, finalEntropy = 0, rank = 1;
    for (let i = 0; i < c.size; i++) keptMass += rawProbs[c.ids[i]!]!;
    if (!this.greedy) finalEntropy = entropyBits(final);
    for (let id = 0; id < V; id++) if (logits[id]! > logits[token]! || (logits[id] === logits[token] && id < token)) rank++;
    const candidates: TraceCandidate[] = tracked.map((id, j) => ({
      token_id: id, token: text(id), prob: rawProbs[id]!, stage_probs: stageProbs[j]!, final_prob: final[id]!,
      removed_by: removedBy[j] ?? (this.greedy && id !== token ? 'greedy' : null),
    }));
    this.accept(token, c, ctx);
    return {
      token,
      trace: {
        stages, greedy: this.greedy, candidates,
        chosen: { token_id: token, token: text(token), rank, prob: rawProbs[token]!, final_prob: final[token]! },
        entropy_bits: entropyBits(rawProbs), final_entropy_bits: finalEntropy,
        kept_count: this.greedy ? 1 : c.size, kept_mass: this.greedy ? rawProbs[token]! : keptMass,
        ...(mirostat && { mirostat_mu: { before: muBefore!, after: ctx.state![MIROSTAT_MU]! } }),
      },
    };
  }
}

/** The best candidate: largest logit, lowest id on ties. */
function argmaxOf(c: Candidates): number {
  return c.ids[c.best()]!;
}

/** Draws from a distribution given as ascending ids with probabilities (inverse CDF, as the chain draws). */
export function drawFrom(dist: { ids: number[]; probs: number[] }, u: number): number {
  let cum = 0;
  for (let i = 0; i < dist.ids.length; i++) {
    cum += dist.probs[i]!;
    if (u < cum) return dist.ids[i]!;
  }
  return dist.ids[dist.ids.length - 1]!;
}

function probsById(c: Candidates, V: number): Float64Array {
  const p = c.probs();
  const out = new Float64Array(V);
  for (let i = 0; i < c.size; i++) out[c.ids[i]!] = p[i]!;
  return out;
}

function oneHot(id: number, V: number): Float64Array {
  const p = new Float64Array(V);
  p[id] = 1;
  return p;
}

/** Index of the largest logit, the lowest token id on ties. */
export function argmax(logits: ArrayLike<number>): number {
  if (logits instanceof Float32Array) return vectorMath.argmax(logits, logits.length);
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}
