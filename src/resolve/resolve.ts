import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { embeddedModel } from './embedded.js';
import { cachedSnapshot, hfEndpoint, hfHubCache } from './hf-cache.js';
import { downloadFile, listRepoFiles, type DownloadOptions } from './hf-download.js';
import { findOllamaModel, ollamaStore } from './ollama.js';

export interface ResolveOptions {
  progress?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Files a Hugging Face model folder needs (besides its weights), and those it may have. */
const HF_REQUIRED = ['config.json', 'tokenizer.json'];
const HF_OPTIONAL = ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja'];

/**
 * Turns a --model spec into a local path:
 *   a path                     → itself (the loader takes a .gguf, a model folder, or a folder with one .gguf)
 *   ladder:<size>              → an embedded model (small, medium, large)
 *   hf:<owner>/<repo>/<file>   → that file (a .gguf), from the hub cache or downloaded into it
 *   hf:<owner>/<repo>          → the repository's model folder (config + safetensors + tokenizer), or its only .gguf
 *   ollama:<name>[:<tag>]      → the GGUF blob in the local Ollama store
 * A repository already in the Hugging Face cache, or pulled into Ollama (hf.co/<owner>/<repo>), is used
 * without touching the network.
 */
export async function resolveModelSpec(spec: string, opts: ResolveOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  if (spec.startsWith('ollama:')) {
    const found = findOllamaModel(spec.slice(7), ollamaStore(env));
    if (!found) throw new UserError(`${spec}: not in the Ollama store at ${ollamaStore(env)} (run \`ollama pull ${spec.slice(7)}\` first)`, 'model');
    return found;
  }
  if (spec.startsWith('ladder:')) return embeddedModel(spec);
  if (!spec.startsWith('hf:')) return spec;

  const m = /^hf:([\w.-]+\/[\w.-]+)(?:\/(.+))?$/.exec(spec);
  if (!m || m[2]?.split('/').some((p) => p === '..' || p === '')) throw new UserError(`--model ${spec}: expected hf:<owner>/<repo>[/<file>]`, 'model');
  const repo = m[1]!, file = m[2];
  const cache = hfHubCache(env);
  const dl: DownloadOptions = { cache, endpoint: hfEndpoint(env), progress: opts.progress, token: env['HF_TOKEN'] };

  const snap = cachedSnapshot(cache, repo);
  if (file) {
    if (snap && existsSync(join(snap, file))) return join(snap, file);
    const ollama = findOllamaModel(`hf.co/${repo}`, ollamaStore(env));
    if (ollama && file.endsWith('.gguf')) return ollama;
    return downloadFile(repo, file, dl);
  }
  if (snap && isCompleteFolder(snap)) return snap;
  const ollama = findOllamaModel(`hf.co/${repo}`, ollamaStore(env));
  if (ollama) return ollama;

  const { files } = await listRepoFiles(repo, dl);
  if (HF_REQUIRED.every((f) => files.includes(f))) {
    const weights = files.includes('model.safetensors.index.json')
      ? ['model.safetensors.index.json', ...files.filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f))]
      : files.includes('model.safetensors') ? ['model.safetensors'] : [];
    if (weights.length === 0) throw new UserError(`hf:${repo}: no model.safetensors in the repository (Wander reads safetensors weights, not .bin)`, 'model');
    let dir = '';
    for (const f of [...HF_REQUIRED, ...HF_OPTIONAL.filter((f) => files.includes(f)), ...weights]) dir = dirname(await downloadFile(repo, f, dl));
    return dir;
  }
  const ggufs = files.filter((f) => f.endsWith('.gguf'));
  if (ggufs.length === 1) return downloadFile(repo, ggufs[0]!, dl);
  if (ggufs.length > 1) throw new UserError(`hf:${repo} has ${ggufs.length} GGUF files; pick one with hf:${repo}/<file>: ${ggufs.slice(0, 8).join(', ')}${ggufs.length > 8 ? ', …' : ''}`, 'model');
  throw new UserError(`hf:${repo}: neither a Hugging Face model folder (config.json + tokenizer.json + safetensors) nor a GGUF file`, 'model');
}

/** True for specs that name a model by scheme (hf:, ollama:, ladder:) rather than by path. */
export function isSchemeSpec(spec: string): boolean {
  return /^(hf|ollama|ladder):/.test(spec);
}

/** A cached snapshot (or any folder) that holds a whole Hugging Face model: config, tokenizer, safetensors. */
export function isCompleteFolder(dir: string): boolean {
  const have = new Set(readdirSync(dir));
  return HF_REQUIRED.every((f) => have.has(f)) && (have.has('model.safetensors') || have.has('model.safetensors.index.json'));
}
