import { basename } from 'node:path';
import type { KvType } from '../model/kv-cache.js';
import { Engine } from './engine.js';
import { HttpError } from './errors.js';

export interface RegistryOptions {
  /** Matmul threads per model. */
  threads?: number;
  /** Every model's KV cache type and context cap (--kv, --context). */
  kv?: KvType;
  context?: number;
  /** Sequences decoded together per model. */
  maxBatchSize?: number;
  /** Requests that may wait per model before the next is refused with 503. */
  queue?: number;
  log?: (line: string) => void;
}

/**
 * The models given on the command line — and only those: a request names one by id, never a path, so
 * nothing a request sends makes the server read a file. The first is the default. Each runs in its own
 * engine (a worker thread with its own queue and batch).
 */
export class ModelRegistry {
  private readonly entries: { id: string; spec: string; engine?: Engine }[];

  /** `specs`: "SPEC" (id: its file or folder name, or the spec itself for ladder:/hf:/ollama:) or "NAME=SPEC". */
  constructor(specs: readonly string[], private readonly opts: RegistryOptions = {}) {
    this.entries = specs.map((s) => {
      const eq = /^([\w.-]+)=(.+)$/.exec(s);
      if (eq) return { id: eq[1]!, spec: eq[2]! };
      return { id: /^(ladder|hf|ollama):/.test(s) ? s : basename(s.replace(/\/+$/, '')), spec: s };
    });
    const ids = this.entries.map((e) => e.id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup) throw new Error(`two models are named ${dup}: name them with --model NAME=SPEC`);
  }

  get ids(): string[] {
    return this.entries.map((e) => e.id);
  }

  /** Starts every model's engine, one after the other, with a line for each. */
  async start(): Promise<void> {
    const { threads = 1, maxBatchSize = 16, queue = 64, kv, context, log = () => {} } = this.opts;
    for (const e of this.entries) {
      const t0 = performance.now();
      log(`loading ${e.id}…`);
      e.engine = await Engine.start(e.id, { spec: e.spec, threads, maxBatchSize, kv, context }, queue);
      const by = e.engine.info.backend;
      log(`loaded ${e.id} (${e.engine.info.path}) in ${Math.round(performance.now() - t0)} ms${by ? ` — run by ${by.version ?? by.kind}, not batch-invariant: a sample may differ in its last bits with what it is batched with` : ''}`);
    }
  }

  /** The engine of the model a request names (default: the first). */
  get(id?: string): Engine {
    const e = id === undefined ? this.entries[0]! : this.entries.find((x) => x.id === id);
    if (!e) throw new HttpError(404, `model ${JSON.stringify(id)} is not served here (served: ${this.ids.join(', ')})`, 'model', 'model_not_found');
    if (!e.engine) throw new HttpError(503, `model ${e.id} is still loading`, 'model', 'model_loading', 5);
    return e.engine;
  }

  /**
   * Each model's queue, for /health: requests running and waiting, sequences in the batch and tokens
   * generated since start (as the engine last reported them).
   */
  status(): { id: string; backend: string; batch_invariant: boolean; running: number; waiting: number; batch: number; generated_tokens: number }[] {
    return this.entries.map(({ id, engine }) => ({
      id, backend: engine?.info.backend?.kind ?? 'wander', batch_invariant: engine?.info.backend?.capabilities.batch_invariant ?? true,
      running: engine ? engine.inFlight - engine.queued : 0, waiting: engine?.queued ?? 0, batch: engine?.stats.batch ?? 0, generated_tokens: engine?.stats.generated ?? 0,
    }));
  }

  /** Lets in-flight requests finish (up to graceMs), then stops every engine. */
  async close(graceMs?: number): Promise<void> {
    await Promise.all(this.entries.map((e) => e.engine?.close(graceMs)));
  }
}
