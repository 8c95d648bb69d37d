import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { UserError } from '../errors.js';

/**
 * Sequential, buffered, bounds-checked reads from an untrusted file. Every read names the file in its
 * error, so a truncated or corrupt model gives one line saying where it went wrong, never a RangeError.
 */
export class FileReader {
  readonly size: number;
  readonly label: string;
  private readonly fd: number;
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  constructor(readonly path: string) {
    this.label = basename(path);
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw new UserError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'model');
    }
    this.size = fstatSync(this.fd).size;
  }

  close(): void {
    closeSync(this.fd);
  }

  fail(problem: string): never {
    throw new UserError(`${this.label}: ${problem}`, 'model');
  }

  /** Makes `n` bytes at the cursor available in `buf`; fails cleanly past the end of the file. */
  private ensure(n: number, what: string): number {
    if (this.pos + n > this.size) {
      this.fail(`file is truncated: ${what} at offset ${this.pos} needs ${n} bytes, file size ${this.size}`);
    }
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.buf.length) return rel;
    const want = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
    this.buf = Buffer.alloc(want);
    readSync(this.fd, this.buf, 0, want, this.pos);
    this.bufStart = this.pos;
    return 0;
  }

  u8(what = 'u8'): number { const o = this.ensure(1, what); this.pos += 1; return this.buf.readUInt8(o); }
  i8(what = 'i8'): number { const o = this.ensure(1, what); this.pos += 1; return this.buf.readInt8(o); }
  u16(what = 'u16'): number { const o = this.ensure(2, what); this.pos += 2; return this.buf.readUInt16LE(o); }
  i16(what = 'i16'): number { const o = this.ensure(2, what); this.pos += 2; return this.buf.readInt16LE(o); }
  u32(what = 'u32'): number { const o = this.ensure(4, what); this.pos += 4; return this.buf.readUInt32LE(o); }
  i32(what = 'i32'): number { const o = this.ensure(4, what); this.pos += 4; return this.buf.readInt32LE(o); }
  f32(what = 'f32'): number { const o = this.ensure(4, what); this.pos += 4; return this.buf.readFloatLE(o); }
  f64(what = 'f64'): number { const o = this.ensure(8, what); this.pos += 8; return this.buf.readDoubleLE(o); }
  i64(what = 'i64'): bigint { const o = this.ensure(8, what); this.pos += 8; return this.buf.readBigInt64LE(o); }

  /** A u64 that must fit a JS number (sizes, counts, offsets); larger values mean a corrupt file. */
  u64(what = 'u64'): number {
    const o = this.ensure(8, what);
    this.pos += 8;
    const v = this.buf.readBigUInt64LE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} is ${v}, too large to be valid`);
    return Number(v);
  }

  /**
   * A u64-length-prefixed UTF-8 string at the cursor when it lies whole in the buffer already read (the
   * common case: a GGUF vocabulary is thousands of them), else undefined and the cursor unmoved, for the
   * caller to read it the checked way with its errors. No BigInt, no subarray, no message built.
   */
  tryString(): string | undefined {
    const o = this.pos - this.bufStart, buf = this.buf;
    if (o < 0 || o + 8 > buf.length) return undefined;
    const hi = buf.readUInt32LE(o + 4);
    if (hi > 0x1fffff) return undefined; // 2^53 or more: u64() names the problem
    const len = hi * 0x100000000 + buf.readUInt32LE(o);
    if (o + 8 + len > buf.length) return undefined;
    this.pos += 8 + len;
    return buf.toString('utf8', o + 8, o + 8 + len);
  }

  bytes(n: number, what = 'bytes'): Buffer {
    const o = this.ensure(n, what);
    this.pos += n;
    return this.buf.subarray(o, o + n);
  }

  /** Reads `length` bytes at absolute `offset` straight into `dest` (used for tensor data). */
  readAt(dest: Uint8Array, offset: number, length: number): void {
    if (offset + length > this.size) this.fail(`read of ${length} bytes at offset ${offset} extends past end of file (file size ${this.size})`);
    const chunk = 1 << 30;
    for (let done = 0; done < length; ) {
      const n = readSync(this.fd, dest, done, Math.min(chunk, length - done), offset + done);
      if (n <= 0) this.fail(`unexpected end of file at offset ${offset + done}`);
      done += n;
    }
  }
}
