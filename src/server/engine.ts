import { Worker } from 'node:worker_threads';
import type { BackendInfo } from '../backends/capabilities.js';
import type { Run, Sample } from '../generate/report.js';
import type { KvType } from '../model/kv-cache.js';
import type { SettingsInput } from '../generate/settings.js';
import { HttpError } from './errors.js';

/** What the worker needs to start: the model and how to run it. */
export interface EngineSetup { spec: string; threads: number; maxBatchSize: number; kv?: KvType; context?: number }

/** What the HTTP thread knows about a loaded model. */
export interface EngineInfo {
  path: string; kernels: string; fingerprint: string; context_length: number; vocab_size: number;
  /** The KV cache's type (--kv). */
  kv_cache: 'f32' | 'f16';
  /** Set when another engine than Wander's runs the model (llama.cpp): who, and what it can do. */
  backend?: BackendInfo;
}

/** An error crossing from the worker: status, message and field as the HTTP answer will carry them. */
export interface WireError { status: number; message: string; param: string | null; code: string | null }

/** A generation's prompt: text, token ids, or chat messages to render with the model's template. */
export type EnginePrompt = string | number[] | { messages: { role: string; content: string }[] };

export type EngineRequest =
  | { op: 'generate'; id: number; prompt: EnginePrompt; settings: SettingsInput; stream: boolean; compareClean?: boolean; tokenStats?: boolean }
  | { op: 'call'; id: number; command: string; body: Record<string, unknown> }
  | { op: 'cancel'; id: number }
  | { op: 'close' };

export type EngineEvent =
  | { op: 'ready'; info: EngineInfo }
  | { op: 'failed'; message: string }
  | { op: 'stats'; batch: number; generated: number }
  | { op: 'started'; id: number; prompt?: string }
  | { op: 'text'; id: number; index: number; delta: string }
  | { op: 'sample'; id: number; sample: Sample }
  | { op: 'done'; id: number; result: unknown }
  | { op: 'error'; id: number; error: WireError };

/** Callbacks of one request: its start (with the prompt text), streamed text and finished samples. */
export interface Listener {
  onStart?: (prompt: string | undefined) => void;
  onText?: (delta: string, index: number) => void;
  onSample?: (sample: Sample) => void;
}

interface Pending extends Listener { resolve: (v: unknown) => void; reject: (e: Error) => void; started: boolean }

/**
 * One model, served from its own worker thread (engine-worker.ts): the HTTP thread sends requests and
 * receives events, and never runs the model itself. It also keeps the queue: at most `queue` requests
 * may wait for the engine at once; the next is refused with 503 and Retry-After.
 */
export class Engine {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private waiting = 0;
  private closed = false;
  private closing?: Promise<void>;
  info!: EngineInfo;
  /** As the worker last reported: sequences decoding, and tokens generated since start. */
  stats = { batch: 0, generated: 0 };

  private constructor(readonly id: string, setup: EngineSetup, private readonly queue: number) {
    this.worker = new Worker(new URL('./engine-worker.mjs', import.meta.url), { workerData: setup });
  }

  /** Starts the worker and loads the model; rejects with the loader's message. */
  static async start(id: string, setup: EngineSetup, queue: number): Promise<Engine> {
    const engine = new Engine(id, setup, queue);
    engine.info = await new Promise<EngineInfo>((resolve, reject) => {
      const first = (e: EngineEvent) => {
        engine.worker.off('message', first);
        if (e.op === 'ready') resolve(e.info);
        else reject(new Error(e.op === 'failed' ? e.message : `unexpected ${e.op} from the engine`));
      };
      engine.worker.on('message', first);
      engine.worker.once('error', reject);
    });
    engine.worker.on('message', (e: EngineEvent) => engine.event(e));
    engine.worker.on('error', (e) => engine.crashed(e));
    engine.worker.on('exit', () => engine.crashed(new Error('the engine stopped')));
    return engine;
  }

  /** Requests sent and not yet started. */
  get queued(): number {
    return this.waiting;
  }

  /** Requests in the engine: waiting or running. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Generates; resolves with the Run. Aborting the signal takes the request out of the batch. */
  generate(prompt: EnginePrompt, settings: SettingsInput, opts: Listener & { stream?: boolean; compareClean?: boolean; tokenStats?: boolean; signal?: AbortSignal } = {}): Promise<Run> {
    return this.send((id) => ({ op: 'generate', id, prompt, settings, stream: opts.stream ?? false, compareClean: opts.compareClean, tokenStats: opts.tokenStats }), opts, opts.signal) as Promise<Run>;
  }

  /** Runs one of Wander's commands (COMMANDS in commands.ts) on the request body. */
  call(command: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    return this.send((id) => ({ op: 'call', id, command, body }), {}, signal);
  }

  private send(make: (id: number) => EngineRequest, listener: Listener, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new HttpError(503, 'the server is shutting down', null, 'server_shutting_down'));
    if (this.waiting >= this.queue) {
      return Promise.reject(new HttpError(503, `model ${this.id} is busy: ${this.waiting} requests are waiting (the server's --queue); retry shortly`, null, 'server_busy', 1));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { ...listener, resolve, reject, started: false });
      this.waiting++;
      this.worker.postMessage(make(id));
      signal?.addEventListener('abort', () => this.cancel(id), { once: true });
    });
  }

  private cancel(id: number, why = new HttpError(499, 'the client went away', null, 'cancelled')): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.settle(id, p);
    this.worker.postMessage({ op: 'cancel', id } satisfies EngineRequest);
    p.reject(why);
  }

  private settle(id: number, p: Pending): void {
    if (!p.started) this.waiting--;
    this.pending.delete(id);
  }

  private event(e: EngineEvent): void {
    if (e.op === 'stats') this.stats = { batch: e.batch, generated: e.generated };
    if (!('id' in e)) return;
    const p = this.pending.get(e.id);
    if (!p) return; // cancelled
    switch (e.op) {
      case 'started':
        if (!p.started) { p.started = true; this.waiting--; }
        p.onStart?.(e.prompt);
        break;
      case 'text': p.onText?.(e.delta, e.index); break;
      case 'sample': p.onSample?.(e.sample); break;
      case 'done': this.settle(e.id, p); p.resolve(e.result); break;
      case 'error': this.settle(e.id, p); p.reject(new HttpError(e.error.status, e.error.message, e.error.param, e.error.code)); break;
    }
  }

  /** The worker died (a bug): every request in it fails with a 500, and new ones are refused. */
  private crashed(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) { this.settle(id, p); p.reject(err); }
  }

  /** Waits for the requests in flight (up to `graceMs`), then stops the worker. */
  close(graceMs = 10_000): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + graceMs;
    while (this.pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const [id] of this.pending) this.cancel(id, new HttpError(503, 'the server stopped before this request finished', null, 'server_shutting_down'));
    this.worker.postMessage({ op: 'close' } satisfies EngineRequest);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { void this.worker.terminate().then(() => resolve()); }, 2000);
      this.worker.once('exit', () => { clearTimeout(t); resolve(); });
    });
  }
}
