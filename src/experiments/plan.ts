import { createHash } from 'node:crypto';
import type { SettingsInput } from '../generate/settings.js';
import type { ExperimentSpec } from './spec.js';
import type { PlannedCell } from './store.js';

/**
 * Whether a preset gives the same output for every seed and sample index: greedy (temperature 0), beam
 * search (num_beams > 1) and contrastive search (penalty_alpha > 0) choose by score and draw nothing.
 * Greedy with noise on the forward pass or with XTC is not: both draw from the sample's own stream. The
 * searches run every sequence as sample 0, so their noise is the same for every index.
 */
export function isDeterministic(s: SettingsInput): boolean {
  if ((s.num_beams ?? 1) > 1 || (s.penalty_alpha ?? 0) > 0) return true;
  if ((s.noise?.length ?? 0) > 0 || (s.xtc_probability ?? 0) > 0) return false;
  return s.temperature === 0;
}

/**
 * The experiment's cells, models first, then prompts, then presets (the order of the file). A cell's
 * key hashes everything that decides its samples, so editing a preset makes a new cell while changing
 * only the sample count or the seeds extends the one already stored. A deterministic preset's cell asks
 * for one sequence per prompt (the first seed's sample 0), whatever the file's samples and seeds: more
 * would be copies of it, and beam and contrastive search return one sequence per prompt anyway.
 */
export function planCells(spec: ExperimentSpec): PlannedCell[] {
  const cells: PlannedCell[] = [];
  for (const m of spec.models) {
    for (const p of spec.prompts) {
      for (const preset of spec.presets) {
        const settings: Record<string, unknown> = { max_tokens: spec.max_tokens, ...(spec.stop.length ? { stop: spec.stop } : {}), ...preset.settings };
        const key = createHash('sha256').update(canonical({ model: m.spec, prompt: p.text, chat: p.chat, preset: preset.name, settings })).digest('hex').slice(0, 32);
        const once = isDeterministic(preset.settings);
        cells.push({
          key, model_spec: m.spec, model_label: m.label, prompt: p.text, prompt_label: p.label, chat: p.chat,
          preset: preset.name, settings, seeds: once ? [spec.seeds[0]!] : spec.seeds, samples: once ? 1 : spec.samples,
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
