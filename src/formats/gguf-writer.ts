import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { byteSize, dtypeName, type DType } from './tensor-types.js';

/** A metadata value with its GGUF type spelled out (JS numbers alone do not say u32 or f32). */
export type GgufKv =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'u64' | 'i64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'u32' | 'i32' | 'f32' | 'string'; value: (number | string)[] };

/**
 * A tensor's bytes produced piece by piece: called once, it calls `emit` with consecutive chunks of the
 * tensor's encoded data (in order, any sizes), so a tensor larger than memory never sits in it. Each
 * chunk is written before `emit` returns, so the producer may reuse its buffer.
 */
export type TensorProducer = (emit: (bytes: Uint8Array) => void) => void;

export interface GgufTensorOut {
  name: string;
  dtype: DType;
  /** GGUF order: ne[0] innermost. */
  ne: number[];
  /** The encoded data, or a producer that streams it (its size must be byteSize(dtype, ∏ne)). */
  data: Uint8Array | TensorProducer;
}

const TYPE_IDS = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;

class Out {
  private chunks: Buffer[] = [];
  size = 0;
  push(b: Buffer): void { this.chunks.push(b); this.size += b.length; }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  scalar(type: keyof typeof TYPE_IDS, v: number | boolean | string): void {
    const b = Buffer.alloc(8);
    switch (type) {
      case 'u8': b.writeUInt8(v as number); this.push(b.subarray(0, 1)); break;
      case 'i8': b.writeInt8(v as number); this.push(b.subarray(0, 1)); break;
      case 'u16': b.writeUInt16LE(v as number); this.push(b.subarray(0, 2)); break;
      case 'i16': b.writeInt16LE(v as number); this.push(b.subarray(0, 2)); break;
      case 'u32': b.writeUInt32LE(v as number); this.push(b.subarray(0, 4)); break;
      case 'i32': b.writeInt32LE(v as number); this.push(b.subarray(0, 4)); break;
      case 'f32': b.writeFloatLE(v as number); this.push(b.subarray(0, 4)); break;
      case 'f64': b.writeDoubleLE(v as number); this.push(b); break;
      case 'u64': b.writeBigUInt64LE(BigInt(v as number)); this.push(b); break;
      case 'i64': b.writeBigInt64LE(BigInt(v as number)); this.push(b); break;
      case 'bool': b.writeUInt8(v ? 1 : 0); this.push(b.subarray(0, 1)); break;
      case 'string': this.str(v as string); break;
      default: throw new Error(`cannot write scalar of type ${type}`);
    }
  }
  bytes(): Buffer { return Buffer.concat(this.chunks); }
}

/** Writes a GGUF v3 file laid out as llama.cpp's writer lays it out (32-byte alignment). */
export function writeGguf(path: string, metadata: Record<string, GgufKv>, tensors: GgufTensorOut[], alignment = 32): void {
  const head = new Out();
  head.u32(0x46554747);
  head.u32(3);
  head.u64(tensors.length);
  const kvs = Object.entries(metadata);
  if (!('general.alignment' in metadata) && alignment !== 32) kvs.push(['general.alignment', { type: 'u32', value: alignment }]);
  head.u64(kvs.length);
  for (const [key, kv] of kvs) {
    head.str(key);
    head.u32(TYPE_IDS[kv.type]);
    if (kv.type === 'array') {
      head.u32(TYPE_IDS[kv.itemType]);
      head.u64(kv.value.length);
      for (const v of kv.value) head.scalar(kv.itemType, v);
    } else {
      head.scalar(kv.type, kv.value);
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  const sizes: number[] = [];
  for (const t of tensors) {
    const count = t.ne.reduce((a, b) => a * b, 1);
    const size = byteSize(t.dtype, count);
    if (t.data instanceof Uint8Array && t.data.length !== size) throw new Error(`tensor ${t.name}: ${t.data.length} bytes for ${count} elements`);
    head.str(t.name);
    head.u32(t.ne.length);
    for (const d of t.ne) head.u64(d);
    head.u32(t.dtype);
    head.u64(offset);
    offsets.push(offset);
    sizes.push(size);
    offset = Math.ceil((offset + size) / alignment) * alignment;
  }
  const fd = openSync(path, 'w');
  let streamFailed = false;
  try {
    const h = head.bytes();
    writeSync(fd, h);
    const dataStart = Math.ceil(h.length / alignment) * alignment;
    writeSync(fd, Buffer.alloc(dataStart - h.length));
    tensors.forEach((t, i) => {
      const at = dataStart + offsets[i]!;
      if (t.data instanceof Uint8Array) writeSync(fd, t.data, 0, t.data.length, at);
      else {
        try {
          streamTensor(fd, t, t.data, at, sizes[i]!);
        } catch (e) {
          streamFailed = true;
          throw e;
        }
      }
    });
    const end = dataStart + offset;
    const last = tensors.length ? dataStart + offsets[tensors.length - 1]! + sizes[tensors.length - 1]! : dataStart;
    if (end > last) writeSync(fd, Buffer.alloc(end - last), 0, end - last, last);
  } finally {
    closeSync(fd);
    // A producer that failed (or emitted the wrong size) leaves no half-written file behind.
    if (streamFailed) rmSync(path, { force: true });
  }
}

/**
 * Writes a producer's chunks at `at`, `size` bytes in all. A producer that emits more stops being
 * written (it would overwrite the next tensor) but is still counted, so the error gives its total.
 */
function streamTensor(fd: number, t: GgufTensorOut, produce: TensorProducer, at: number, size: number): void {
  let emitted = 0;
  produce((bytes) => {
    const fits = Math.max(0, Math.min(bytes.length, size - emitted));
    if (fits > 0) writeSync(fd, bytes, 0, fits, at + emitted);
    emitted += bytes.length;
  });
  if (emitted !== size) throw new Error(`tensor ${t.name}: its producer emitted ${emitted} bytes, but ${dtypeName(t.dtype)} data of shape [${t.ne.join(', ')}] is ${size} bytes`);
}
