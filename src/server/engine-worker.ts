import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { isUserError } from '../errors.js';
import { chatPrompt, type ChatMessage } from '../generate/chat.js';
import { generate, Generation, prepareRequest } from '../generate/generate.js';
import { Scheduler } from '../generate/scheduler.js';
import { loadModel, type Model } from '../model/load.js';
import { resolveModelSpec } from '../resolve/resolve.js';
import { COMMANDS } from './commands.js';
import { LlamaCppServing } from './llama-engine.js';
import { fieldMessage, HttpError } from './errors.js';
import type { EngineEvent, EngineRequest, EngineSetup, WireError } from './engine.js';
import type { Sample } from '../generate/report.js';

/**
 * The engine's worker thread: one model, its continuous-batching scheduler, and Wander's commands.
 * A forward pass blocks the thread it runs on, so it runs here, and the HTTP thread stays free to
 * answer /health, refuse work with 503 and notice clients that leave. The loop alternates one queued
 * command with one decoding step, and yields to the message queue between them, so a cancel takes
 * effect at the next step.
 */

const setup = workerData as EngineSetup;
const port = parentPort!;
const post = (e: EngineEvent) => port.postMessage(e);

let model: Model;
let scheduler: Scheduler;
/** A model llama.cpp runs (`llama.cpp:` specs) instead of Wander's engine: no scheduler, no hook points. */
let llama: LlamaCppServing | undefined;
/** Generations in the scheduler, by request id, and whether their start was reported. */
const generations = new Map<number, { job: Generation; started: boolean; then?: () => void }>();
/** Commands waiting to run, first come first served. */
const calls: Extract<EngineRequest, { op: 'call' }>[] = [];
/**
 * Beam and contrastive searches waiting to run. A search decodes its beams (or look-aheads) as one
 * batch of its own, step after step until it ends, so it cannot join the scheduler's batch: each runs
 * whole between two scheduler steps, like a command, and the samples decoding meanwhile wait for it.
 * A waiting search is cancelled when its client leaves; a running one finishes (its answer is dropped).
 */
const searches: { id: number; run: () => void }[] = [];
let scheduled = false;
/** The batch size and token count last posted. */
let reported = { batch: 0, generated: 0 };

async function start(): Promise<void> {
  try {
    if (setup.spec.startsWith('llama.cpp:')) {
      const { LlamaCppModel } = await import('../backends/llama-cpp.js');
      const m = await LlamaCppModel.open(setup.spec, { threads: setup.threads, kv: setup.kv, context: setup.context });
      llama = new LlamaCppServing(m, setup.maxBatchSize, post, wireError);
      post({
        op: 'ready', info: {
          path: m.path, kernels: 'llama.cpp', fingerprint: fileHash(m.path), kv_cache: m.kvType, context_length: m.config.contextLength, vocab_size: m.config.vocabSize, backend: m.info,
        },
      });
      return;
    }
    const path = await resolveModelSpec(setup.spec, { progress: false });
    model = loadModel(path, { threads: setup.threads, kv: setup.kv, context: setup.context });
    scheduler = new Scheduler(model, { maxBatchSize: setup.maxBatchSize });
    post({
      op: 'ready', info: {
        path: model.path, kernels: model.kernels, fingerprint: fileHash(model.path), kv_cache: model.kvType, context_length: model.config.contextLength, vocab_size: model.config.vocabSize,
      },
    });
  } catch (e) {
    post({ op: 'failed', message: (e as Error).message });
  }
}

port.on('message', (m: EngineRequest) => {
  if (llama) {
    switch (m.op) {
      case 'generate': llama.submit(m); break;
      case 'call': void llama.call(m); break;
      case 'cancel': llama.cancel(m.id); break;
      case 'close': void llama.model.close().finally(() => port.close()); break;
    }
    return;
  }
  switch (m.op) {
    case 'generate': submit(m); break;
    case 'call': calls.push(m); break;
    case 'cancel': cancel(m.id); break;
    case 'close':
      model?.close();
      port.close();
      return;
  }
  kick();
});

function kick(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(loop);
}

function loop(): void {
  scheduled = false;
  const call = calls.shift();
  if (call) runCall(call);
  searches.shift()?.run();
  if (!scheduler.idle) {
    scheduler.step();
    report();
  }
  const stats = { batch: scheduler.batchSize, generated: scheduler.generated };
  if (stats.batch !== reported.batch || stats.generated !== reported.generated) post({ op: 'stats', ...(reported = stats) });
  if (calls.length > 0 || searches.length > 0 || !scheduler.idle) kick();
}

