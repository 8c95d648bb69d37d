import { splitOnSpecial, type Tokenizer } from './tokenizer.js';

export interface SpmVocab {
  tokens: string[];
  scores: number[];
  /** GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  types: number[];
  bosId: number | undefined;
  eosIds: number[];
  unkId: number | undefined;
  addBos: boolean;
  addSpacePrefix: boolean;
}

const SPACE = '\u2581'; // ▁, SentencePiece's visible space

interface Symbol { text: string; prev: number; next: number }
interface Bigram { left: number; right: number; score: number; text: string }

/** A max-heap of bigrams: highest score first, then the leftmost (as llama.cpp orders them). */
class BigramQueue {
  private items: Bigram[] = [];
  private before(a: Bigram, b: Bigram): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
  get size(): number { return this.items.length; }
  push(b: Bigram): void {
    const it = this.items;
    it.push(b);
    for (let i = it.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.before(it[i]!, it[p]!)) break;
      [it[i], it[p]] = [it[p]!, it[i]!];
      i = p;
    }
  }
  pop(): Bigram {
    const it = this.items;
    const top = it[0]!;
    const last = it.pop()!;
    if (it.length > 0) {
      it[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < it.length && this.before(it[l]!, it[m]!)) m = l;
        if (r < it.length && this.before(it[r]!, it[m]!)) m = r;
        if (m === i) break;
        [it[i], it[m]] = [it[m]!, it[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * The SentencePiece-style tokenizer stored in GGUF files with tokenizer.ggml.model = "llama", encoding as
 * llama.cpp does: spaces become ▁ (with a ▁ prefix at the start and after each special token), then the
 * adjacent pair whose joined text is a vocabulary piece with the highest score is merged, repeatedly;
 * characters with no piece fall back to <0xXX> byte tokens.
 */
export class SpmTokenizer implements Tokenizer {
  readonly kind = 'gguf-spm';
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosIds: readonly number[];
  readonly addBos: boolean;
  private readonly ids = new Map<string, number>();
  private readonly specials = new Map<string, number>();
  private readonly byteIds = new Array<number | undefined>(256);
  private readonly pieceBytes: Uint8Array[];

  constructor(private readonly v: SpmVocab) {
    this.vocabSize = v.tokens.length;
    this.bosId = v.bosId;
    this.eosIds = v.eosIds;
    this.addBos = v.addBos;
    const enc = new TextEncoder();
    this.pieceBytes = v.tokens.map((t, id) => {
      const type = v.types[id] ?? 1;
      if (type === 6) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
        if (m) {
          const b = parseInt(m[1]!, 16);
          this.byteIds[b] = id;
          return Uint8Array.of(b);
        }
      }
      if (type === 3 || type === 5) return new Uint8Array(0); // control and unused tokens render as nothing
      return enc.encode(t.replaceAll(SPACE, ' '));
    });
    v.tokens.forEach((t, id) => {
      const type = v.types[id] ?? 1;
      if (type === 3 || type === 4) this.specials.set(t, id);
      if (!this.ids.has(t)) this.ids.set(t, id);
    });
  }

  encode(text: string): number[] {
    const out: number[] = this.addBos && this.bosId !== undefined ? [this.bosId] : [];
    let prevSpecial = true;
    for (const part of splitOnSpecial(text, this.specials)) {
      if (typeof part === 'number') {
        out.push(part);
        prevSpecial = true;
        continue;
      }
      this.encodePiece((this.v.addSpacePrefix && prevSpecial ? ' ' : '') + part, out);
      prevSpecial = false;
    }
    return out;
  }

  private encodePiece(raw: string, out: number[]): void {
    const text = raw.replaceAll(' ', SPACE);
    const chars = Array.from(text);
    const syms: Symbol[] = chars.map((ch, i) => ({ text: ch, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1 }));
    if (syms.length === 0) return;
    const queue = new BigramQueue();
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const joined = syms[left]!.text + syms[right]!.text;
      const id = this.ids.get(joined);
      if (id === undefined) return;
      queue.push({ left, right, score: this.v.scores[id] ?? 0, text: joined });
    };
    for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
    while (queue.size > 0) {
      const b = queue.pop();
      const l = syms[b.left]!, r = syms[b.right]!;
      // Skip bigrams made stale by an earlier merge.
      if (l.text.length === 0 || r.text.length === 0 || l.text + r.text !== b.text) continue;
      l.text = b.text;
      r.text = '';
      l.next = r.next;
      if (r.next >= 0) syms[r.next]!.prev = b.left;
      tryAdd(l.prev, b.left);
      tryAdd(b.left, l.next);
    }
    const enc = new TextEncoder();
    for (let i = 0; i >= 0; i = syms[i]!.next) {
      const piece = syms[i]!.text;
      const id = this.ids.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const byte of enc.encode(piece)) {
        const bid = this.byteIds[byte] ?? this.v.unkId;
        if (bid !== undefined) out.push(bid);
      }
    }
  }

  decode(ids: readonly number[]): string {
    const parts = ids.map((id) => this.pieceBytes[id] ?? new Uint8Array(0));
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    return new TextDecoder().decode(all);
  }

  tokenText(id: number): string {
    return this.decode([id]);
  }
}
