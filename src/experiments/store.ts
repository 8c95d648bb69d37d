import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import type { Sample } from '../generate/report.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export interface StoreOptions {
  /** Open an existing database for reading only (reports). */
  readonly?: boolean;
  /** Cap the file at this many pages (tests use it to produce a "disk full" error on demand). */
  maxPageCount?: number;
}

/** A cell as the experiment file defines it. */
export interface PlannedCell {
  key: string;
  model_spec: string;
  model_label: string;
  prompt: string;
  prompt_label: string;
  chat: boolean;
  preset: string;
  settings: Record<string, unknown>;
  seeds: number[];
  samples: number;
}

export interface StoredCell extends PlannedCell {
  id: number;
  experiment: string;
  position: number;
  model_id: number | null;
  resolved: Record<string, unknown> | null;
}

export interface ModelRow {
  id: number;
  path: string;
  architecture: string;
  family: string;
  format: string;
  parameters: number;
  vocab_size: number;
  context_length: number;
}

export interface StoredSample {
  seed: number;
  sample_index: number;
  text: string;
  token_ids: number[];
  logprobs: number[];
  entropies: number[];
  sampled_entropies: number[];
  finish_reason: string;
  stop_sequence: string | null;
  error: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  prompt_ms: number;
  elapsed_ms: number;
}

/** A prompt's human continuation as one model reads it (see scoreContinuation). */
export interface StoredContinuation {
  model_spec: string;
  model_id: number | null;
  prompt: string;
  chat: boolean;
  text: string;
  token_ids: number[];
  logprobs: number[];
  entropies: number[];
  prompt_tokens: number;
}

export interface ExperimentRow {
  id: number;
  name: string;
  spec: string;
  file: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

/**
 * The results database (SQLite, WAL). Every sample is one row written in its own transaction, so a
 * crash at any moment leaves whole samples only, and everything committed before it.
 */
export class ResultsStore {
  private constructor(private readonly db: Database.Database, readonly path: string) {}

  static open(path: string, opts: StoreOptions = {}): ResultsStore {
    const full = resolve(path);
    if (existsSync(full) && statSync(full).isDirectory()) throw new UserError(`${path}: is a folder, not a database file`, 'db');
    if (opts.readonly && !existsSync(full)) throw new UserError(`${path}: no such results database (run wander sweep first)`, 'db');
    if (!opts.readonly) {
      const dir = dirname(full);
      if (!existsSync(dir)) throw new UserError(`${path}: cannot create the database: folder ${dir} does not exist`, 'db');
      if (!statSync(dir).isDirectory()) throw new UserError(`${path}: cannot create the database: ${dir} is not a folder`, 'db');
    }
    let db: Database.Database;
    try {
      db = new Database(full, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    } catch (e) {
      throw storeError(e, path, 'open');
    }
    try {
      db.pragma('busy_timeout = 10000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new UserError(`${path}: written by a newer Wander (results schema ${version}; this version reads up to ${SCHEMA_VERSION}); upgrade Wander or use another --db`, 'db');
      }
      if (!opts.readonly) {
        db.pragma('journal_mode = WAL');
        // WAL + NORMAL: a committed sample survives the process being killed (not a power cut mid-write).
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
        if (opts.maxPageCount !== undefined) db.pragma(`max_page_count = ${opts.maxPageCount}`);
        db.transaction(() => {
          for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }).immediate();
      } else if (version === 0) {
        throw new UserError(`${path}: not a Wander results database (no results schema)`, 'db');
      }
    } catch (e) {
      db.close();
      throw storeError(e, path, 'open');
    }
    return new ResultsStore(db, path);
  }

  close(): void {
    this.db.close();
  }

  /** Runs a write, turning SQLite's failures (disk full, read-only, locked) into one clear message. */
  private write<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw storeError(e, this.path, what);
    }
  }

  /**
   * Records the experiment as the file now defines it: its cells become the active ones (in file order);
   * cells no longer in the file are kept, inactive, with their samples.
   */
  syncExperiment(name: string, spec: unknown, file: string | undefined, cells: PlannedCell[]): StoredCell[] {
    const now = new Date().toISOString();
    return this.write('record the experiment', () => this.db.transaction(() => {
      this.db.prepare(`INSERT INTO experiments (name, spec, file, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, file = excluded.file, updated_at = excluded.updated_at`)
        .run(name, JSON.stringify(spec), file ?? null, now, now);
      const exp = this.db.prepare('SELECT id FROM experiments WHERE name = ?').get(name) as { id: number };
      this.db.prepare('UPDATE cells SET active = 0 WHERE experiment_id = ?').run(exp.id);
      const upsert = this.db.prepare(`INSERT INTO cells (experiment_id, key, active, position, model_spec, model_label, prompt, prompt_label, chat, preset, settings, seeds, samples)
        VALUES (@experiment_id, @key, 1, @position, @model_spec, @model_label, @prompt, @prompt_label, @chat, @preset, @settings, @seeds, @samples)
        ON CONFLICT (experiment_id, key) DO UPDATE SET active = 1, position = excluded.position, model_label = excluded.model_label,
          prompt_label = excluded.prompt_label, seeds = excluded.seeds, samples = excluded.samples`);
      cells.forEach((c, position) => upsert.run({
        ...c, experiment_id: exp.id, position, chat: c.chat ? 1 : 0, settings: JSON.stringify(c.settings), seeds: JSON.stringify(c.seeds),
      }));
      return this.cells(name);
    }).immediate());
  }

