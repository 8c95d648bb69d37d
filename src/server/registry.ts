import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadModel, type Model } from '../model/load.js';
import { resolveModelSpec } from '../resolve/resolve.js';
import { HttpError } from './errors.js';

/** A model the server offers: its id (what requests name), the spec it came from, loaded on first use. */
interface Entry { id: string; spec: string; model?: Model; fingerprint?: string }

/**
 * The models given on the command line — and only those: a request names one by id, never a path, so
 * nothing a request sends makes the server read a file. The first is the default.
 */
export class ModelRegistry {
  private readonly entries: Entry[];

  /** `specs`: "SPEC" (id: its file or folder name, or the spec itself for ladder:/hf:/ollama:) or "NAME=SPEC". */
  constructor(specs: readonly string[], private readonly threads = 1, private readonly log: (line: string) => void = () => {}) {
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

  /** The model a request names (default: the first), loaded once. */
  async get(id?: string): Promise<{ id: string; model: Model; fingerprint: string }> {
    const e = id === undefined ? this.entries[0]! : this.entries.find((x) => x.id === id);
    if (!e) throw new HttpError(404, `model ${JSON.stringify(id)} is not served here (served: ${this.ids.join(', ')})`, 'model', 'model_not_found');
    if (!e.model) {
      const t0 = performance.now();
      const path = await resolveModelSpec(e.spec, { progress: false });
      e.model = loadModel(path, { threads: this.threads });
      e.fingerprint = fileHash(e.model.path);
      this.log(`loaded ${e.id} (${e.model.path}) in ${Math.round(performance.now() - t0)} ms`);
    }
    return { id: e.id, model: e.model, fingerprint: e.fingerprint! };
  }

  close(): void {
    for (const e of this.entries) e.model?.close();
  }
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
