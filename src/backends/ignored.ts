import type { Settings } from '../generate/settings.js';
import type { NormalisedAlternative, NormalisedChoice, NormalisedToken } from './openai-shapes.js';

/**
 * Settings a server was sent and did not apply, proven from its answer.
 *
 * "A setting a server rejects or ignores is reported, not hidden." A rejection is an HTTP 400 (the backend stops
 * with the server's message). Ignoring is silent: the server accepts a field it does not implement, or maps it to
 * something else, and answers as if it had not been sent. This module finds the answers that show it. It is pure:
 * one normalised choice (src/backends/openai-shapes.ts) and the settings it was asked with in, findings out.
 *
 * **Only proof, never suspicion.** Each check reports a setting only when the choice cannot have come from a server
 * that applied it; a response that merely looks unlikely (a rare token at temperature 0.2, a short text) is never
 * reported. Where a check depends on how a server computes the logprobs it reports, it runs only where every known
 * server makes it exact, and each check says why below. The checks, in the order they are reported:
 *
 * - `logprobs`: logprobs were asked for and the choice has none, or a position lists fewer alternatives than asked
 *   while the vocabulary surely has more (see `checkLogprobs`).
 * - `max_tokens`: more tokens generated than allowed.
 * - `stop`: the text goes on after a stop string.
 * - `logit_bias`: a token banned with bias −inf (sent as −100) was generated.
 * - `min_new_tokens` (sent as `min_tokens`): the choice ended at an end-of-sequence before it had that many tokens.
 * - `temperature` 0: a chosen token is not the most likely one listed at its position.
 * - `top_k` K: K listed alternatives are more likely than the chosen token.
 * - `min_p`: the chosen token's probability is below min_p × the most likely listed one's.
 * - `top_p` P: the listed alternatives more likely than the chosen token already hold P of the probability
 *   (llama-server and `wander serve` only: see `checkDistribution`).
 *
 * Each setting is reported at most once per choice, with its first evidence. Positions are generated tokens counted
 * from 0 ("at token 3" is the fourth generated token), as elsewhere in Wander.
 *
 * **What a finding names.** A check proves that the choice breaks one setting's rule *given that the other settings
 * sent were applied*. When a server ignores one that is not checked here (say it applies its own repetition penalty
 * although 1 was sent, or its operator turned on a sampler Wander does not send, such as llama-server's XTC or DRY),
 * the tokens can break the rule of another: then the finding is still proof that the settings sent were not all
 * honoured, but the one it names may not be the culprit.
 *
 * **The seed cannot be checked from one answer**: any text is a possible draw under any seed. Two answers to the same
 * request can show it: `seedIgnored` compares them.
 *
 * **Preconditions**: the choice answers a request without `echo` (as src/backends/openai.ts sends them), so its text,
 * tokens and ids are the generated ones only; `usage` is given only for a response with this one choice (its counts
 * cover every choice).
 */

/** A setting the server was sent and did not apply, with what in its answer shows it (one line). */
export interface IgnoredSetting {
  /** The setting, by its name in Settings; 'logprobs' for the request's `logprobs` (how many alternatives were asked). */
  setting: keyof Settings | 'logprobs';
  evidence: string;
}

/** The settings the checks read: the ones src/backends/openai.ts sends (a whole Settings will do). */
export type SentSettings = Pick<Settings,
  'temperature' | 'top_k' | 'top_p' | 'min_p' | 'typical_p' | 'repetition_penalty' | 'frequency_penalty' | 'presence_penalty'
  | 'logit_bias' | 'min_new_tokens' | 'max_tokens' | 'stop'>
  // The samplers forwarded only when set (absent = off): each reorders, reshapes or removes the likeliest
  // candidates, so with any of them on the distribution checks prove nothing.
  & Partial<Pick<Settings, 'dry_multiplier' | 'xtc_probability' | 'mirostat' | 'dynatemp_range' | 'smoothing_factor' | 'top_h' | 'top_n_sigma'>>;

/**
 * How much more likely (in nats) a listed alternative must be than the chosen token to count as more likely: 1e-5.
 * A server chooses from the same logits it reports, and rounding is monotone, so a token it chose honestly is never
 * reported as less likely than one it passed over; at most the two round to a tie. Ties (equal logits, or values
 * that rounded together) are never evidence. 1e-5 nats is over ten times float32's rounding at a logprob of −10, and
 * a relative 1e-5 on a ratio of probabilities (min_p).
 */
export const LOGPROB_TOLERANCE = 1e-5;

