// Runs a GGUF file through llama.cpp (node-llama-cpp, CPU, F32 KV cache) and returns the full
// next-token distribution at every step of a greedy run, for parity tests against Wander.
import type { Llama } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;

async function llama(): Promise<Llama> {
  const { getLlama } = await import('node-llama-cpp');
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never, usePrebuiltBinaries: true });
  return llamaPromise;
}

/**
 * Why llama.cpp cannot run here (its native binary, from the @node-llama-cpp/<platform> package that
 * npm ci installs, did not load), or false when it can.
 */
export async function llamaCppMissing(): Promise<string | false> {
  try {
    await llama();
    return false;
  } catch (e) {
    llamaPromise = undefined;
    return `node-llama-cpp's native llama.cpp binary did not load (${(e as Error).message.split('\n')[0]}); npm ci installs it`;
  }
}

export interface LlamaCppStep {
  /** Full next-token distribution (token id → probability), unfiltered. */
  probs: Map<number, number>;
  chosen: number;
}

/**
 * Greedy-decodes `steps` tokens after `prompt` (token ids), returning the distribution at each step; the
 * KV cache is F32 unless `kv` says f16 (llama.cpp's own default).
 */
export async function llamaCppGreedy(modelPath: string, prompt: number[], steps: number, kv: 'f32' | 'f16' = 'f32'): Promise<LlamaCppStep[]> {
  const l = await llama();
  const model = await l.loadModel({ modelPath });
  const ctx = await model.createContext({
    contextSize: Math.max(64, prompt.length + steps + 8), batchSize: 512, threads: 2,
    experimentalKvCacheKeyType: kv.toUpperCase(), experimentalKvCacheValueType: kv.toUpperCase(), flashAttention: false,
  } as never);
  try {
    const seq = ctx.getSequence();
    const out: LlamaCppStep[] = [];
    const opts = { generateNext: { probabilities: true } } as const;
    let res = await seq.controlledEvaluate([...prompt.slice(0, -1), [prompt[prompt.length - 1]!, opts]] as never);
    for (let i = 0; i < steps; i++) {
      const probs = (res[res.length - 1] as { next: { probabilities: Map<number, number> } }).next.probabilities;
      let chosen = -1, best = -1;
      for (const [id, p] of probs) if (p > best || (p === best && id < chosen)) { best = p; chosen = id; }
      out.push({ probs, chosen });
      if (i + 1 < steps) res = await seq.controlledEvaluate([[chosen, opts]] as never);
    }
    return out;
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}
