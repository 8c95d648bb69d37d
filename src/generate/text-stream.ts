/** Tokens of context decoded before the new ones, so decoders see the same neighbourhood. */
const CONTEXT = 4;
/** Commit the decoded text every this many tokens, so each step decodes a short window. */
const WINDOW = 16;

/**
 * Turns a growing list of generated tokens into text, applying stop strings, and says which part of
 * the text is safe to show yet: never half a UTF-8 character, never the start of what may become a
 * stop string. Decoding is incremental — each step decodes a few context tokens plus the uncommitted
 * tail, and takes the part after the context's own text — so long generations stay linear.
 */
export class TextStream {
  private ids: number[] = [];
  private emitted = 0;
  /** Text of ids[0, committed), fixed. */
  private committedText = '';
  private committed = 0;
  /** The visible text (cut before a stop string once one appears). */
  text = '';
  stopped: string | undefined;

  constructor(private readonly decode: (ids: number[]) => string, private readonly stops: readonly string[]) {}

  private fullText(): string {
    const ctx = this.ids.slice(Math.max(0, this.committed - CONTEXT), this.committed);
    const tail = this.ids.slice(this.committed);
    const ctxText = ctx.length ? this.decode(ctx) : '';
    const both = this.decode(ctx.concat(tail));
    if (!both.startsWith(ctxText)) return this.decode(this.ids); // a decoder that rewrites across tokens
    const tailText = both.slice(ctxText.length);
    const full = this.committedText + tailText;
    if (tail.length >= WINDOW && !tailText.endsWith('\uFFFD')) {
      this.committedText = full;
      this.committed = this.ids.length;
    }
    return full;
  }

  /** Adds a token; returns the newly safe-to-show text. */
  push(id: number): string {
    this.ids.push(id);
    const full = this.fullText();
    this.text = full;
    const from = Math.max(0, this.emitted - Math.max(0, ...this.stops.map((s) => s.length)));
    let cut = -1;
    for (const s of this.stops) {
      const at = full.indexOf(s, from);
      if (at >= 0 && (cut < 0 || at < cut)) { cut = at; this.stopped = s; }
    }
    if (cut >= 0) {
      this.text = full.slice(0, cut);
      return this.take(this.text.length);
    }
    // Hold back a trailing replacement char (an unfinished UTF-8 sequence) and any suffix that could
    // still grow into a stop string.
    let safe = full.length;
    if (full.endsWith('\uFFFD')) safe = full.length - 1;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, full.length); k > 0; k--) {
        if (full.endsWith(s.slice(0, k))) { safe = Math.min(safe, full.length - k); break; }
      }
    }
    return this.take(safe);
  }

  /** Everything not yet shown (at the end of generation). */
  flush(): string {
    return this.take(this.text.length);
  }

  private take(upTo: number): string {
    if (upTo <= this.emitted) return '';
    const out = this.text.slice(this.emitted, upTo);
    this.emitted = upTo;
    return out;
  }
}