/** How far past P (absolute probability) listed tokens' mass must reach to prove a top_p violation: 1e-5. */
export const MASS_TOLERANCE = 1e-5;

/**
 * Logprobs at or below this are a server's "below anything tracked" sentinel, not a value: vLLM and OpenAI clamp at
 * −9999, llama.cpp writes −3.4e38, SGLang clamps at float32's minimum, and the processed modes write a token that
 * the chain removed this way. A chosen token with such a logprob gives no rank or ratio to check.
 */
const UNTRACKED = -9999;

/**
 * Every setting `choice` shows was not applied, in the order listed in the module's doc, each at most once.
 * `topAsked` is the request's `logprobs` (0 when none were asked); `usage` the response's usage, when the response
 * holds this one choice (its `completion_tokens` is read if it is a non-negative integer).
 */
export function ignoredSettings(sent: SentSettings, topAsked: number, choice: NormalisedChoice, usage?: { completion_tokens?: unknown } | null): IgnoredSetting[] {
  const found: IgnoredSetting[] = [];
  const report = (setting: IgnoredSetting['setting'], evidence: string) => {
    if (!found.some((f) => f.setting === setting)) found.push({ setting, evidence });
  };
  const counted = usage?.completion_tokens;
  const usageCount = typeof counted === 'number' && Number.isSafeInteger(counted) && counted >= 0 ? counted : null;
  const bans = new Set(sent.logit_bias.filter((b) => b.bias === '-inf' && b.token_id !== undefined).map((b) => b.token_id!));

  checkLogprobs(topAsked, choice, report);
  checkLength(sent, choice, usageCount, report);
  checkStop(sent, choice, report);
  checkBans(bans, choice, report);
  checkDistribution(sent, bans, choice, report);
  return found;
}

type Report = (setting: IgnoredSetting['setting'], evidence: string) => void;

/**
 * `logprobs` N > 0. No logprobs at all, for a choice with text, is proof (a choice with no text may have generated
 * nothing but an end-of-sequence, which some servers list no logprobs for). A short list at a position is proof only
 * where the answer's own shape keeps every alternative apart: the chat shape's lists (llama-server, Ollama, OpenAI's
 * chat) hold one entry per token, so a top-N list has min(N, vocabulary) entries, and the vocabulary has at least as
 * many tokens as the choice shows (distinct chosen tokens and alternatives, by id when every one has an id, else by
 * text, which can only undercount). OpenAI's legacy shape keys alternatives by text, so tokens that decode alike
 * (byte tokens shown as "\uFFFD") merge into one entry: there only an empty list is proof. A vLLM choice may be in
 * either shape, so it is held to the legacy rule. Post-sampling lists (llama-server's `post_sampling_probs`) hold what
 * the chain kept, legitimately fewer: they are not checked.
 */
function checkLogprobs(topAsked: number, choice: NormalisedChoice, report: Report): void {
  if (topAsked <= 0) return;
  const tokens = choice.tokens;
  if (tokens === null) {
    if (choice.text !== '') report('logprobs', `logprobs ${topAsked}: the choice has no per-token logprobs`);
    return;
  }
  if (choice.post_sampling) return;
  const separate = choice.shape === 'llama.cpp' || choice.shape === 'openai-chat';
  const seen = separate ? distinctTokens(tokens) : 0;
  const need = separate ? Math.min(topAsked, seen) : 1;
  const i = tokens.findIndex((t) => t.logprob !== null && t.top.length < need);
  if (i < 0) return;
  const n = tokens[i]!.top.length;
  report('logprobs', separate
    ? `logprobs ${topAsked}: ${n} ${n === 1 ? 'alternative' : 'alternatives'} listed at token ${i}, though this choice alone shows ${seen} distinct tokens`
    : `logprobs ${topAsked}: no alternatives listed at token ${i}`);
}

/** The number of distinct tokens a choice shows (chosen and listed): by id when every one has an id, else by text. */
function distinctTokens(tokens: readonly NormalisedToken[]): number {
  const all: (NormalisedToken | NormalisedAlternative)[] = tokens.flatMap((t) => [t, ...t.top]);
  const byId = all.every((t) => t.token_id !== null);
  return new Set(all.map((t) => (byId ? t.token_id : t.token))).size;
}

