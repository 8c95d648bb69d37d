import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { EMBEDDED_MODELS } from './embedded.js';
import { cachedSnapshot, hfHubCache } from './hf-cache.js';
import { findOllamaModel, ollamaStore } from './ollama.js';
import { isCompleteFolder } from './resolve.js';

/** A model Wander can load without the network, with the --model spec that names it. */
export interface ListedModel {
  spec: string;
  source: 'embedded' | 'hf-cache' | 'ollama';
  path: string;
  /** Bytes of the weights file(s). */
  bytes: number;
  about?: string;
}

export interface ModelListing {
  models: ListedModel[];
  /** Where Wander looked, so an empty list says why. */
  places: { hf_cache: string; ollama_store: string };
}

/** Every model Wander can see: the embedded ones, the Hugging Face cache, the Ollama store. */
export function listModels(env: NodeJS.ProcessEnv = process.env): ModelListing {
  const cache = hfHubCache(env), store = ollamaStore(env);
  const embedded = EMBEDDED_MODELS.filter((m) => existsSync(m.path))
    .map((m): ListedModel => ({ spec: m.name, source: 'embedded', path: m.path, bytes: size(m.path), about: m.about }));
  return { models: [...embedded, ...hfCacheModels(cache), ...ollamaModels(store)], places: { hf_cache: cache, ollama_store: store } };
}

/** models--owner--repo folders whose main snapshot is a complete model folder (hf:owner/repo) or holds .gguf files. */
function hfCacheModels(cache: string): ListedModel[] {
  const out: ListedModel[] = [];
  for (const dir of entries(cache).filter((d) => d.startsWith('models--')).sort()) {
    const repo = dir.slice('models--'.length).replace('--', '/');
    const snap = cachedSnapshot(cache, repo);
    if (!snap) continue;
    const files = walk(snap).map((f) => relative(snap, f).split(sep).join('/'));
    const weights = files.filter((f) => /^model(-\d+-of-\d+)?\.safetensors$/.test(f));
    if (isCompleteFolder(snap)) {
      out.push({ spec: `hf:${repo}`, source: 'hf-cache', path: snap, bytes: weights.reduce((n, f) => n + size(join(snap, f)), 0), about: 'Hugging Face model folder' });
    }
    for (const f of files.filter((f) => f.endsWith('.gguf'))) {
      out.push({ spec: `hf:${repo}/${f}`, source: 'hf-cache', path: join(snap, f), bytes: size(join(snap, f)), about: 'GGUF' });
    }
  }
  return out;
}

/** Manifests under manifests/<registry>/<namespace>/<name>/<tag> whose model blob is present. */
function ollamaModels(store: string): ListedModel[] {
  const root = join(store, 'manifests');
  const out: ListedModel[] = [];
  for (const manifest of walk(root).sort()) {
    const parts = relative(root, manifest).split(sep);
    if (parts.length < 4) continue;
    const tag = parts.pop()!;
    const name = parts[0] === 'registry.ollama.ai' ? (parts[1] === 'library' ? parts.slice(2) : parts.slice(1)).join('/') : parts.join('/');
    let blob: string | undefined;
    try {
      blob = findOllamaModel(`${name}:${tag}`, store);
    } catch {
      continue; // a broken manifest is not a model to offer; naming it with --model explains what is wrong
    }
    if (blob) out.push({ spec: `ollama:${name}:${tag}`, source: 'ollama', path: blob, bytes: size(blob), about: 'GGUF in the Ollama store' });
  }
  return out;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Files below dir (following the cache's symlinks to blobs), at most a few levels deep. */
function walk(dir: string, depth = 6): string[] {
  if (depth === 0) return [];
  return entries(dir).flatMap((e) => {
    const p = join(dir, e);
    let st;
    try {
      st = statSync(p);
    } catch {
      return [];
    }
    return st.isDirectory() ? walk(p, depth - 1) : [p];
  });
}

function size(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
