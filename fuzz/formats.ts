/**
 * Just enough of the file formats the fuzzer mutates to mutate them by structure: safetensors
 * (8-byte header length + JSON header + data), the stored (uncompressed) zip PyTorch writes for
 * `pytorch_model.bin`, and pickle opcodes. Written from the format specifications, not from the
 * package's readers, so a reader's mistake is not copied here.
 */

// ---- safetensors ----

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface Safetensors {
  header: Record<string, unknown>;
  data: Buffer;
}

export function parseSafetensors(bytes: Buffer): Safetensors {
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, unknown>;
  return { header, data: bytes.subarray(8 + length) };
}

/** Serialises `header` and `data`; the header is padded with spaces to 8 bytes, as the Rust crate does. */
export function writeSafetensors(header: Record<string, unknown>, data: Buffer, { pad = true, lengthDelta = 0 } = {}): Buffer {
  let json = JSON.stringify(header);
  if (pad) json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Math.max(0, head.length + lengthDelta)));
  return Buffer.concat([length, head, data]);
}

// ---- zip (stored entries, as torch.save writes them) ----

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipEntry {
  name: string;
  data: Buffer;
}

/** Where the structures of a zip are: the EOCD, central directory records and local headers. */
export interface ZipLayout {
  eocd: number;
  zip64Eocd: number;
  central: number[];
  local: number[];
}

export function zipLayout(bytes: Buffer): ZipLayout {
  const eocd = bytes.lastIndexOf(Buffer.from('PK\x05\x06', 'latin1'));
  const zip64Eocd = bytes.lastIndexOf(Buffer.from('PK\x06\x06', 'latin1'));
  const central: number[] = [];
  const local: number[] = [];
  if (eocd < 0 || eocd + 22 > bytes.length) return { eocd: -1, zip64Eocd, central, local };
  const count = bytes.readUInt16LE(eocd + 10);
  let offset = bytes.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff && zip64Eocd >= 0) offset = Number(bytes.readBigUInt64LE(zip64Eocd + 48));
  for (let i = 0; i < count && offset + 46 <= bytes.length && bytes.readUInt32LE(offset) === 0x02014b50; i++) {
    central.push(offset);
    local.push(bytes.readUInt32LE(offset + 42));
    offset += 46 + bytes.readUInt16LE(offset + 28) + bytes.readUInt16LE(offset + 30) + bytes.readUInt16LE(offset + 32);
  }
  return { eocd, zip64Eocd, central, local };
}

/** The entries of a stored zip (sizes from the central directory). */
export function readZip(bytes: Buffer): ZipEntry[] {
  const layout = zipLayout(bytes);
  return layout.central.map((cd) => {
    const nameLength = bytes.readUInt16LE(cd + 28);
    const name = bytes.subarray(cd + 46, cd + 46 + nameLength).toString('utf8');
    const size = bytes.readUInt32LE(cd + 20);
    const local = bytes.readUInt32LE(cd + 42);
    const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    return { name, data: bytes.subarray(start, start + size) };
  });
}

/**
 * A stored zip of `entries`, each entry's data aligned to 64 bytes with an `FB` extra field as
 * PyTorch's writer does; CRCs and sizes are right (no data descriptors, no zip64).
 */
export function writeZip(entries: readonly ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const headerEnd = offset + 30 + nameBytes.length + 4;
    const padding = (64 - (headerEnd % 64)) % 64;
    const extra = Buffer.alloc(4 + padding, 'Z');
    extra.writeUInt16LE(0x4246, 0);
    extra.writeUInt16LE(padding, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);
    parts.push(local, nameBytes, extra, data);
    offset += local.length + nameBytes.length + extra.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, eocd]);
}

// ---- pickle ----

/** How an opcode's argument is encoded. */
export type PickleArg = 'none' | 'u1' | 'u2' | 'i4' | 'u8' | 'f8' | 'line' | 'line2' | 'len1' | 'len4' | 'len8';

const OPCODES: Record<string, PickleArg> = {
  '(': 'none', '.': 'none', '0': 'none', '1': 'none', '2': 'none', N: 'none', R: 'none', a: 'none', b: 'none', d: 'none', '}': 'none',
  e: 'none', l: 'none', ']': 'none', o: 'none', s: 'none', t: 'none', ')': 'none', u: 'none', Q: 'none', '\x81': 'none', '\x85': 'none',
  '\x86': 'none', '\x87': 'none', '\x88': 'none', '\x89': 'none', '\x8f': 'none', '\x90': 'none', '\x91': 'none', '\x92': 'none',
  '\x93': 'none', '\x94': 'none', '\x97': 'none', '\x98': 'none',
  K: 'u1', h: 'u1', q: 'u1', '\x80': 'u1', '\x82': 'u1', M: 'u2', '\x83': 'u2', J: 'i4', j: 'i4', r: 'i4', '\x84': 'i4', '\x95': 'u8', G: 'f8',
  I: 'line', L: 'line', F: 'line', S: 'line', V: 'line', g: 'line', p: 'line', P: 'line', c: 'line2', i: 'line2',
  U: 'len1', C: 'len1', '\x8c': 'len1', '\x8a': 'len1', T: 'len4', X: 'len4', B: 'len4', '\x8b': 'len4', '\x8d': 'len8', '\x8e': 'len8', '\x96': 'len8',
};

export const PICKLE_OPCODES = Object.keys(OPCODES).map((op) => op.charCodeAt(0));

export function opcodeArg(opcode: number): PickleArg | undefined {
  return OPCODES[String.fromCharCode(opcode)];
}

/** One opcode of a pickle: its byte range and where its argument starts. */
export interface PickleOp {
  opcode: number;
  start: number;
  end: number;
}

/** The opcodes of `bytes` up to STOP (or as far as they parse). */
export function parsePickle(bytes: Buffer): PickleOp[] {
  const ops: PickleOp[] = [];
  let i = 0;
  while (i < bytes.length) {
    const opcode = bytes[i];
    const arg = opcodeArg(opcode);
    if (arg === undefined) break;
    let end = i + 1;
    switch (arg) {
      case 'none': break;
      case 'u1': end += 1; break;
      case 'u2': end += 2; break;
      case 'i4': end += 4; break;
      case 'u8': case 'f8': end += 8; break;
      case 'line': end = bytes.indexOf(10, end) + 1; break;
      case 'line2': end = bytes.indexOf(10, bytes.indexOf(10, end) + 1) + 1; break;
      case 'len1': end += 1 + (bytes[end] ?? 0); break;
      case 'len4': end += 4 + (end + 4 <= bytes.length ? bytes.readUInt32LE(end) : 0); break;
      case 'len8': end += 8 + (end + 8 <= bytes.length ? Number(bytes.readBigUInt64LE(end)) : 0); break;
    }
    if (end <= i || end > bytes.length) break;
    ops.push({ opcode, start: i, end });
    i = end;
    if (opcode === 0x2e) break; // STOP
  }
  return ops;
}

/** BININT (or LONG1 beyond 32 bits) pushing `value`. */
export function pickleInt(value: bigint): Buffer {
  if (value >= -(2n ** 31n) && value < 2n ** 31n) {
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(Number(value), 1);
    return b;
  }
  const bytes: number[] = [];
  let v = value;
  for (let k = 0; k < 9; k++) {
    bytes.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return Buffer.from([0x8a, bytes.length, ...bytes]);
}

/** BINUNICODE pushing `text`. */
export function pickleString(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 0x58;
  head.writeUInt32LE(body.length, 1);
  return Buffer.concat([head, body]);
}