/**
 * `max_tokens` and `min_new_tokens` (sent as `min_tokens`), by counting generated tokens.
 *
 * Every count a choice gives is at least 0 and at most the number generated: its tokens (a server may list fewer,
 * e.g. llama-server drops the last ones when a stop string ends the choice), its token ids, and usage's
 * `completion_tokens`. Their largest is a lower bound, so a largest above max_tokens proves the limit was passed.
 *
 * min_tokens forbids an end-of-sequence before that many tokens: a choice that ended with 'stop' (and not at a stop
 * string: only checked when none were sent, and not when the server names a stop string or another reason) after
 * fewer tokens broke it. Here the count must not be short, so it is the same largest one only when usage gives the
 * server's own count (what it bills), or when the listed tokens spell the whole, non-empty text (text coverage 'exact'
 * or 'overrun': no token that shows in the text is missing); otherwise min_tokens is not checked. Whether a server
 * counts the end-of-sequence token does not matter: a choice that honoured min_tokens has min_tokens tokens without it.
 */
function checkLength(sent: SentSettings, choice: NormalisedChoice, usageCount: number | null, report: Report): void {
  const counts: [number, string][] = [];
  if (usageCount !== null) counts.push([usageCount, 'usage.completion_tokens']);
  if (choice.token_ids) counts.push([choice.token_ids.length, 'token ids']);
  if (choice.tokens) counts.push([choice.tokens.length, 'tokens with logprobs']);
  if (counts.length === 0) return;
  const [count, from] = counts.reduce((a, b) => (b[0] > a[0] ? b : a));
  if (count > sent.max_tokens) report('max_tokens', `max_tokens ${sent.max_tokens}: the choice has ${count} generated tokens (${from})`);
  const min = sent.min_new_tokens;
  const eos = choice.finish_reason === 'stop' && typeof choice.stop_reason !== 'string'
    && (choice.wander_finish_reason === null || choice.wander_finish_reason === 'eos');
  const complete = usageCount !== null || (choice.text !== '' && (choice.text_coverage === 'exact' || choice.text_coverage === 'overrun'));
  if (min > 0 && sent.stop.length === 0 && eos && complete && count < min) {
    report('min_new_tokens', `min_new_tokens ${min}: the choice ended (finish_reason ${JSON.stringify(choice.raw_finish_reason)}, no stop strings sent) after ${count} ${count === 1 ? 'token' : 'tokens'} (${from})`);
  }
}

/**
 * `stop`: a server that applies a stop string ends the choice where it first appears, and cuts the text before it
 * (OpenAI, vLLM, llama-server, Ollama, SGLang, `wander serve`) or, asked to or by habit, just after it (vLLM's
 * `include_stop_str_in_output`, Hugging Face TGI). Either way no text follows it: a stop string with text after it
 * proves the server went on. A stop string that ends the text is not proof (it may be a server that keeps it).
 *
 * Not checked when min_tokens was sent: vLLM and SGLang look for stop strings only once min_tokens tokens are
 * generated, so one in the first tokens legitimately stays in the text.
 */
function checkStop(sent: SentSettings, choice: NormalisedChoice, report: Report): void {
  if (sent.min_new_tokens > 0) return;
  for (const s of sent.stop) {
    const at = choice.text.indexOf(s);
    if (at >= 0 && at + s.length < choice.text.length) {
      const chars = (x: string) => [...x].length;
      report('stop', `stop ${JSON.stringify(s)}: the text goes on after it (it starts at character ${chars(choice.text.slice(0, at))} of ${chars(choice.text)})`);
      return;
    }
  }
}

/**
 * `logit_bias` with bias −inf: a ban. The backend sends it as −100, which OpenAI documents as a ban; a server that
 * adds −100 as an ordinary bias lets the token through at a high temperature (the bias is divided by it), and a
 * generated banned token is then reported too: the ban asked for did not hold. Finite biases only shift the odds and
 * prove nothing here. Needs the choice's token ids.
 */
function checkBans(bans: ReadonlySet<number>, choice: NormalisedChoice, report: Report): void {
  const ids = choice.token_ids;
  if (bans.size === 0 || !ids) return;
  const i = ids.findIndex((id) => bans.has(id));
  if (i >= 0) report('logit_bias', `logit_bias #${ids[i]} -inf: the banned token was generated at token ${i}`);
}

