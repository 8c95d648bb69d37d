import { UserError } from '../errors.js';
import { FileReader } from './file-reader.js';
import type { TensorInfo, TensorMap } from './tensor-source.js';
import { blockSize, byteSize, dtypeName, isSupportedDType, SUPPORTED_DTYPES } from './tensor-types.js';

/** A GGUF metadata value: numbers, bigints (64-bit ints), strings, booleans, or arrays of them. */
export type GgufValue = number | bigint | string | boolean | GgufValue[];

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: TensorMap;
  /** Byte offset of the tensor data section. */
  dataOffset: number;
  fileSize: number;
  close(): void;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
const MAX_COUNT = 10_000_000;
const VT = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;
/** Smallest encoded size of one value of each type: lets us reject absurd array counts before looping. */
const MIN_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

function readString(r: FileReader, what: string): string {
  const len = r.u64(`${what} length`);
  if (len > r.size - r.pos) r.fail(`${what} length ${len} extends past end of file (offset ${r.pos}, file size ${r.size})`);
  return r.bytes(len, what).toString('utf8');
}

function readValue(r: FileReader, type: number, key: string): GgufValue {
  switch (type) {
    case VT.U8: return r.u8(key);
    case VT.I8: return r.i8(key);
    case VT.U16: return r.u16(key);
    case VT.I16: return r.i16(key);
    case VT.U32: return r.u32(key);
    case VT.I32: return r.i32(key);
    case VT.F32: return r.f32(key);
    case VT.F64: return r.f64(key);
    case VT.BOOL: {
      const b = r.u8(key);
      if (b > 1) r.fail(`metadata ${key}: invalid bool ${b}`);
      return b === 1;
    }
    case VT.STRING: return r.tryString() ?? readString(r, `metadata ${key}`);
    case VT.U64: {
      const u = BigInt.asUintN(64, r.i64(key));
      return u <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(u) : u;
    }
    case VT.I64: {
      const v = r.i64(key);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case VT.ARRAY: {
      const itemType = r.u32(`metadata ${key} array type`);
      if (itemType > VT.F64) r.fail(`metadata ${key}: unknown array element type ${itemType}`);
      const n = r.u64(`metadata ${key} array length`);
      if (n * MIN_SIZE[itemType]! > r.size - r.pos) {
        r.fail(`metadata ${key}: array of ${n} elements extends past end of file (offset ${r.pos}, file size ${r.size})`);
      }
      const out: GgufValue[] = new Array(n);
      // A vocabulary is thousands of strings with their i32 types (or f32 scores): those in tight loops,
      // each element read exactly as readValue would (same checks, same errors), since this is start-up time.
      if (itemType === VT.STRING) for (let i = 0; i < n; i++) out[i] = r.tryString() ?? readString(r, `metadata ${key}`);
      else if (itemType === VT.I32) for (let i = 0; i < n; i++) out[i] = r.i32(key);
      else if (itemType === VT.F32) for (let i = 0; i < n; i++) out[i] = r.f32(key);
      else for (let i = 0; i < n; i++) out[i] = readValue(r, itemType, key);
      return out;
    }
    default:
      return r.fail(`metadata ${key}: unknown value type ${type}`);
  }
}

/**
 * Parses a GGUF file (versions 2 and 3): header, every metadata key, tensor infos and alignment.
 * Tensor bytes are not read here; each TensorInfo reads its own, bounds-checked against the file.
 */
export function readGguf(path: string): GgufFile {
  const r: FileReader = new FileReader(path);
  try {
    if (r.size < 4 || r.u32('magic') !== GGUF_MAGIC) r.fail('not a GGUF file (bad magic; expected "GGUF")');
    const version = r.u32('version');
    if (version !== 2 && version !== 3) r.fail(`unsupported GGUF version ${version} (supported: 2, 3)`);
    const tensorCount = r.u64('tensor count');
    const kvCount = r.u64('metadata count');
    if (tensorCount > MAX_COUNT || kvCount > MAX_COUNT) r.fail(`implausible header (tensor count ${tensorCount}, metadata count ${kvCount})`);

    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = r.tryString() ?? readString(r, 'metadata key');
      const type = r.u32(`metadata ${key} type`);
      metadata.set(key, readValue(r, type, key));
    }

    const alignmentValue = metadata.get('general.alignment') ?? 32;
    if (typeof alignmentValue !== 'number' || alignmentValue <= 0 || alignmentValue % 8 !== 0) r.fail(`invalid general.alignment ${String(alignmentValue)}`);
    const alignment = alignmentValue;

    const infos: { name: string; type: number; ne: number[]; offset: number }[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = readString(r, 'tensor name');
      const nDims = r.u32(`tensor ${name} dimension count`);
      if (nDims < 1 || nDims > 4) r.fail(`tensor ${name}: invalid dimension count ${nDims}`);
      const ne: number[] = [];
      for (let d = 0; d < nDims; d++) ne.push(r.u64(`tensor ${name} dimension`));
      const type = r.u32(`tensor ${name} type`);
      const offset = r.u64(`tensor ${name} offset`);
      infos.push({ name, type, ne, offset });
    }
    const dataOffset = Math.ceil(r.pos / alignment) * alignment;

    const tensors: TensorMap = new Map();
    for (const { name, type, ne, offset } of infos) {
      if (!isSupportedDType(type)) {
        return r.fail(`tensor ${name} has type ${dtypeName(type)}, which Wander cannot compute on (supported: ${SUPPORTED_DTYPES.join(', ')})`);
      }
      const count = ne.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(count)) r.fail(`tensor ${name}: shape [${ne.join(', ')}] is too large`);
      if (ne[0]! % blockSize(type) !== 0) r.fail(`tensor ${name}: row length ${ne[0]} is not a multiple of the ${dtypeName(type)} block size ${blockSize(type)}`);
      if (offset % alignment !== 0) r.fail(`tensor ${name}: data offset ${offset} is not aligned to ${alignment}`);
      const byteLength = byteSize(type, count);
      const start = dataOffset + offset;
      if (start + byteLength > r.size) {
        r.fail(`tensor ${name} extends past end of file (offset ${start}, size ${byteLength}, file size ${r.size})`);
      }
      if (tensors.has(name)) r.fail(`tensor ${name} appears twice`);
      tensors.set(name, { name, dtype: type, ne, count, byteLength, read: (dest) => r.readAt(dest, start, byteLength) });
    }
    return { path, version, metadata, tensors, dataOffset, fileSize: r.size, close: () => r.close() };
  } catch (e) {
    r.close();
    throw e;
  }
}

