import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The Hugging Face hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hfHubCache(env: NodeJS.ProcessEnv = process.env): string {
  if (env['HF_HUB_CACHE']) return env['HF_HUB_CACHE'];
  const home = env['HF_HOME'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

export function hfEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env['HF_ENDPOINT'] ?? 'https://huggingface.co').replace(/\/+$/, '');
}

/** models--owner--repo, as the hub cache names a repository's folder. */
export function repoFolder(cache: string, repo: string): string {
  return join(cache, `models--${repo.replaceAll('/', '--')}`);
}

/** The snapshot folder the cache's refs/<revision> points at, if the repository is cached. */
export function cachedSnapshot(cache: string, repo: string, revision = 'main'): string | undefined {
  const dir = repoFolder(cache, repo);
  const ref = join(dir, 'refs', revision);
  const commit = existsSync(ref) ? readFileSync(ref, 'utf8').trim() : revision;
  const snap = join(dir, 'snapshots', commit);
  return existsSync(snap) ? snap : undefined;
}