/**
 * `temperature` 0, `top_k`, `min_p` and `top_p`: the chosen token against the alternatives listed at its position.
 *
 * What the listed logprobs are decides what they can prove. Servers report the model's own distribution (vLLM by
 * default, llama-server without `post_sampling_probs`, Ollama, `wander serve`), or it after temperature (SGLang), or
 * after the whole chain, renormalised over what the chain kept (vLLM's `--logprobs-mode processed_logprobs`; SGLang
 * renormalises over the top_p nucleus when top_p < 1; llama-server's `post_sampling_probs`). The truncations checked
 * here (top-k, top-p, min-p, greedy) each keep a run of the most likely tokens, so in every case the tokens more likely
 * than an honestly chosen one were kept, keep their order, and keep their ratios to each other; temperature keeps the
 * order too. What differs is the scale. Hence:
 *
 * - Only when nothing else sent reorders the candidates or removes likely ones: penalties neutral (repetition 1,
 *   frequency 0, presence 0, all applied before truncation and reported only by some servers), none of the forwarded
 *   samplers on (DRY penalizes, XTC removes the likeliest, mirostat and top-H truncate by their own rules, dynamic
 *   temperature may exceed 1, smoothing reshapes; top-nσ is left out for simplicity), typical_p 1 (it can
 *   remove the most likely tokens, and some chains run it before top-k), no finite logit_bias; banned tokens (−inf)
 *   are left out of the comparisons (a ban only removes a token), which needs every listed alternative's id at the
 *   position; not at positions before min_tokens (the end-of-sequence tokens are forbidden there, which may remove
 *   the most likely one). Not when the choice's logprobs are post-sampling (llama-server's flag: a truncated list
 *   renormalised), and not at a token whose logprob is a sentinel (≤ −9999) or missing.
 * - temperature 0: the chosen token must be the most likely (every server's greedy path is an argmax over the logits
 *   it reports, and every truncation keeps the argmax). A listed alternative more likely by more than
 *   LOGPROB_TOLERANCE proves otherwise; ties are never evidence.
 * - top_k K > 0: a kept token has at most K − 1 tokens more likely than it (ties at the cut may keep more than K, never
 *   a token with K above it). K listed alternatives more likely prove it was not kept; a shorter list proves nothing.
 *   It depends on order only, so it holds at any temperature.
 * - min_p > 0, at temperature in (0, 1]: a kept token has p ≥ min_p · p_max, applied before temperature (llama.cpp,
 *   Wander's llama.cpp chain) or after (vLLM, SGLang, Ollama, Hugging Face and Wander's hf chain): at temperature T the ratio p / p_max
 *   becomes (p / p_max)^(1/T), no larger when T ≤ 1, and renormalising keeps it. So a reported ratio below min_p
 *   (by LOGPROB_TOLERANCE in log space) proves it on every server. The most likely listed token stands in for p_max
 *   (it is at most p_max, so the ratio only rises). Above temperature 1 a server that tempers first may keep the
 *   token: not checked. At temperature 0 the rule says nothing the greedy check does not.
 * - top_p P < 1, at temperature in (0, 1], on llama-server (shape 'llama.cpp') and `wander serve` only: a kept token
 *   has less than P of the probability on the tokens more likely than it (the smallest set reaching P includes the
 *   token that reaches it). On the model's own distribution, tempering with T ≤ 1 only moves mass towards the most
 *   likely tokens and truncating first only renormalises upwards, so listed tokens above the chosen one holding
 *   P + MASS_TOLERANCE of the model's distribution prove it. Servers whose logprobs may be renormalised over the
 *   nucleus itself (SGLang with top_p < 1, vLLM's processed modes) break this: there the tokens above an honestly
 *   chosen one can hold almost all of the probability. The shape cannot tell vLLM's modes apart, and SGLang's answers
 *   look like OpenAI's, so top_p is checked only on the two servers whose logprobs are known to be the model's.
 */
