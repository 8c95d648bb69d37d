import { parseExperiment } from '../../src/experiments/spec.js';
import { ResultsStore } from '../../src/experiments/store.js';
import { runSweep } from '../../src/experiments/sweep.js';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';

/** A chat template for stories260K (which has none): the tests add it with `withChatTemplate`. */
export const CHAT_TEMPLATE = "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

/**
 * One greedy chat cell ("Tell me a story", 2 samples, 12 tokens) on Wander's engine for `file` beside
 * the same cell on `other` (another engine's spec for the same weights): each cell's stored settings and
 * sample token ids.
 */
export async function chatSweepBeside(file: string, other: string): Promise<Record<'wander' | 'other', { resolved: Record<string, unknown>; token_ids: number[][] }>> {
  const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
  try {
    await runSweep(parseExperiment(`name: chat
models: [{ model: ${JSON.stringify(file)}, label: wander }, { model: ${JSON.stringify(other)}, label: other }]
prompts: [{ label: story, text: "Tell me a story", chat: true }]
presets: { greedy: { temperature: 0 } }
samples: 2
max_tokens: 12
`), store, { threads: 1 });
    const cell = (label: string) => {
      const c = store.cells('chat').find((x) => x.model_label === label)!;
      return { resolved: c.resolved!, token_ids: store.samples(c).map((s) => s.token_ids) };
    };
    return { wander: cell('wander'), other: cell('other') };
  } finally {
    store.close();
  }
}
