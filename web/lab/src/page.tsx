import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { readState, writeState, type Field, type StateOf } from './url-state';

// What every page of the lab starts with: its state kept in the URL, the served models, and the bar
// with the model picker and the prompt box.

/** The page's state, read from and written back to its query string, and a setter that merges. */
export function usePageState<S extends Record<string, Field>>(fields: S): [StateOf<S>, (patch: Partial<StateOf<S>>) => void] {
  const [state, setState] = useState(() => readState(fields));
  useEffect(() => writeState(fields, state), [state]);
  return [state, (patch) => setState((s) => ({ ...s, ...patch }))];
}

/** The served models; when the state names none (or one not served), `choose` is told the first. */
export function useModels(model: string, choose: (id: string) => void): { models: string[]; error?: string } {
  const [models, setModels] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    api.models().then((ids) => {
      setModels(ids);
      if (!model || !ids.includes(model)) choose(ids[0] ?? '');
    }, (e: Error) => setError(e.message));
  }, []);
  return { models, error };
}

/** The model picker and the prompt box; Enter (or Run) runs the prompt, Shift+Enter breaks the line. */
export function PromptBar({ models, model, prompt, onModel, onPrompt, children }: {
  models: string[]; model: string; prompt: string; onModel: (id: string) => void; onPrompt: (text: string) => void; children?: ComponentChildren;
}) {
  const [draft, setDraft] = useState(prompt);
  return (
    <section class="prompt" aria-label="prompt">
      <form onSubmit={(e) => { e.preventDefault(); onPrompt(draft); }}>
        <label>
          Model
          <select value={model} onChange={(e) => onModel((e.target as HTMLSelectElement).value)}>
            {models.map((m) => <option value={m}>{m}</option>)}
          </select>
        </label>
        <label class="grow">
          Prompt
          <textarea rows={2} value={draft} onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
            onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); onPrompt(draft); } }} />
        </label>
        <button type="submit">Run</button>
      </form>
      {children}
    </section>
  );
}
