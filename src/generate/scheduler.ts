import { UserError } from '../errors.js';
import type { Hooks } from '../model/hooks.js';
import type { KvCache } from '../model/kv-cache.js';
import type { Model } from '../model/load.js';
import { CHUNK } from '../model/transformer.js';
import type { Generation, SampleState } from './generate.js';

/**
 * Continuous batching: every generation submitted to a scheduler is decoded together with the others,
 * step by step. One step
 *
 *   1. admits work: starts the prompt pass of waiting generations and gives free batch slots to their
 *      samples (the generation with the fewest running samples first, so a request for 64 samples does
 *      not shut out one for a single sample);
 *   2. lets every sample whose logits are fresh choose its next token (a finished sample frees its slot);
 *   3. runs one forward call over everything that has tokens to run: every sample's last token, and up
 *      to `prefillTokens` positions of prompts, so a long prompt is processed over several steps while
 *      the running samples keep decoding.
 *
 * Wander's kernels give a sequence the same logits alone or in any batch, and sample i draws from its
 * own stream (seed, i), so what a generation produces never depends on what else is running, on the
 * batch size or on when it joined. `generate()`, `generate --n`, sweeps and `wander serve` all decode
 * through this one scheduler.
 */
export class Scheduler {
  private readonly jobs: Generation[] = [];
  /** Prompt passes in progress: the shared prompt of a generation, before its samples start. */
  private readonly prompts = new Map<Generation, Sequence>();
  /** The running samples, in the order they were started. */
  private readonly running: Sequence[] = [];
  private readonly pool: CachePool;
  readonly maxBatchSize: number;
  private readonly prefillTokens: number;
  /** Tokens chosen so far, by every generation. */
  generated = 0;

  constructor(private readonly model: Model, opts: { maxBatchSize?: number; prefillTokens?: number } = {}) {
    this.maxBatchSize = opts.maxBatchSize ?? 8;
    this.prefillTokens = Math.max(1, Math.round((opts.prefillTokens ?? 4 * CHUNK) / CHUNK)) * CHUNK;
    this.pool = new CachePool(model);
  }

  /** Nothing left to do. */
  get idle(): boolean {
    return this.jobs.length === 0;
  }

  /** Samples decoding now. */
  get batchSize(): number {
    return this.running.length;
  }

  /** Adds a generation; it starts at the next step. */
  submit(job: Generation): void {
    this.jobs.push(job);
  }

  /** Removes a generation now (its client went away): its samples leave the batch and free their slots. */
  cancel(job: Generation): void {
    this.drop(job);
  }

  /** Runs steps until every submitted generation has finished. */
  runToEnd(): void {
    while (!this.idle) this.step();
  }

  /** One step: admit, choose tokens, run the forward pass. */
  step(): void {
    this.admit();
    this.choose();
    this.forward();
    for (const job of [...this.jobs]) if (job.finished) this.drop(job);
  }

  private admit(): void {
    // A generation whose prompt is running holds a slot for its first sample, so a slot that frees
    // while a prompt runs is not taken from under it; prompt passes start only for slots there will be,
    // which also bounds the caches held by waiting generations to the batch size.
    let reserved = this.jobs.filter((j) => j.state === 'prompt').length;
    for (const job of this.jobs) {
      if (this.running.length + reserved >= this.maxBatchSize) break;
      if (job.state !== 'queued') continue;
      const started = this.tryJob(job, () => {
        job.begin();
        // The prompt's cache is as long as a sample's, so the sample that starts last takes it over.
        this.prompts.set(job, { job, index: job.promptSample, cache: this.pool.acquire(job.capacity), feed: job.promptIds, fed: 0, logits: null });
        return true;
      });
      if (started) reserved++;
    }
    while (this.running.length + reserved < this.maxBatchSize) {
      let pick: Generation | undefined;
      for (const job of this.jobs) {
        if (job.state !== 'running' || job.pending.length === 0 || job.live >= job.maxLive) continue;
        if (!pick || job.live < pick.live) pick = job;
      }
      if (!pick) break;
      const job = pick;
      this.tryJob(job, () => {
        const index = job.pending.shift()!;
        const prompt = this.prompts.get(job)!;
        const own = job.perSample && index !== job.promptSample;
        let cache: KvCache;
        // With interventions that differ per sample, only the prompt's own sample continues its cache.
        if (!own && (job.perSample || job.pending.length === 0)) {
          cache = prompt.cache;
          this.prompts.delete(job);
        } else {
          cache = this.pool.acquire(job.capacity);
          if (own) cache.length = 0;
          else cache.copyFrom(prompt.cache, this.model.heap, job.promptIds.length);
        }
        if (job.pending.length === 0 && this.prompts.has(job)) {
          this.pool.release(prompt.cache);
          this.prompts.delete(job);
        }
        const seq: Sequence = {
          job, index, cache, feed: own ? job.promptIds : [], fed: 0, logits: own ? null : job.promptLogits, state: job.startSample(index),
        };
        this.running.push(seq);
      });
    }
  }