  experiments(): ExperimentRow[] {
    return this.db.prepare('SELECT * FROM experiments ORDER BY name').all() as ExperimentRow[];
  }

  experiment(name: string): ExperimentRow | undefined {
    return this.db.prepare('SELECT * FROM experiments WHERE name = ?').get(name) as ExperimentRow | undefined;
  }

  /** The experiment's active cells, in file order. */
  cells(experiment: string): StoredCell[] {
    const rows = this.db.prepare(`SELECT c.*, e.name AS experiment FROM cells c JOIN experiments e ON e.id = c.experiment_id
      WHERE e.name = ? AND c.active = 1 ORDER BY c.position`).all(experiment) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r['id'] as number, experiment: r['experiment'] as string, key: r['key'] as string, position: r['position'] as number,
      model_spec: r['model_spec'] as string, model_label: r['model_label'] as string, model_id: r['model_id'] as number | null,
      prompt: r['prompt'] as string, prompt_label: r['prompt_label'] as string, chat: r['chat'] === 1, preset: r['preset'] as string,
      settings: JSON.parse(r['settings'] as string) as Record<string, unknown>,
      resolved: r['resolved'] === null ? null : JSON.parse(r['resolved'] as string) as Record<string, unknown>,
      seeds: JSON.parse(r['seeds'] as string) as number[], samples: r['samples'] as number,
    }));
  }

  /** For each seed of the cell, the sample indices (below `samples`) not yet stored; error samples count as missing. */
  missing(cell: StoredCell): Map<number, number[]> {
    const have = new Set((this.db.prepare(`SELECT seed, sample_index FROM samples WHERE cell_id = ? AND finish_reason != 'error'`)
      .all(cell.id) as { seed: number; sample_index: number }[]).map((r) => `${r.seed}/${r.sample_index}`));
    const out = new Map<number, number[]>();
    for (const seed of cell.seeds) {
      const todo = Array.from({ length: cell.samples }, (_, i) => i).filter((i) => !have.has(`${seed}/${i}`));
      if (todo.length) out.set(seed, todo);
    }
    return out;
  }

  saveModel(m: Omit<ModelRow, 'id'>): number {
    return this.write('record the model', () => {
      this.db.prepare(`INSERT INTO models (path, architecture, family, format, parameters, vocab_size, context_length)
        VALUES (@path, @architecture, @family, @format, @parameters, @vocab_size, @context_length)
        ON CONFLICT (path) DO UPDATE SET architecture = excluded.architecture, family = excluded.family, format = excluded.format,
          parameters = excluded.parameters, vocab_size = excluded.vocab_size, context_length = excluded.context_length`).run(m);
      return (this.db.prepare('SELECT id FROM models WHERE path = ?').get(m.path) as { id: number }).id;
    });
  }

  model(id: number): ModelRow | undefined {
    return this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
  }

  /** Which model file a cell ran on, and the settings generate() resolved for it. */
  setCellModel(cellId: number, modelId: number, resolved: Record<string, unknown>): void {
    this.write('record the cell', () => this.db.prepare('UPDATE cells SET model_id = ?, resolved = ? WHERE id = ?').run(modelId, JSON.stringify(resolved), cellId));
  }

  /** Stores one finished sample (replacing an earlier failed attempt at the same index). One row, one transaction. */
  insertSample(cellId: number, seed: number, s: Sample, prompt: { tokens: number; ms: number }): void {
    this.write('store a sample', () => this.db.prepare(`INSERT OR REPLACE INTO samples (cell_id, seed, sample_index, text, token_ids, logprobs, entropies,
        sampled_entropies, finish_reason, stop_sequence, error, prompt_tokens, completion_tokens, prompt_ms, elapsed_ms, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      cellId, seed, s.index, s.text, JSON.stringify(s.token_ids), JSON.stringify(s.token_logprobs ?? []), JSON.stringify(s.token_entropy_bits ?? []),
      JSON.stringify(s.token_sampled_entropy_bits ?? []),
      s.finish_reason, s.stop_sequence ?? null, s.error ?? null, prompt.tokens, s.token_ids.length, prompt.ms, s.elapsed_ms ?? 0, new Date().toISOString(),
    ));
  }

  /** The cell's samples for its current seeds and sample count, by seed then index. */
  samples(cell: StoredCell): StoredSample[] {
    const seeds = new Set(cell.seeds);
    const rows = this.db.prepare('SELECT * FROM samples WHERE cell_id = ? AND sample_index < ? ORDER BY seed, sample_index').all(cell.id, cell.samples) as Record<string, unknown>[];
    return rows.filter((r) => seeds.has(r['seed'] as number)).map((r) => ({
      seed: r['seed'] as number, sample_index: r['sample_index'] as number, text: r['text'] as string,
      token_ids: JSON.parse(r['token_ids'] as string) as number[], logprobs: JSON.parse(r['logprobs'] as string) as number[],
      entropies: JSON.parse(r['entropies'] as string) as number[], sampled_entropies: JSON.parse(r['sampled_entropies'] as string) as number[],
      finish_reason: r['finish_reason'] as string,
      stop_sequence: r['stop_sequence'] as string | null, error: r['error'] as string | null,
      prompt_tokens: r['prompt_tokens'] as number, completion_tokens: r['completion_tokens'] as number,
      prompt_ms: r['prompt_ms'] as number, elapsed_ms: r['elapsed_ms'] as number,
    }));
  }

  /** --force: forget the samples of the experiment's active cells (and its scored continuations) so they are made again. */
  clearSamples(experiment: string): number {
    return this.write('clear the samples', () => this.db.transaction(() => {
      this.db.prepare('DELETE FROM continuations WHERE experiment_id IN (SELECT id FROM experiments WHERE name = ?)').run(experiment);
      return this.db.prepare(`DELETE FROM samples WHERE cell_id IN
        (SELECT c.id FROM cells c JOIN experiments e ON e.id = c.experiment_id WHERE e.name = ? AND c.active = 1)`).run(experiment).changes;
    })());
  }

  /** Stores a prompt's continuation as scored under one model (replacing an earlier score of the same texts). */
  saveContinuation(experiment: string, c: StoredContinuation): void {
    this.write('store a continuation', () => this.db.prepare(`INSERT OR REPLACE INTO continuations (experiment_id, model_spec, model_id, prompt, chat, text,
        token_ids, logprobs, entropies, prompt_tokens, created_at)
      VALUES ((SELECT id FROM experiments WHERE name = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      experiment, c.model_spec, c.model_id, c.prompt, c.chat ? 1 : 0, c.text, JSON.stringify(c.token_ids), JSON.stringify(c.logprobs),
      JSON.stringify(c.entropies), c.prompt_tokens, new Date().toISOString(),
    ));
  }

  /**
   * The experiment's scored continuations, every model's. A database from before they existed (opened
   * read-only, so not migrated) has none.
   */
  continuations(experiment: string): StoredContinuation[] {
    const table = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'continuations'`).get();
    if (!table) return [];
    const rows = this.db.prepare(`SELECT c.* FROM continuations c JOIN experiments e ON e.id = c.experiment_id WHERE e.name = ? ORDER BY c.id`)
      .all(experiment) as Record<string, unknown>[];
    return rows.map((r) => ({
      model_spec: r['model_spec'] as string, model_id: r['model_id'] as number | null, prompt: r['prompt'] as string, chat: r['chat'] === 1,
      text: r['text'] as string, token_ids: JSON.parse(r['token_ids'] as string) as number[], logprobs: JSON.parse(r['logprobs'] as string) as number[],
      entropies: JSON.parse(r['entropies'] as string) as number[], prompt_tokens: r['prompt_tokens'] as number,
    }));
  }

  setFinished(experiment: string, finished: boolean): void {
    this.write('record the experiment', () => this.db.prepare('UPDATE experiments SET finished_at = ? WHERE name = ?').run(finished ? new Date().toISOString() : null, experiment));
  }
}

/** SQLite's error codes, as what they mean for the person running a sweep. */
function storeError(e: unknown, path: string, what: string): Error {
  if (e instanceof UserError) return e;
  const code = (e as { code?: string }).code ?? '';
  const reason: Record<string, string> = {
    SQLITE_FULL: 'the disk is full (or the database reached its size limit); free some space and run again — every sample stored so far is kept',
    SQLITE_READONLY: 'the database is read-only (check the file\'s permissions)',
    SQLITE_CANTOPEN: 'the file cannot be opened or created (check the path and permissions)',
    SQLITE_NOTADB: 'the file is not an SQLite database',
    SQLITE_CORRUPT: 'the database file is damaged',
    SQLITE_BUSY: 'another process holds the database (is another sweep writing to it?)',
    SQLITE_PERM: 'permission denied',
    SQLITE_IOERR: 'an input/output error',
  };
  const known = Object.keys(reason).find((k) => code === k || code.startsWith(`${k}_`));
  if (known) return new UserError(`${path}: cannot ${what}: ${reason[known]}`, 'db');
  return e as Error;
}
