import { createHash } from 'node:crypto';
import type { ExperimentSpec } from './spec.js';
import type { PlannedCell } from './store.js';

/**
 * The experiment's cells, models first, then prompts, then presets (the order of the file). A cell's
 * key hashes everything that decides its samples, so editing a preset makes a new cell while changing
 * only the sample count or the seeds extends the one already stored.
 */
export function planCells(spec: ExperimentSpec): PlannedCell[] {
  const cells: PlannedCell[] = [];
  for (const m of spec.models) {
    for (const p of spec.prompts) {
      for (const preset of spec.presets) {
        const settings: Record<string, unknown> = { max_tokens: spec.max_tokens, ...(spec.stop.length ? { stop: spec.stop } : {}), ...preset.settings };
        const key = createHash('sha256').update(canonical({ model: m.spec, prompt: p.text, chat: p.chat, preset: preset.name, settings })).digest('hex').slice(0, 32);
        cells.push({
          key, model_spec: m.spec, model_label: m.label, prompt: p.text, prompt_label: p.label, chat: p.chat,
          preset: preset.name, settings, seeds: spec.seeds, samples: spec.samples,
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
