import { createHash } from 'node:crypto';
import type { SettingsInput } from '../generate/settings.js';
import type { ExperimentSpec } from './spec.js';
import type { PlannedCell } from './store.js';

/** Beam and contrastive search: one search per prompt and seed, its sequence stored as sample 0. */
export function isSearch(s: SettingsInput): boolean {
  return (s.num_beams ?? 1) > 1 || (s.penalty_alpha ?? 0) > 0;
}

/**
 * Whether a preset gives the same output for every seed and sample index: greedy (temperature 0), beam
 * search and contrastive search choose by score and draw nothing — unless something draws from the
 * seed: noise on the forward pass (keyed on the seed, and for sampling also on the sample index), XTC's
 * coin, or beam sampling (do_sample).
 */
export function isDeterministic(s: SettingsInput): boolean {
  if ((s.noise?.length ?? 0) > 0 || (s.xtc_probability ?? 0) > 0 || s.do_sample === true) return false;
  return isSearch(s) || s.temperature === 0;
}

/**
 * The experiment's cells, models first, then prompts, then presets (the order of the file). A cell's
 * key hashes everything that decides its samples, so editing a preset makes a new cell while changing
 * only the sample count or the seeds extends the one already stored. A deterministic preset's cell asks
 * for one sequence per prompt (the first seed's sample 0), whatever the file's samples and seeds: more
 * would be copies of it. A search that draws from the seed asks for one sequence per seed.
 */
export function planCells(spec: ExperimentSpec): PlannedCell[] {
  const cells: PlannedCell[] = [];
  for (const m of spec.models) {
    for (const p of spec.prompts) {
      for (const preset of spec.presets) {
        const settings: Record<string, unknown> = { max_tokens: spec.max_tokens, ...(spec.stop.length ? { stop: spec.stop } : {}), ...preset.settings };
        const key = createHash('sha256').update(canonical({ model: m.spec, prompt: p.text, chat: p.chat, preset: preset.name, settings })).digest('hex').slice(0, 32);
        // A deterministic preset runs once; a search that draws from the seed (beam sampling, noise) once per seed.
        const once = isDeterministic(preset.settings), search = isSearch(preset.settings);
        cells.push({
          key, model_spec: m.spec, model_label: m.label, prompt: p.text, prompt_label: p.label, chat: p.chat,
          preset: preset.name, settings, seeds: once ? [spec.seeds[0]!] : spec.seeds, samples: once || search ? 1 : spec.samples,
        });
      }
    }
  }
  return cells;
}

/** JSON with object keys sorted, so equal settings hash equally whatever order the file wrote them in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