  /** Every running sample with fresh logits chooses its next token; finished ones leave the batch. */
  private choose(): void {
    for (const seq of [...this.running]) {
      if (seq.job.failed || !seq.logits || seq.fed < seq.feed.length) continue;
      const next = this.tryJob(seq.job, () => seq.job.choose(seq.state!, seq.logits!, seq.cache.length));
      if (seq.job.failed) continue;
      this.generated++;
      if (next === undefined) this.retire(seq);
      else {
        seq.feed = [next];
        seq.fed = 0;
        seq.logits = null;
      }
    }
  }

  /**
   * One forward call per group of sequences that share hooks: every generation without hooks runs in
   * the one shared group; a generation with hooks (interventions) runs in its own, its hooks told which
   * sample each sequence is.
   */
  private forward(): void {
    const work: { seq: Sequence; count: number }[] = [];
    for (const seq of this.running) if (seq.fed < seq.feed.length && seq.feed.length - seq.fed === 1) work.push({ seq, count: 1 });
    let budget = this.prefillTokens;
    const prefill = [...this.prompts.values(), ...this.running].filter((s) => s.feed.length - s.fed > 1 || (s.state === undefined && s.fed < s.feed.length));
    for (const seq of prefill) {
      if (budget <= 0) break;
      const count = Math.min(seq.feed.length - seq.fed, budget);
      work.push({ seq, count });
      budget -= count;
    }
    const groups = new Map<Hooks | undefined, { seq: Sequence; count: number }[]>();
    for (const w of work) {
      const key = w.seq.job.hooks;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(w);
    }
    const V = this.model.config.vocabSize;
    for (const [hooks, items] of groups) {
      let logits: Float32Array;
      try {
        if (hooks) items[0]!.seq.job.bind(items.map((w) => w.seq.index));
        logits = this.model.forwardMany(items.map((w) => w.seq.feed.slice(w.seq.fed, w.seq.fed + w.count)), items.map((w) => w.seq.cache), { hooks });
      } catch (e) {
        for (const { seq } of items) this.failSequence(seq, e);
        continue;
      }
      items.forEach(({ seq, count }, i) => {
        seq.fed += count;
        if (seq.fed < seq.feed.length) return;
        seq.logits = logits.subarray(i * V, (i + 1) * V);
        if (seq.state === undefined) this.tryJob(seq.job, () => seq.job.promptDone(seq.logits!));
      });
    }
  }

  /** A forward call failed: a prompt pass fails its whole generation, a sample ends with the error. */
  private failSequence(seq: Sequence, e: unknown): void {
    if (seq.job.failed || seq.job.finished) return;
    if (seq.state === undefined) {
      if (e instanceof UserError) seq.job.fail(e);
      else this.tryJob(seq.job, () => seq.job.promptFailed((e as Error).message));
    } else {
      this.tryJob(seq.job, () => seq.job.finishSample(seq.state!, 'error', (e as Error).message));
      this.retire(seq);
    }
  }

  /** A sample is done: its slot and cache are free. */
  private retire(seq: Sequence): void {
    const i = this.running.indexOf(seq);
    if (i >= 0) this.running.splice(i, 1);
    seq.job.live--;
    this.pool.release(seq.cache);
  }

  /**
   * Runs a generation's own code (its callbacks run inside): if it throws — the caller's callback
   * failed, or memory ran out — the generation fails and leaves; the others go on. Returns fn's result.
   */
  private tryJob<T>(job: Generation, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      job.fail(e);
      this.drop(job);
      return undefined;
    }
  }

  /** Takes a generation out: its sequences leave the batch and their caches go back to the pool. */
  private drop(job: Generation): void {
    const i = this.jobs.indexOf(job);
    if (i >= 0) this.jobs.splice(i, 1);
    const prompt = this.prompts.get(job);
    if (prompt) {
      this.pool.release(prompt.cache);
      this.prompts.delete(job);
    }
    for (const seq of this.running.filter((s) => s.job === job)) this.retire(seq);
  }
}

/** A sequence in the batch: a generation's prompt pass (no state) or one of its samples. */
interface Sequence {
  job: Generation;
  /** The sample this is (for a prompt pass: the sample whose hooks it runs with). */
  index: number;
  cache: KvCache;
  /** Tokens to run: a prompt, or the token just drawn. */
  feed: readonly number[];
  /** How many of `feed` have run. */
  fed: number;
  /** The logits after the last token run, until a token is chosen from them. */
  logits: Float32Array | null;
  /** The sample's state; absent for a prompt pass. */
  state?: SampleState;
}

/**
 * KV caches kept for reuse: the heap cannot free piecemeal, so a finished sample's cache goes back here
 * and the next sample of a similar length takes it. Capacities are rounded up to a power of two (at
 * least one chunk, at most the context), so a long-running server holds at most about twice the caches
 * its busiest moment needed.
 */
class CachePool {
  private readonly free = new Map<number, KvCache[]>();

  constructor(private readonly model: Model) {}

  acquire(positions: number): KvCache {
    const ctx = this.model.config.contextLength;
    const capacity = Math.min(ctx, Math.max(CHUNK, 2 ** Math.ceil(Math.log2(Math.max(1, positions)))));
    const cache = this.free.get(capacity)?.pop() ?? this.model.newCache(capacity);
    cache.length = 0;
    return cache;
  }

  release(cache: KvCache): void {
    const list = this.free.get(cache.capacity) ?? [];
    list.push(cache);
    this.free.set(cache.capacity, list);
  }
}
