import { UserError } from '../errors.js';
import { bpeTokenizerJson } from '../tokenizer/gguf-bpe.js';

/** GPT-2's pre-tokenizer: contractions, words, numbers and punctuation runs (each with one leading space), whitespace. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's map from bytes to printable characters, so every byte sequence is a string of visible symbols. */
export const BYTE_TO_CHAR: string[] = (() => {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + extra++));
})();

export interface TrainedBpe {
  /** Token strings by id (byte-level symbols): the 256 bytes, then the merges in order, then the special tokens. */
  tokens: string[];
  /** "left right", by rank. */
  merges: string[];
  /** GGUF token types: 1 normal, 3 control (special tokens). */
  types: number[];
  /** Id of the end-of-text token (the first special token). */
  eosId: number;
  /** tokenizer.json for @huggingface/tokenizers. */
  json: Record<string, unknown>;
}

export interface BpeOptions {
  /** Special tokens, appended after the learned ones (default <|endoftext|>). */
  special?: string[];
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
}

/**
 * Trains a byte-level BPE (GPT-2's scheme) on `texts`: split with GPT-2's pattern, map bytes to
 * symbols, and repeatedly merge the most frequent adjacent pair — ties go to the pair of lower ids,
 * so training is deterministic — until the vocabulary has `vocabSize` tokens. Pair counts are kept
 * incrementally (only the words containing the merged pair are revisited) with a lazy max-heap.
 */
export function trainBpe(texts: Iterable<string>, vocabSize: number, opts: BpeOptions = {}): TrainedBpe {
  const special = opts.special ?? ['<|endoftext|>'];
  const minFrequency = opts.minFrequency ?? 2;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + special.length || vocabSize > 65536) {
    throw new UserError(`--vocab must be an integer from ${256 + special.length} to 65536, got ${vocabSize}`, 'vocab');
  }
  // Unique pre-tokenized words with their counts, as byte-symbol id sequences.
  const counts = new Map<string, number>();
  const encoder = new TextEncoder();
  for (const text of texts) for (const m of text.matchAll(GPT2_SPLIT)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const words = [...counts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w, count]) => ({ syms: Array.from(encoder.encode(w)), count }));

  const tokens = [...BYTE_TO_CHAR];
  const merges: string[] = [];
  const SHIFT = 65536;
  const key = (a: number, b: number) => a * SHIFT + b;
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const changed = new Set<number>();
  const addPairs = (w: number, sign: 1 | -1) => {
    const { syms, count } = words[w]!;
    for (let i = 0; i + 1 < syms.length; i++) {
      const k = key(syms[i]!, syms[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * count);
      changed.add(k);
      if (sign > 0) {
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(w);
      }
    }
  };
  words.forEach((_, w) => addPairs(w, 1));

  // Max-heap of [count, key]; stale entries (count changed since pushed) are skipped when popped.
  const heap: [number, number][] = [];
  const better = (x: [number, number], y: [number, number]) => x[0] > y[0] || (x[0] === y[0] && x[1] < y[1]);
  const push = (e: [number, number]) => {
    heap.push(e);
    for (let i = heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!better(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): [number, number] | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && better(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && better(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  for (const [k, c] of pairCount) push([c, k]);

  const learned = vocabSize - special.length;
  while (tokens.length < learned) {
    let best: [number, number] | undefined;
    while ((best = pop()) && pairCount.get(best[1]) !== best[0]);
    if (!best || best[0] < minFrequency) break;
    const k = best[1], a = Math.floor(k / SHIFT), b = k % SHIFT, id = tokens.length;
    tokens.push(tokens[a]! + tokens[b]!);
    merges.push(`${tokens[a]} ${tokens[b]}`);
    changed.clear();
    for (const w of where.get(k) ?? []) {
      const syms = words[w]!.syms;
      let has = false;
      for (let i = 0; i + 1 < syms.length; i++) if (syms[i] === a && syms[i + 1] === b) { has = true; break; }
      if (!has) continue;
      addPairs(w, -1);
      const out: number[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) { out.push(id); i++; } else out.push(syms[i]!);
      }
      words[w]!.syms = out;
      addPairs(w, 1);
    }
    pairCount.delete(k);
    where.delete(k);
    // Every pair whose count moved gets a fresh heap entry; its old ones are now stale.
    for (const t of changed) { const c = pairCount.get(t) ?? 0; if (c > 0 && t !== k) push([c, t]); }
  }
  const eosId = tokens.length;
  tokens.push(...special);
  const types = tokens.map((_, id) => (id >= eosId ? 3 : 1));
  return { tokens, merges, types, eosId, json: bpeTokenizerJson(tokens, merges, types, 'gpt2') };
}

/** A byte-level BPE tokenizer.json (GPT-2 style, as trainBpe writes) read back for reuse. */
export function bpeFromTokenizerJson(json: Record<string, unknown>, file: string): TrainedBpe {
  const model = json['model'] as { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] } | undefined;
  if (model?.type !== 'BPE' || !model.vocab || !Array.isArray(model.merges)) throw new UserError(`${file}: not a BPE tokenizer.json (model.type BPE with vocab and merges)`, 'tokenizer');
  const tokens: string[] = [];
  for (const [t, id] of Object.entries(model.vocab)) tokens[id] = t;
  const added = (json['added_tokens'] as { id: number; content: string; special?: boolean }[] | undefined) ?? [];
  for (const a of added) tokens[a.id] = a.content;
  if (tokens.length === 0 || tokens.some((t) => t === undefined)) throw new UserError(`${file}: token ids are not contiguous from 0`, 'tokenizer');
  const special = new Set(added.filter((a) => a.special !== false).map((a) => a.id));
  const eosId = added.find((a) => a.content === '<|endoftext|>')?.id ?? [...special][0];
  if (eosId === undefined) throw new UserError(`${file}: has no end-of-text token (<|endoftext|>)`, 'tokenizer');
  const merges = model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const types = tokens.map((_, id) => (special.has(id) ? 3 : 1));
  return { tokens, merges, types, eosId, json: bpeTokenizerJson(tokens, merges, types, 'gpt2') };
}
