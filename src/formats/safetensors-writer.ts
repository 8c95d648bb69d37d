import { writeFileSync } from 'node:fs';

export interface SafetensorOut {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  /** Row-major shape, outermost first (as safetensors and PyTorch write it). */
  shape: number[];
  data: Uint8Array;
}

/** Writes a .safetensors file: u64 header length, JSON header (8-byte padded), then the data. */
export function writeSafetensors(path: string, tensors: SafetensorOut[], metadata: Record<string, string> = { format: 'pt' }): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.length))]));
}
