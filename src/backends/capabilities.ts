import { UserError } from '../errors.js';

/**
 * What a backend can do. Wander's own engine can do everything; a server that samples for itself
 * returns tokens with a few alternatives each. A command checks what it needs before it starts, and
 * a backend that lacks it is one clear line — never a silent approximation.
 */
export interface Capabilities {
  /** The whole next-token distribution (every logit), so Wander's own sampling chain can choose. */
  full_logits: boolean;
  /** How many alternatives per generated token it reports (0: none). */
  top_logprobs: number;
  /** Wander's sampling chain picks the tokens (every sampler, traces, per-stage removal). */
  own_sampling_chain: boolean;
  /** Hook points: internals and interventions (ablation, noise, patching). */
  internals: boolean;
  /** It says which token ids it generated. */
  token_ids: boolean;
  /** A sequence's output does not depend on what else it is batched with. */
  batch_invariant: boolean;
}

/** Which backend produced a run: recorded in `generate --json` and the sweep database. */
export interface BackendInfo {
  kind: 'wander' | 'llama.cpp' | 'openai';
  /** Where it runs: a file, or a server's URL and model id. */
  name: string;
  /** The engine's version or fingerprint, when it says one. */
  version: string | null;
  /** Every server a sweep's requests were spread over (`URL#MODEL-ID`), when there are several. */
  endpoints?: string[];
  capabilities: Capabilities;
}

/** Wander's own engine. */
export const NATIVE_CAPABILITIES: Capabilities = {
  full_logits: true, top_logprobs: Number.MAX_SAFE_INTEGER, own_sampling_chain: true, internals: true, token_ids: true, batch_invariant: true,
};

const WHAT: Record<keyof Capabilities, string> = {
  full_logits: 'the full next-token distribution',
  top_logprobs: 'top logprobs',
  own_sampling_chain: "Wander's own sampling chain",
  internals: 'hook points (internals and interventions)',
  token_ids: 'token ids',
  batch_invariant: 'batch invariance',
};

/** Throws the one-line error for a command that needs what this backend lacks. */
export function requireCapability(command: string, backend: BackendInfo, capability: keyof Capabilities, why = ''): void {
  const have = backend.capabilities[capability];
  if (have === true || (typeof have === 'number' && have > 0)) return;
  throw new UserError(`wander ${command} needs ${WHAT[capability]}${why ? ` (${why})` : ''}, which the ${backend.kind} backend (${backend.name}) does not give; use a model Wander runs itself`, 'model');
}

/**
 * Why each kind of backend can or cannot run beam and contrastive search: both score candidates from
 * every logit and continue several sequences from one, copying KV caches between them. Known from the
 * kind alone, so a command refuses before it connects to a server or loads a model.
 */
const SEARCH: Record<BackendInfo['kind'], string | null> = {
  wander: null,
  'llama.cpp': 'node-llama-cpp gives every logit but cannot copy one sequence\'s KV cache to another, which every step needs',
  openai: 'an OpenAI-compatible server samples for itself and returns only top logprobs, never every logit',
};

/** Refuses beam and contrastive search, by the setting that asks for it, on a backend that cannot run them. */
export function requireSearchBackend(s: { num_beams?: number; penalty_alpha?: number }, kind: BackendInfo['kind']): void {
  const field = (s.num_beams ?? 1) > 1 ? 'num_beams' : (s.penalty_alpha ?? 0) > 0 ? 'penalty_alpha' : undefined;
  const why = SEARCH[kind];
  if (!field || why === null) return;
  const flag = field === 'num_beams' ? '--num-beams' : '--penalty-alpha';
  throw new UserError(`${flag} (${field === 'num_beams' ? 'beam search' : 'contrastive search'}) needs Wander's own engine (--model FILE): ${why}`, field);
}
