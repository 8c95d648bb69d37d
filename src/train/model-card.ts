import { basename } from 'node:path';
import type { Gpt2Shape } from './gpt2.js';

interface CardInput {
  name: string;
  corpus: string[];
  corpusSha: string;
  corpusTokens: number;
  valTokens: number;
  identity: { shape: Gpt2Shape; seed: number; steps: number; batch: number; lr: number; minLrRatio: number; warmup: number; weightDecay: number; clip: number; valFraction: number };
  result: { parameters: number; steps: number; tokensSeen: number; trainLoss: number; valLoss: number; elapsedMs: number };
  command?: string;
}

/** The model card: what the model is, what it was trained on and how, and how well it learned. */
export function modelCard(c: CardInput): string {
  const s = c.identity.shape, r = c.result, i = c.identity;
  const minutes = r.elapsedMs / 60000;
  return `# ${c.name}

A GPT-2-architecture language model trained from scratch by \`wander train\`.

| | |
| --- | --- |
| parameters | ${r.parameters.toLocaleString('en-US')} |
| shape | ${s.layers} layers, ${s.embd} wide, ${s.heads} heads, feed-forward ${s.ff}, context ${s.context}, tied embeddings |
| vocabulary | ${s.vocab} tokens (byte-level BPE trained on the corpus; \`tokenizer.json\`) |
| corpus | ${c.corpus.map((f) => `\`${basename(f)}\``).join(', ')} — ${c.corpusTokens.toLocaleString('en-US')} tokens, sha256 \`${c.corpusSha.slice(0, 16)}…\` |
| validation | the last ${(i.valFraction * 100).toFixed(1)}% of the corpus (${c.valTokens.toLocaleString('en-US')} tokens), never trained on |
| training | ${r.steps} steps × ${i.batch} sequences × ${s.context} tokens = ${r.tokensSeen.toLocaleString('en-US')} tokens seen; AdamW (β 0.9/0.95, weight decay ${i.weightDecay} on matrices), learning rate ${i.lr} with ${i.warmup} warm-up steps and a cosine decay to ${(i.lr * i.minLrRatio).toPrecision(2)}, gradient clipping at ${i.clip}; seed ${i.seed} |
| final loss | train ${r.trainLoss.toFixed(3)} (last batch) · validation ${r.valLoss.toFixed(3)} nats/token (perplexity ${Math.exp(r.valLoss).toFixed(1)}) |
| wall time | ${minutes < 1 ? `${(r.elapsedMs / 1000).toFixed(1)} s` : `${minutes.toFixed(1)} min`} |

Files: \`${c.name}.gguf\` (GGUF, architecture gpt2, F32, tokenizer in its metadata) and \`hf/\` (a Hugging Face
transformers folder: config.json, model.safetensors, tokenizer.json). \`train-log.json\` has the loss at every step.
${c.command ? `\nMade with:\n\n\`\`\`sh\n${c.command}\n\`\`\`\n` : ''}`;
}
