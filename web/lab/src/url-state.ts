// A page's state lives in its query string, so any view can be shared and reloaded: each field has a
// kind and a default, and only fields that differ from their default are written.

export type Field =
  | { kind: 'string'; default: string }
  | { kind: 'number'; default: number }
  | { kind: 'ids'; default: number[] };

type Value<F extends Field> = F['default'];
export type StateOf<S extends Record<string, Field>> = { [K in keyof S]: Value<S[K]> };

export function readState<S extends Record<string, Field>>(fields: S, search = location.search): StateOf<S> {
  const q = new URLSearchParams(search);
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(fields)) {
    const raw = q.get(name);
    if (raw === null) out[name] = f.default;
    else if (f.kind === 'number') out[name] = Number.isFinite(Number(raw)) ? Number(raw) : f.default;
    else if (f.kind === 'ids') out[name] = raw === '' ? [] : raw.split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 0);
    else out[name] = raw;
  }
  return out as StateOf<S>;
}

export function writeState<S extends Record<string, Field>>(fields: S, state: StateOf<S>): void {
  const q = new URLSearchParams();
  for (const [name, f] of Object.entries(fields)) {
    const v = state[name];
    if (JSON.stringify(v) === JSON.stringify(f.default)) continue;
    q.set(name, Array.isArray(v) ? v.join(',') : String(v));
  }
  const url = `${location.pathname}${q.size ? `?${q}` : ''}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, '', url);
}
