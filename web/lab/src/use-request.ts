import { useEffect, useState } from 'preact/hooks';

/** A request's state: what it answered, its error message, whether it is running. */
export interface Requested<T> { data?: T; error?: string; busy: boolean }

/**
 * Runs `request` whenever `deps` change (not at all while it is undefined), keeping only the latest
 * answer: a slow answer to an old question never overwrites a newer one.
 */
export function useRequest<T>(request: (() => Promise<T>) | undefined, deps: unknown[]): Requested<T> {
  const [state, setState] = useState<Requested<T>>({ busy: false });
  useEffect(() => {
    if (!request) return;
    let stale = false;
    setState((s) => ({ ...s, busy: true }));
    request().then(
      (data) => { if (!stale) setState({ data, busy: false }); },
      (e: Error) => { if (!stale) setState({ error: e.message, busy: false }); },
    );
    return () => { stale = true; };
  }, deps);
  return state;
}
