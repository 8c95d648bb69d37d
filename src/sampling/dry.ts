import type { Candidates } from './candidates.js';
import type { Sampler, SamplingContext } from './sampler.js';
import { updateLogits } from './sparse-logits.js';

/** llama.cpp's caps: a breaker is cut to 40 bytes, and what follows its head token to 20 tokens. */
const MAX_BREAKER_BYTES = 40;
const MAX_TAIL_TOKENS = 20;
/** ln of the largest f32: base^exponent is capped below it. */
const FLOAT_MAX_LOG = 88.7228391;

/**
 * DRY, "don't repeat yourself" (llama.cpp's llama_sampler_dry_apply in src/llama-sampling.cpp, after
 * koboldcpp): a penalty on the token that would extend a repeat. For every earlier position where the
 * text so far ends the same way as it does now, the token that followed there would make the repeat one
 * token longer; if the repeated span is at least allowed_length tokens, that token's logit drops by
 *
 *     multiplier · base^(length − allowed_length)
 *
 * taking each token's longest such span, with the exponent capped so the power stays below the largest
 * f32. Only the last `lastN` tokens are searched (−1: the whole sequence, prompt included — llama.cpp's
 * server feeds it the prompt too; 0: off).
 *
 * Sequence breakers end the search: a repeat never reaches back across one, so text after a line break
 * (say) starts afresh. llama.cpp turns each breaker string into token sequences over the vocabulary's
 * texts (get_overlapping_token_sequences): a token whose text contains the breaker breaks on its own;
 * a token whose text ends with the breaker's beginning breaks when the tokens after it spell the rest
 * (llama.cpp compares them with the rest's own tokenization; Wander has only the token texts, so it
 * compares the texts the following tokens spell, within the same 20 tokens). Only the breaker closest
 * to the end counts. A token that contains a breaker is never penalized.
 *
 * A processor, not a warper: llama.cpp runs it with the penalties, before temperature, so it changes
 * even a greedy (temperature 0) choice — a repeat is a property of the text, not of how it is sampled.
 */
/**
 * Which tokens hold a breaker and which end with a breaker's beginning: one scan of the vocabulary's
 * texts (~8 ms at 50k tokens), kept per vocabulary and breaker list, since every generation (every
 * server request) with DRY on builds its own stage.
 */
const tables = new WeakMap<readonly string[], Map<string, { single: Uint8Array; tails: Map<number, string[]> }>>();
function breakerTable(texts: readonly string[], breakers: readonly string[]): { single: Uint8Array; tails: ReadonlyMap<number, string[]> } {
  const key = JSON.stringify(breakers);
  let byBreakers = tables.get(texts);
  if (!byBreakers) tables.set(texts, byBreakers = new Map());
  const known = byBreakers.get(key);
  if (known) return known;
  const single = new Uint8Array(texts.length), tails = new Map<number, string[]>();
  for (const raw of breakers) {
    const b = truncateUtf8(raw, MAX_BREAKER_BYTES);
    if (b.length === 0) continue;
    texts.forEach((w, id) => {
      if (w.includes(b)) { single[id] = 1; return; }
      // Every place where w's end is a beginning of b: what b still needs after w.
      for (let pos = w.indexOf(b[0]!); pos >= 0; pos = w.indexOf(b[0]!, pos + 1)) {
        if (!b.startsWith(w.slice(pos))) continue;
        const rest = b.slice(w.length - pos);
        const list = tails.get(id) ?? [];
        if (!list.includes(rest)) list.push(rest);
        tails.set(id, list);
      }
    });
  }
  const table = { single, tails };
  byBreakers.set(key, table);
  return table;
}

export class Dry implements Sampler {
  readonly name = 'dry';
  readonly kind = 'processor';
  /** 1 for tokens whose text contains a breaker. */
  private readonly single: Uint8Array;
  /** Tokens whose text ends with the start of a breaker → the rest of that breaker (each distinct). */
  private readonly tails: ReadonlyMap<number, string[]>;
  private z = new Int32Array(0);

  constructor(
    readonly multiplier: number, readonly base = 1.75, readonly allowedLength = 2, readonly lastN = -1,
    breakers: readonly string[] = [], private readonly texts: readonly string[] = [],
  ) {
    ({ single: this.single, tails: this.tails } = breakerTable(texts, breakers));
  }

  apply(c: Candidates, ctx: SamplingContext): void {
    if (this.multiplier === 0 || this.base < 1 || this.lastN === 0) return;
    const t = ctx.tokens, end = t.length - 1;
    const n = this.lastN < 0 ? t.length : Math.min(t.length, this.lastN);
    if (n <= this.allowedLength) return;
    // Counting back from the end (i = 0 is the last token), the first breaker found limits how long a
    // repeat may be: only the tokens after it can take part.
    let limit = n;
    for (let i = 0; i < n; i++) {
      const m = this.breakerAt(t, end - i, i);
      if (m >= 0) { limit = i - m; break; }
    }
    if (limit < this.allowedLength) return;

    // z[k]: how many tokens, read backwards from the end and from k tokens before the end, agree (the
    // Z-function of the reversed window, linear time). Position k ≥ 1 back ends a copy of the last
    // z[k] tokens; the token after it, t[end − k + 1], would extend that copy.
    if (this.z.length < n) this.z = new Int32Array(n);
    const z = this.z;
    let lo = 0, hi = 0; // the rightmost match found so far covers reversed positions [lo, hi)
    const longest = new Map<number, number>();
    for (let k = 1; k < n; k++) {
      let len = k < hi ? Math.min(hi - k, z[k - lo]!) : 0;
      while (k + len < n && t[end - len] === t[end - k - len]) len++;
      z[k] = len;
      if (k + len > hi) { lo = k; hi = k + len; }
      const span = Math.min(len, limit);
      if (span < this.allowedLength) continue;
      const next = t[end - k + 1]!;
      if ((longest.get(next) ?? -1) < span) longest.set(next, span);
    }

    const maxExponent = this.base > 1.000001 ? Math.trunc(FLOAT_MAX_LOG / Math.log(this.base)) : 0;
    const changes = new Map<number, (l: number) => number>();
    for (const [id, span] of longest) {
      if (this.single[id]) continue;
      let exponent = span - this.allowedLength;
      if (maxExponent > 0 && exponent > maxExponent) exponent = maxExponent;
      const penalty = this.multiplier * Math.pow(this.base, exponent);
      changes.set(id, (l) => l - penalty);
    }
    updateLogits(c, changes);
  }

  /**
   * How many tokens after position `at` complete a breaker whose head is t[at] (0 when t[at] contains
   * one; the longest when several do), or −1 when none does. `after` tokens follow it in the window.
   */
  private breakerAt(t: readonly number[], at: number, after: number): number {
    const head = t[at]!;
    let best = this.single[head] ? 0 : -1;
    for (const rest of this.tails.get(head) ?? []) {
      let spelled = '';
      for (let off = 1; off <= Math.min(after, MAX_TAIL_TOKENS); off++) {
        spelled += this.texts[t[at + off]!] ?? '';
        if (!rest.startsWith(spelled)) break;
        // The rest spelled out, or its first 20 tokens' worth (where llama.cpp cuts a long tail).
        if ((spelled === rest || off === MAX_TAIL_TOKENS) && off > best) best = off;
      }
    }
    return best;
  }
}

/** The longest prefix of s whose UTF-8 encoding fits in max bytes, without splitting a character. */
function truncateUtf8(s: string, max: number): string {
  let bytes = 0, out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes > max) break;
    out += ch;
  }
  return out;
}