function checkDistribution(sent: SentSettings, bans: ReadonlySet<number>, choice: NormalisedChoice, report: Report): void {
  const tokens = choice.tokens;
  if (!tokens || choice.post_sampling) return;
  if (sent.repetition_penalty !== 1 || sent.frequency_penalty !== 0 || sent.presence_penalty !== 0 || sent.typical_p !== 1) return;
  if ((sent.dry_multiplier ?? 0) > 0 || (sent.xtc_probability ?? 0) > 0 || (sent.mirostat ?? 0) > 0 || (sent.dynatemp_range ?? 0) > 0
    || (sent.smoothing_factor ?? 0) > 0 || (sent.top_h ?? 0) > 0 || (sent.top_n_sigma ?? 0) > 0) return;
  if (sent.logit_bias.some((b) => b.bias !== '-inf' || b.token_id === undefined)) return;
  const T = sent.temperature, K = sent.top_k;
  const rawLogprobs = choice.shape === 'llama.cpp' || choice.wander_finish_reason !== null;
  for (let i = sent.min_new_tokens; i < tokens.length; i++) {
    const t = tokens[i]!;
    const lp = t.logprob;
    if (lp === null || lp <= UNTRACKED) continue;
    if (bans.size > 0 && (t.token_id === null || bans.has(t.token_id) || t.top.some((a) => a.token_id === null))) continue;
    const alts = bans.size > 0 ? t.top.filter((a) => !bans.has(a.token_id!)) : t.top;
    const above = alts.filter((a) => a.logprob > lp + LOGPROB_TOLERANCE);
    const best = above.reduce<NormalisedAlternative | null>((m, a) => (m === null || a.logprob > m.logprob ? a : m), null);
    const chose = `chose ${JSON.stringify(t.token)}`;
    if (T === 0 && best) {
      const [mine, theirs] = apart(lp, best.logprob);
      report('temperature', `temperature 0: ${chose} (logprob ${mine}) at token ${i}, where ${JSON.stringify(best.token)} was listed at ${theirs}`);
    }
    if (K > 0 && above.length >= K) {
      report('top_k', `top_k ${K}: ${chose} at token ${i}, though ${above.length} listed alternatives are more likely`);
    }
    if (T > 0 && T <= 1 && sent.min_p > 0) {
      if (best && lp < Math.log(sent.min_p) + best.logprob - LOGPROB_TOLERANCE) {
        report('min_p', `min_p ${sent.min_p}: ${chose} at token ${i} with probability ${num(Math.exp(lp))}, under ${sent.min_p} × ${num(Math.exp(best.logprob))} (${JSON.stringify(best.token)}, the most likely listed)`);
      }
    }
    if (T > 0 && T <= 1 && sent.top_p < 1 && rawLogprobs) {
      const mass = above.reduce((s, a) => s + Math.exp(a.logprob), 0);
      if (mass >= sent.top_p + MASS_TOLERANCE) {
        const which = above.length === 1 ? 'the listed alternative more likely than it holds' : `the ${above.length} listed alternatives more likely than it hold`;
        report('top_p', `top_p ${sent.top_p}: ${chose} at token ${i}, though ${which} ${num(mass)} of the probability`);
      }
    }
  }
}

/**
 * Two answers to the same request (same prompt, same settings, same seed) that differ show the seed was not applied
 * — but only if the server computed the same distributions for both: a server that is not batch-invariant can give
 * slightly different logits to the same request twice, and a draw near a boundary then flips. So this walks the two
 * choices' tokens together and reports only where they first differ at a position at which, and before which, every
 * listed logprob is bit-identical in both (the same alternatives, the same values, the same chosen tokens until
 * then, and at least one alternative listed at each position). That is the one inference here: identical listed
 * logprobs are taken to mean identical logits, so the same seeded draw should have chosen the same token. Anything
 * else (no logprobs, lists that differ in the last digit, answers that differ only in length) proves nothing: null.
 * Not checked at temperature 0, where the seed plays no part (a difference there is the greedy check's).
 */
export function seedIgnored(sent: Pick<Settings, 'temperature'>, a: NormalisedChoice, b: NormalisedChoice): IgnoredSetting | null {
  if (sent.temperature === 0 || !a.tokens || !b.tokens) return null;
  const n = Math.min(a.tokens.length, b.tokens.length);
  for (let i = 0; i < n; i++) {
    const x = a.tokens[i]!, y = b.tokens[i]!;
    if (x.top.length === 0 || !sameList(x.top, y.top)) return null;
    const same = x.token_id !== null && y.token_id !== null ? x.token_id === y.token_id : x.token === y.token;
    if (same) {
      if (x.logprob !== y.logprob) return null;
      continue;
    }
    return {
      setting: 'seed',
      evidence: `seed: two answers to the same request chose ${JSON.stringify(x.token)} and ${JSON.stringify(y.token)} at token ${i}, though every listed logprob up to there is identical`,
    };
  }
  return null;
}

function sameList(x: readonly NormalisedAlternative[], y: readonly NormalisedAlternative[]): boolean {
  return x.length === y.length && x.every((a, j) => a.token === y[j]!.token && a.token_id === y[j]!.token_id && a.logprob === y[j]!.logprob);
}

/** A number in evidence: 4 significant digits, shortest form. */
function num(x: number, digits = 4): string {
  return String(Number(x.toPrecision(digits)));
}

/** Two different numbers in evidence, with as many digits (4 at least) as it takes to show them different. */
function apart(a: number, b: number): [string, string] {
  let digits = 4;
  while (digits < 17 && num(a, digits) === num(b, digits)) digits++;
  return [num(a, digits), num(b, digits)];
}
