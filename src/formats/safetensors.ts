import { UserError } from '../errors.js';
import { FileReader } from './file-reader.js';
import type { TensorInfo } from './tensor-source.js';
import { DType } from './tensor-types.js';

const DTYPES: Record<string, DType> = { F32: DType.F32, F16: DType.F16, BF16: DType.BF16 };
const ELEMENT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsFile {
  path: string;
  /** Tensors under the names the file uses. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  close(): void;
}

/** Parses a .safetensors file's header; every tensor's byte range is checked against the file. */
export function readSafetensors(path: string): SafetensorsFile {
  const r: FileReader = new FileReader(path);
  try {
    const headerLen = r.u64('header length');
    if (headerLen > MAX_HEADER || headerLen > r.size - 8) r.fail(`header length ${headerLen} is invalid (file size ${r.size})`);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(r.bytes(headerLen, 'header').toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      return r.fail(`header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) r.fail('header is not a JSON object');
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') { metadata = raw as Record<string, string>; continue; }
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof t !== 'object' || t === null || typeof t.dtype !== 'string' || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets) || t.data_offsets.length !== 2) {
        r.fail(`tensor ${name}: malformed header entry`);
      }
      const dtype = DTYPES[t.dtype as string];
      if (dtype === undefined) return r.fail(`tensor ${name} has dtype ${String(t.dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`);
      const shape = t.shape as unknown[];
      if (shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) r.fail(`tensor ${name}: invalid shape ${JSON.stringify(shape)}`);
      const [begin, end] = t.data_offsets as number[];
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      const byteLength = count * ELEMENT_BYTES[t.dtype as string]!;
      if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin! < 0 || end! - begin! !== byteLength) {
        r.fail(`tensor ${name}: data offsets [${begin}, ${end}] do not match its shape ${JSON.stringify(shape)} and dtype ${t.dtype}`);
      }
      if (dataStart + end! > r.size) r.fail(`tensor ${name} extends past end of file (offset ${dataStart + begin!}, size ${byteLength}, file size ${r.size})`);
      const ne = shape.length === 0 ? [1] : [...(shape as number[])].reverse();
      tensors.set(name, { name, dtype, ne, count, byteLength, read: (dest) => r.readAt(dest, dataStart + begin!, byteLength) });
    }
    return { path, tensors, metadata, close: () => r.close() };
  } catch (e) {
    r.close();
    if (e instanceof UserError) throw e;
    throw new UserError(`${r.label}: ${(e as Error).message}`, 'model');
  }
}
