/**
 * A minimal safetensors reader for tests: F32 tensors only, enough to compare weight files
 * element by element without going through the code under test.
 */
import { readFile } from 'node:fs/promises';

/** One F32 tensor of a safetensors file. */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Reads every tensor of `file` (8-byte little-endian header length, JSON header, raw bytes).
 * Throws on any dtype but F32 and on offsets outside the data section.
 */
export async function readSafetensorsF32(file: string): Promise<Map<string, F32Tensor>> {
  const bytes = await readFile(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, F32Tensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F32') throw new Error(`${file}: tensor ${name} is ${info.dtype}, this reader takes F32 only`);
    const [begin, end] = info.data_offsets;
    if (dataStart + end > bytes.length || begin > end) throw new Error(`${file}: tensor ${name} lies outside the file`);
    // Copy: tensor offsets need not be 4-byte aligned within the Buffer. x86 and arm64 are
    // little-endian, as the format is.
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + dataStart + begin, bytes.byteOffset + dataStart + end));
    const numel = info.shape.reduce((a, b) => a * b, 1);
    if (data.length !== numel) throw new Error(`${file}: tensor ${name} has ${data.length} values for shape [${info.shape}]`);
    tensors.set(name, { shape: info.shape, data });
  }
  return tensors;
}
