import { endLoop } from './end-loop.js';
import { selfBleu } from './self-bleu.js';
import { zipfCoefficient } from './zipf.js';

/** One text of a Table 1 row: a decoder's generation for one prompt, or a prompt's human continuation. */
export interface DegenerationText {
  /** Model token ids (a generation's EOS included, as the paper's token lists include it). */
  token_ids: readonly number[];
  /** Natural-log probability of each token under the model, teacher-forced at temperature 1; null when unknown. */
  logprobs: readonly number[] | null;
  /** The last token is the model's end-of-text token. */
  ends_with_eos: boolean;
}

/** The columns of Holtzman et al. (2020)'s Table 1 for one set of texts, one per prompt. */
export interface DegenerationMetrics {
  /** Texts pooled (one per prompt). */
  texts: number;
  tokens: number;
  /** exp(−mean logprob) over every token of every text, pooled as the paper's metrics/perplexity.py pools; null when a text's logprobs are unknown. */
  perplexity: number | null;
  /** Self-BLEU-4 on model tokens: each text against all the others (other prompts' texts) as references. */
  self_bleu4: number | null;
  /** Zipf coefficient of the pooled model tokens (top 5,000 ranks, as the paper fits). */
  zipf: number | null;
  /** Texts that end in a loop (a phrase of ≥ 2 tokens repeated ≥ 3 times at the end), and their percentage. */
  repeating: number;
  repetition_percent: number | null;
}

/** The paper fits the Zipf line to the 5,000 most frequent tokens. */
export const ZIPF_RANKS = 5000;

/**
 * Table 1's measures over a set of texts written for different prompts (one each): the paper pools a
 * decoder's generations over its contexts, so Self-BLEU here compares the texts of different prompts,
 * not several samples of one. The end-of-text token is left out of the repetition test only (a loop
 * cut by EOS still ends in that loop), as the authors' code pops it.
 */
export function degenerationMetrics(texts: readonly DegenerationText[]): DegenerationMetrics {
  const ids = texts.map((t) => t.token_ids);
  let nll = 0, counted = 0;
  const known = texts.every((t) => t.logprobs !== null && t.logprobs.length === t.token_ids.length);
  if (known) for (const t of texts) for (const lp of t.logprobs!) { nll -= lp; counted++; }
  const bodies = texts.map((t) => (t.ends_with_eos ? t.token_ids.slice(0, -1) : t.token_ids));
  const repeating = bodies.filter((b) => endLoop(b) !== null).length;
  return {
    texts: texts.length,
    tokens: ids.reduce((n, x) => n + x.length, 0),
    perplexity: known && counted > 0 ? Math.exp(nll / counted) : null,
    self_bleu4: selfBleu(ids.map((x) => x.map(String)), 4),
    zipf: zipfCoefficient(ids, ZIPF_RANKS),
    repeating,
    repetition_percent: texts.length ? (100 * repeating) / texts.length : null,
  };
}
