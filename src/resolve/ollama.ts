import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';

/** The Ollama model store: $OLLAMA_MODELS, else ~/.ollama/models. */
export function ollamaStore(env: NodeJS.ProcessEnv = process.env): string {
  return env['OLLAMA_MODELS'] ?? join(homedir(), '.ollama', 'models');
}

/**
 * The GGUF blob of a model in the Ollama store, found through its manifest. `name` is as Ollama takes
 * it: "llama3.2:1b", "library/qwen2:0.5b", or "hf.co/owner/repo:tag". Undefined when not in the store.
 */
export function findOllamaModel(name: string, store = ollamaStore()): string | undefined {
  const [path, tag = 'latest'] = splitTag(name);
  const parts = path.split('/');
  const full = parts.length === 1 ? ['registry.ollama.ai', 'library', ...parts] : parts.length === 2 ? ['registry.ollama.ai', ...parts] : parts;
  const manifest = join(store, 'manifests', ...full, tag);
  if (!existsSync(manifest)) return undefined;
  let layers: { mediaType?: string; digest?: string }[];
  try {
    layers = (JSON.parse(readFileSync(manifest, 'utf8')) as { layers?: typeof layers }).layers ?? [];
  } catch {
    throw new UserError(`${manifest}: Ollama manifest is not valid JSON`, 'model');
  }
  const model = layers.find((l) => l.mediaType === 'application/vnd.ollama.image.model');
  if (!model?.digest || !/^sha256:[0-9a-f]{64}$/.test(model.digest)) throw new UserError(`${manifest}: no model layer in the Ollama manifest`, 'model');
  const blob = join(store, 'blobs', model.digest.replace(':', '-'));
  if (!existsSync(blob)) throw new UserError(`${manifest}: its model blob ${model.digest} is missing from the store`, 'model');
  return blob;
}

function splitTag(name: string): [string, string | undefined] {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? [name.slice(0, colon), name.slice(colon + 1)] : [name, undefined];
}
