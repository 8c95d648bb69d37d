import type { Candidates } from './candidates.js';
import type { Sampler } from './sampler.js';

/** How many of the most likely tokens Top-H looks at (Hugging Face's top_n = 100). */
const TOP_N = 100;

/**
 * Top-H (Potraghloo et al., "Top-H Decoding", NeurIPS 2025), as Hugging Face's TopHLogitsWarper
 * (src/transformers/generation/logits_process.py) computes it: take the 100 most likely tokens,
 * renormalize over them, and let τ = top_h · H be a fraction of their entropy (nats). Tokens are then
 * added in order of probability while the running entropy Σ −p ln p is at most τ; the most likely token
 * is always kept, and every token outside the 100 is removed. A zero probability ends the run (in HF
 * its term is NaN). Ties rank by lower token id (HF leaves the order of tied logits to torch.topk).
 * Wander also keeps at least min_keep tokens, as its other truncation stages do (HF keeps one).
 */
export class TopH implements Sampler {
  readonly name = 'top_h';
  readonly kind = 'warper';
  constructor(readonly topH: number, readonly minKeep = 1) {}
  apply(c: Candidates): void {
    if (this.topH <= 0) return;
    const n = Math.min(TOP_N, c.size);
    c.keepTop(Math.max(n, Math.min(this.minKeep, c.size)));
    const l = c.logits, max = l[0]!;
    const terms = new Float64Array(n);
    let z = 0;
    for (let i = 0; i < n; i++) z += (terms[i] = Math.exp(l[i]! - max));
    // −p ln p per token; the entropy is their sum, added in the same order as the running sum below,
    // so at top_h = 1 the running sum ends exactly at τ and all 100 are kept.
    let h = 0;
    for (let i = 0; i < n; i++) {
      const p = terms[i]! / z;
      terms[i] = p > 0 ? -p * Math.log(p) : NaN;
      if (p > 0) h += terms[i]!;
    }
    const tau = h * this.topH;
    let kept = 1, cum = terms[0]!;
    while (kept < n) {
      cum += terms[kept]!;
      if (!(cum <= tau)) break;
      kept++;
    }
    c.truncate(Math.max(kept, this.minKeep));
  }
}
