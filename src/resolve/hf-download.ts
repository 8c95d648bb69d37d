import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { SingleBar } from 'cli-progress';
import { UserError } from '../errors.js';
import { repoFolder } from './hf-cache.js';

export interface DownloadOptions {
  cache: string;
  endpoint: string;
  revision?: string;
  /** Show a progress bar on stderr. */
  progress?: boolean;
  token?: string;
}

async function get(url: string, opts: DownloadOptions): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {}, redirect: 'follow' });
  } catch (e) {
    throw new UserError(`cannot reach ${new URL(url).origin} (${(e as Error).cause ?? (e as Error).message}); set HF_ENDPOINT or use a local path`, 'model');
  }
  return res;
}

/** The repository's file list (the hub's /api/models/<repo> "siblings"). */
export async function listRepoFiles(repo: string, opts: DownloadOptions): Promise<{ files: string[]; commit?: string }> {
  const res = await get(`${opts.endpoint}/api/models/${repo}/revision/${opts.revision ?? 'main'}`, opts);
  if (res.status === 404 || res.status === 401) throw new UserError(`hf:${repo}: repository not found on ${opts.endpoint} (HTTP ${res.status})`, 'model');
  if (!res.ok) throw new UserError(`hf:${repo}: listing files failed (HTTP ${res.status})`, 'model');
  const body = (await res.json()) as { sha?: string; siblings?: { rfilename: string }[] };
  return { files: (body.siblings ?? []).map((s) => s.rfilename), commit: body.sha };
}

/**
 * Downloads one file into the hub cache layout (blobs/ + snapshots/<commit>/<file> + refs/<revision>),
 * writing to a temporary file first so an interrupted download never leaves a truncated model behind.
 */
export async function downloadFile(repo: string, file: string, opts: DownloadOptions): Promise<string> {
  const revision = opts.revision ?? 'main';
  const url = `${opts.endpoint}/${repo}/resolve/${revision}/${file.split('/').map(encodeURIComponent).join('/')}`;
  const res = await get(url, opts);
  if (res.status === 404) throw new UserError(`hf:${repo}: file ${file} not found (HTTP 404)`, 'model');
  if (!res.ok || !res.body) throw new UserError(`hf:${repo}: download of ${file} failed (HTTP ${res.status})`, 'model');
  const commit = res.headers.get('x-repo-commit') ?? revision;
  if (!/^[\w.-]+$/.test(commit)) throw new UserError(`hf:${repo}: server sent an invalid commit id`, 'model');
  const etag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? `${commit}-${file}`).replace(/^W\//, '').replaceAll('"', '').replace(/[^\w.-]/g, '_');
  const dir = repoFolder(opts.cache, repo);
  const blob = join(dir, 'blobs', etag);
  const snapshotFile = join(dir, 'snapshots', commit, file);
  mkdirSync(dirname(blob), { recursive: true });
  mkdirSync(dirname(snapshotFile), { recursive: true });

  if (!existsSync(blob)) {
    const total = Number(res.headers.get('content-length') ?? 0);
    const bar = opts.progress && process.stderr.isTTY ? new SingleBar({ format: `${file} [{bar}] {percentage}% {value}/{total} MB`, stream: process.stderr }) : undefined;
    bar?.start(Math.max(1, Math.round(total / 1e6)), 0);
    if (opts.progress && !bar) process.stderr.write(`downloading ${repo}/${file}${total ? ` (${(total / 1e6).toFixed(1)} MB)` : ''}…\n`);
    const tmp = `${blob}.incomplete`;
    const out = createWriteStream(tmp);
    let got = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        got += chunk.length;
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        bar?.update(Math.round(got / 1e6));
      }
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    } catch (e) {
      out.destroy();
      rmSync(tmp, { force: true });
      bar?.stop();
      throw new UserError(`hf:${repo}: download of ${file} was interrupted (${(e as Error).message})`, 'model');
    }
    bar?.stop();
    if (total && got !== total) {
      rmSync(tmp, { force: true });
      throw new UserError(`hf:${repo}: download of ${file} is incomplete (${got} of ${total} bytes)`, 'model');
    }
    renameSync(tmp, blob);
  }
  if (!existsSync(snapshotFile)) {
    try {
      symlinkSync(relative(dirname(snapshotFile), blob), snapshotFile);
    } catch {
      copyFileSync(blob, snapshotFile); // file systems without symlinks
    }
  }
  mkdirSync(join(dir, 'refs'), { recursive: true });
  if (commit !== revision) writeFileSync(join(dir, 'refs', revision), commit);
  return snapshotFile;
}
