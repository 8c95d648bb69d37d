import { UserError } from '../errors.js';
import { editDistance } from '../experiments/metrics/edit-distance.js';
import type { ModelConfig } from '../model/config.js';
import { hookNames } from '../model/hooks.js';

/**
 * Choosing hook points by name: the hooks a model really fires, and glob patterns over them
 * (`blocks.*.hook_resid_post`, `blocks.3.attn.*`). `*` matches any run of characters within one
 * dot-separated segment and `?` one character; everything else is literal. Shared by every command
 * that reads or replaces activations, so a mistyped name gets the same message everywhere.
 */

/** The hook names this model fires, in forward order (GPT-2 has no rotary embedding; only Gemma 2/3 have post norms). */
export function modelHookNames(c: ModelConfig): string[] {
  return hookNames(c.nLayer, { rotary: c.family !== 'gpt2', postNorms: (c.gemma?.version ?? 1) >= 2 });
}

/** A glob pattern as a regular expression over whole hook names. */
export function hookPattern(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*').replace(/\?/g, '[^.]');
  return new RegExp(`^${body}$`);
}

/**
 * The hook names matching any of `patterns`, in forward order, each once. A pattern that matches
 * nothing is a UserError naming it and the closest real names. `flag` names the setting in messages.
 */
export function selectHooks(c: ModelConfig, patterns: readonly string[], flag = 'hooks'): string[] {
  const names = modelHookNames(c);
  const chosen = new Set<string>();
  for (const p of patterns) {
    const re = hookPattern(p);
    const hits = names.filter((n) => re.test(n));
    if (hits.length === 0) {
      const near = closeHookNames(names, p);
      const all = hookNames(c.nLayer, { postNorms: true });
      const rotary = c.family === 'gpt2' && all.some((n) => re.test(n) && /hook_rot_/.test(n)) ? ' (GPT-2 has no rotary embedding, so no hook_rot_q/hook_rot_k)'
        : all.some((n) => re.test(n) && /_post\.hook_in$/.test(n)) ? ' (only Gemma 2 and 3 have post norms, so ln1_post/ln2_post hooks)' : '';
      throw new UserError(`--${flag} ${JSON.stringify(p)} matches no hook point of this model (${c.nLayer} layers, ${c.family} family)${rotary}${near.length ? `; close: ${near.join(', ')}` : ''}`, flag);
    }
    for (const h of hits) chosen.add(h);
  }
  return names.filter((n) => chosen.has(n));
}

/**
 * Up to `max` suggestions for a pattern that matched nothing: the hook names (or, where the pattern has
 * wildcards, patterns) at the smallest edit distance from it, if that is small. Segments the pattern's own
 * wildcards already match are kept as the pattern wrote them, so `blocks.*.hook_resid` suggests
 * `blocks.*.hook_resid_pre`; a bare `hook_resid_post` suggests `blocks.*.hook_resid_post`, a pattern
 * that stops at a segment (`blocks.2.attn`) suggests finishing it with `.*`, and `blocks.0.hook_embed`
 * suggests `hook_embed`.
 */
export function closeHookNames(names: readonly string[], pattern: string, max = 5): string[] {
  const ps = pattern.split('.');
  const best = new Map<string, number>();
  for (const name of names) {
    const ns = name.split('.');
    let s = ns.length === ps.length ? ns.map((seg, i) => (hookPattern(ps[i]!).test(seg) ? ps[i]! : seg)).join('.') : name;
    let dist = editDistance(Array.from(s), Array.from(pattern));
    if (name.endsWith('.' + pattern)) [s, dist] = [name.replace(/^blocks\.\d+\./, 'blocks.*.'), 1];
    else if (name.startsWith(pattern + '.')) [s, dist] = [pattern + '.*', 1];
    else if (pattern.endsWith('.' + name)) [s, dist] = [name, 1];
    if (dist < (best.get(s) ?? Infinity)) best.set(s, dist);
  }
  // Only the nearest (and only if near at all): a typo has one obvious fix, not a list of everything.
  const nearest = Math.min(...best.values());
  if (nearest > Math.max(2, Math.floor(pattern.length / 4))) return [];
  return [...best].filter(([, d]) => d === nearest).slice(0, max).map(([s]) => s);
}

/** A hook's shape over all T positions (hooks.ts gives each chunk's). */
export function fullShape(c: ModelConfig, name: string, T: number): number[] {
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  const qHeads = [T, c.nHead, c.headDim], kvHeads = [T, c.nHeadKv, c.headDim];
  switch (leaf) {
    case 'hook_q': case 'hook_rot_q': case 'hook_z': return qHeads;
    case 'hook_k': case 'hook_rot_k': case 'hook_v': return kvHeads;
    case 'hook_pattern': return [c.nHead, T, T];
    case 'hook_post': return [T, c.nFf];
    case 'hook_logits': return [T, c.vocabSize];
    default: return [T, c.nEmbd];
  }
}

/** Values per position of a [pos, …] hook point (every hook but attn.hook_pattern). */
export function hookRowSize(c: ModelConfig, name: string): number {
  return fullShape(c, name, 1).reduce((a, b) => a * b, 1);
}