/** Typed metadata access with errors that name the key. */
export class GgufMeta {
  constructor(private readonly file: GgufFile) {}

  has(key: string): boolean {
    return this.file.metadata.has(key);
  }

  raw(key: string): GgufValue | undefined {
    return this.file.metadata.get(key);
  }

  num(key: string): number | undefined;
  num(key: string, fallback: number): number;
  num(key: string, fallback?: number): number | undefined {
    const v = this.file.metadata.get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number') throw new UserError(`${this.label()}: metadata ${key} should be a number, found ${typeof v}`, 'model');
    return v;
  }

  requireNum(key: string): number {
    const v = this.num(key);
    if (v === undefined) throw new UserError(`${this.label()}: required metadata ${key} is missing`, 'model');
    return v;
  }

  str(key: string): string | undefined {
    const v = this.file.metadata.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new UserError(`${this.label()}: metadata ${key} should be a string`, 'model');
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.file.metadata.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw new UserError(`${this.label()}: metadata ${key} should be a bool`, 'model');
    return v;
  }

  strArray(key: string): string[] | undefined {
    const v = this.file.metadata.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new UserError(`${this.label()}: metadata ${key} should be an array of strings`, 'model');
    return v as string[];
  }

  numArray(key: string): number[] | undefined {
    const v = this.file.metadata.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new UserError(`${this.label()}: metadata ${key} should be an array of numbers`, 'model');
    return v as number[];
  }

  label(): string {
    return this.file.path.split('/').pop() ?? this.file.path;
  }
}