function runCall(m: Extract<EngineRequest, { op: 'call' }>): void {
  post({ op: 'started', id: m.id });
  try {
    const command = COMMANDS[m.command];
    if (!command) throw new HttpError(404, `no command ${m.command}`);
    post({ op: 'done', id: m.id, result: command(model, m.body) });
  } catch (e) {
    post({ op: 'error', id: m.id, error: wireError(e) });
  }
}

/** A generation request: checked now (so a bad one fails at once), then decoded with the others. */
function submit(m: Extract<EngineRequest, { op: 'generate' }>): void {
  const settings = m.settings;
  try {
    const prompt = typeof m.prompt === 'object' && !Array.isArray(m.prompt) ? chatPrompt(model, m.prompt.messages as ChatMessage[]) : m.prompt;
    const tokenStats = m.tokenStats ?? false;
    if ((settings.num_beams ?? 1) > 1 || (settings.penalty_alpha ?? 0) > 0) {
      // Checked now, as a sampling request is, so a bad one fails before it waits its turn.
      prepareRequest(model, prompt, settings);
      const stream = m.stream ? { onText: (delta: string, index: number) => post({ op: 'text', id: m.id, index, delta }), onSample: (sample: Sample) => post({ op: 'sample', id: m.id, sample }) } : {};
      searches.push({ id: m.id, run: () => {
        try {
          const run = generate(model, prompt, settings, {
            tokenStats, compareClean: m.compareClean, ...stream,
            onStart: (ids) => post({ op: 'started', id: m.id, prompt: typeof prompt === 'string' ? prompt : model.tokenizer.decode(ids) }),
          });
          post({ op: 'done', id: m.id, result: run });
        } catch (e) {
          post({ op: 'error', id: m.id, error: wireError(e) });
        }
      } });
      kick();
      return;
    }
    const job = new Generation(model, prompt, settings, m.stream ? {
      tokenStats, onText: (delta, index) => post({ op: 'text', id: m.id, index, delta }), onSample: (sample) => post({ op: 'sample', id: m.id, sample }),
    } : { tokenStats });
    const entry: { job: Generation; started: boolean; then?: () => void } = { job, started: false };
    // With interventions, /api/generate also reports the same samples without them.
    if (m.compareClean && job.intervened) {
      entry.then = () => {
        const run = job.report();
        let clean: Generation;
        try {
          clean = new Generation(model, prompt, { ...settings, seed: job.settings.seed, ablate: [], noise: [], patch_from: [] }, { tokenStats });
        } catch (e) {
          post({ op: 'error', id: m.id, error: wireError(e) });
          return;
        }
        generations.set(m.id, { job: clean, started: true, then: () => {
          run.clean = clean.report();
          run.clean.settings.sources.seed = run.settings.sources.seed;
          post({ op: 'done', id: m.id, result: run });
        } });
        scheduler.submit(clean);
      };
    }
    generations.set(m.id, entry);
    scheduler.submit(job);
  } catch (e) {
    post({ op: 'error', id: m.id, error: wireError(e) });
  }
}

/** After a step: report generations that started, finished or failed. */
function report(): void {
  for (const [id, g] of generations) {
    if (!g.started && g.job.state !== 'queued') {
      g.started = true;
      post({ op: 'started', id, prompt: g.job.promptText });
    }
    if (!g.job.finished) continue;
    generations.delete(id);
    if (g.job.failed) post({ op: 'error', id, error: wireError(g.job.error) });
    else if (g.then) g.then();
    else post({ op: 'done', id, result: g.job.report() });
  }
}

function cancel(id: number): void {
  const i = calls.findIndex((c) => c.id === id);
  if (i >= 0) calls.splice(i, 1);
  const j = searches.findIndex((c) => c.id === id);
  if (j >= 0) searches.splice(j, 1);
  const g = generations.get(id);
  if (g) {
    scheduler.cancel(g.job);
    generations.delete(id);
  }
}

/** An error as it crosses to the HTTP thread: a person's mistake keeps its status and field. */
function wireError(e: unknown): WireError {
  if (e instanceof HttpError) return { status: e.status, message: e.message, param: e.param, code: e.code };
  if (isUserError(e)) return { status: 400, message: fieldMessage(e.message), param: e.field ?? null, code: null };
  return { status: 500, message: (e as Error)?.message ?? String(e), param: null, code: null };
}

/** The first 12 hex digits of the SHA-256 of a model file (of a folder's config.json and weights). */
function fileHash(path: string): string {
  const h = createHash('sha256');
  const files = statSync(path).isDirectory() ? ['config.json', 'model.safetensors', 'model.safetensors.index.json'].map((f) => join(path, f)) : [path];
  const buf = Buffer.alloc(1 << 20);
  for (const f of files) {
    let fd: number;
    try {
      fd = openSync(f, 'r');
    } catch {
      continue;
    }
    try {
      for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex').slice(0, 12);
}

void start();
