/**
 * Mutators: byte-level (bit flips, interesting values, truncation, insertion, deletion, chunk
 * copies) and structure-aware ones per format — the safetensors length field and JSON header,
 * zip central-directory / local-header / EOCD fields, pickle opcodes and arguments (the zip
 * rebuilt with right CRCs, so the pickle reader is reached), config.json values, tokenizer.json
 * parts (regexes of Split / Replace, vocab ids, templates, padding), vocab.txt lines. Each
 * returns the new bytes and a one-line description of what it did, for the report.
 */
import { opcodeArg, parsePickle, parseSafetensors, PICKLE_OPCODES, pickleInt, pickleString, readZip, writeSafetensors, writeZip, zipLayout } from './formats.js';
import type { Random } from './prng.js';

export interface Mutation {
  bytes: Buffer;
  description: string;
}

export type Mutator = (input: Buffer, rng: Random) => Mutation;

// ---- values ----

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x0a, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d];
const INTERESTING_INTS: bigint[] = [0n, 1n, -1n, 2n, 7n, 8n, 16n, 64n, 255n, 256n, 4096n, 65535n, 65536n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 31n), -(2n ** 63n)];
const INTERESTING_NUMBERS: unknown[] = [0, -0, 1, -1, 2, 3, 31, 32, 33, 63, 64, 65, 512, 513, 4096, 65536, 1e6, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e30, 1e308, -1e308, 0.5, 1.5, -7, 5e-324];
const INTERESTING_JSON: unknown[] = [...INTERESTING_NUMBERS, null, true, false, '', '0', '32', 'NaN', 'gelu', 'x'.repeat(300), [], [1], [32, 32], {}, { a: 1 }];

export function interestingInt(rng: Random): bigint {
  return rng.chance(0.8) ? rng.pick(INTERESTING_INTS) : BigInt(rng.next()) * (rng.chance(0.5) ? 1n : BigInt(rng.next()));
}

export function interestingJson(rng: Random): unknown {
  return rng.pick(INTERESTING_JSON);
}

// ---- byte level ----

function bitFlip(input: Buffer, rng: Random): Mutation {
  const bytes = Buffer.from(input);
  const flips = rng.range(1, 8);
  const at = rng.int(bytes.length);
  for (let i = 0; i < flips; i++) bytes[(at + rng.int(16)) % bytes.length] ^= 1 << rng.int(8);
  return { bytes, description: `flip ${flips} bit(s) near byte ${at}` };
}

function byteSet(input: Buffer, rng: Random): Mutation {
  const bytes = Buffer.from(input);
  const at = rng.int(bytes.length);
  const value = rng.chance(0.7) ? rng.pick(INTERESTING_8) : rng.int(256);
  bytes[at] = value;
  return { bytes, description: `set byte ${at} to 0x${value.toString(16)}` };
}

function intWrite(input: Buffer, rng: Random): Mutation {
  const bytes = Buffer.from(input);
  const width = rng.pick([2, 4, 8]);
  const at = rng.int(Math.max(1, bytes.length - width));
  const value = interestingInt(rng);
  writeInt(bytes, at, width, value);
  return { bytes, description: `write ${width}-byte int ${value} at ${at}` };
}

function writeInt(bytes: Buffer, at: number, width: number, value: bigint): void {
  if (at + width > bytes.length) return;
  const mask = (1n << BigInt(width * 8)) - 1n;
  let v = value & mask;
  for (let i = 0; i < width; i++) {
    bytes[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function truncate(input: Buffer, rng: Random): Mutation {
  const at = rng.chance(0.3) ? input.length - rng.range(1, 8) : rng.int(input.length);
  return { bytes: Buffer.from(input.subarray(0, Math.max(0, at))), description: `truncate to ${Math.max(0, at)} of ${input.length} bytes` };
}

function insert(input: Buffer, rng: Random): Mutation {
  const at = rng.int(input.length + 1);
  const length = rng.pick([1, 1, 2, 4, 8, 64, 4096]);
  const fill = rng.chance(0.5) ? Buffer.alloc(length, rng.pick(INTERESTING_8)) : Buffer.from(Array.from({ length }, () => rng.int(256)));
  return { bytes: Buffer.concat([input.subarray(0, at), fill, input.subarray(at)]), description: `insert ${length} byte(s) at ${at}` };
}

function erase(input: Buffer, rng: Random): Mutation {
  const at = rng.int(input.length);
  const length = Math.min(input.length - at, rng.pick([1, 2, 4, 8, 64, 512]));
  return { bytes: Buffer.concat([input.subarray(0, at), input.subarray(at + length)]), description: `delete ${length} byte(s) at ${at}` };
}

function copyChunk(input: Buffer, rng: Random): Mutation {
  const from = rng.int(input.length);
  const length = Math.min(input.length - from, rng.range(1, 256));
  const to = rng.int(input.length);
  const bytes = Buffer.from(input);
  input.copy(bytes, to, from, from + length);
  return { bytes, description: `copy ${length} byte(s) from ${from} over ${to}` };
}

const BYTE_MUTATORS: Mutator[] = [bitFlip, byteSet, intWrite, truncate, insert, erase, copyChunk];

export function byteMutation(input: Buffer, rng: Random): Mutation {
  if (input.length === 0) return { bytes: Buffer.from([rng.int(256)]), description: 'one random byte (empty input)' };
  return rng.pick(BYTE_MUTATORS)(input, rng);
}

/** A byte mutation confined to `[start, end)` of the input. */
function byteMutationIn(input: Buffer, start: number, end: number, rng: Random, what: string): Mutation {
  const inner = byteMutation(input.subarray(start, end), rng);
  return { bytes: Buffer.concat([input.subarray(0, start), inner.bytes, input.subarray(end)]), description: `${what}: ${inner.description}` };
}

// ---- JSON ----

type Json = unknown;

/** Every path to a value inside `value` (objects and arrays). */
function jsonPaths(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] {
  if (depth > 12 || out.length > 4000) return out;
  if (Array.isArray(value)) value.forEach((item, i) => (out.push([...prefix, i]), jsonPaths(item, [...prefix, i], out, depth + 1)));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) out.push([...prefix, key]), jsonPaths(item, [...prefix, key], out, depth + 1);
  }
  return out;
}

function getPath(root: Json, p: readonly (string | number)[]): Json {
  return p.reduce<Json>((node, key) => (node as Record<string | number, Json>)?.[key], root);
}

function setPath(root: Json, p: readonly (string | number)[], value: Json | typeof DELETE): void {
  const parent = getPath(root, p.slice(0, -1)) as Record<string | number, Json> | Json[];
  const key = p[p.length - 1];
  if (value === DELETE) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Record<string, Json>)[key];
  } else (parent as Record<string | number, Json>)[key] = value;
}

const DELETE = Symbol('delete');

/** A generic JSON value mutation: a random path set to an interesting value, deleted, or its number nudged. */
export function jsonValueMutation(root: Json, rng: Random, paths = jsonPaths(root)): string {
  if (paths.length === 0) return 'no paths';
  const p = rng.pick(paths);
  const old = getPath(root, p);
  const choice = rng.int(5);
  if (choice === 0) {
    setPath(root, p, DELETE);
    return `delete ${p.join('.')}`;
  }
  if (choice === 1 && typeof old === 'number') {
    const value = rng.pick([old + 1, old - 1, old * 2, -old, old * 1000, old + 0.5]);
    setPath(root, p, value);
    return `${p.join('.')}: ${old} → ${value}`;
  }
  if (choice === 2 && typeof old === 'string') {
    const value = rng.pick([old + old, old.slice(1), old.toUpperCase(), `${old}\u0000`, `${old}\ud800`, old.repeat(200)]);
    setPath(root, p, value);
    return `${p.join('.')}: string ${JSON.stringify(old).slice(0, 40)} → ${JSON.stringify(value).slice(0, 60)}`;
  }
  const value = interestingJson(rng);
  setPath(root, p, value);
  return `${p.join('.')} = ${JSON.stringify(value).slice(0, 60)}`;
}

/** Parses, applies `edit`, serialises; an input that does not parse gets a byte mutation instead. */
function jsonMutator(edit: (root: Record<string, Json>, rng: Random) => string, name: string): Mutator {
  return (input, rng) => {
    let root: Record<string, Json>;
    try {
      root = JSON.parse(input.toString('utf8')) as Record<string, Json>;
    } catch {
      return byteMutation(input, rng);
    }
    const description = edit(root, rng);
    return { bytes: Buffer.from(JSON.stringify(root, null, rng.chance(0.5) ? 2 : undefined)), description: `${name}: ${description}` };
  };
}

// ---- safetensors ----

const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'f32', 'X', ''];

function safetensorsLength(input: Buffer, rng: Random): Mutation {
  const bytes = Buffer.from(input);
  const length = bytes.readBigUInt64LE(0);
  const value = rng.pick([length + 1n, length - 1n, length + 8n, length - 8n, 0n, 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(input.length), BigInt(input.length - 7), length * 2n, interestingInt(rng) & (2n ** 64n - 1n)]);
  bytes.writeBigUInt64LE(value < 0n ? 0n : value & (2n ** 64n - 1n), 0);
  return { bytes, description: `safetensors header length ${length} → ${value}` };
}

function safetensorsHeader(input: Buffer, rng: Random): Mutation {
  let parsed;
  try {
    parsed = parseSafetensors(input);
  } catch {
    return byteMutation(input, rng);
  }
  const { header, data } = parsed;
  const names = Object.keys(header).filter((name) => name !== '__metadata__');
  const name = rng.pick(names);
  const entry = header[name] as { dtype: unknown; shape: unknown; data_offsets: unknown };
  let description: string;
  let extraData = data;
  switch (rng.int(10)) {
    case 0:
      entry.dtype = rng.pick(DTYPES);
      description = `${name}.dtype = ${String(entry.dtype)}`;
      break;
    case 1: {
      const shape = [...(entry.shape as number[])];
      const op = rng.int(4);
      if (op === 0 && shape.length > 0) shape[rng.int(shape.length)] = Number(rng.pick(INTERESTING_NUMBERS));
      else if (op === 1) shape.push(rng.pick([1, 0, 2]));
      else if (op === 2) shape.pop();
      else shape.reverse();
      entry.shape = shape;
      description = `${name}.shape = ${JSON.stringify(shape)}`;
      break;
    }
    case 2: {
      const [begin, end] = entry.data_offsets as [number, number];
      const delta = rng.pick([1, -1, 4, -4, 8, 1024, -begin, data.length]);
      entry.data_offsets = rng.chance(0.5) ? [begin + delta, end + delta] : rng.chance(0.5) ? [begin, end + delta] : [begin + delta, end];
      description = `${name}.data_offsets [${begin}, ${end}] → ${JSON.stringify(entry.data_offsets)}`;
      break;
    }
    case 3:
      entry.data_offsets = [rng.pick(INTERESTING_NUMBERS), rng.pick(INTERESTING_NUMBERS)];
      description = `${name}.data_offsets = ${JSON.stringify(entry.data_offsets)}`;
      break;
    case 4:
      delete header[name];
      description = `delete tensor ${name}`;
      break;
    case 5: {
      const other = rng.pick(names);
      header[name] = { ...(header[other] as object) };
      description = `tensor ${name} takes ${other}'s entry`;
      break;
    }
    case 6:
      header[`${name}.extra`] = { ...entry };
      description = `add tensor ${name}.extra aliasing ${name}`;
      break;
    case 7:
      header.__metadata__ = rng.pick([null, 1, [], { format: 1 }, { format: 'pt', x: { y: 1 } }, 'pt']);
      description = `__metadata__ = ${JSON.stringify(header.__metadata__)}`;
      break;
    case 8:
      extraData = rng.chance(0.5) ? Buffer.concat([data, Buffer.alloc(rng.pick([1, 8, 4096]))]) : data.subarray(0, data.length - rng.pick([1, 4, 128]));
      description = `data section ${data.length} → ${extraData.length} bytes`;
      break;
    default:
      description = jsonValueMutation(header, rng);
  }
  const lengthDelta = rng.chance(0.1) ? rng.pick([1, -1, 8]) : 0;
  const bytes = writeSafetensors(header, extraData, { pad: rng.chance(0.9), lengthDelta });
  return { bytes, description: `safetensors header: ${description}${lengthDelta ? `, length field off by ${lengthDelta}` : ''}` };
}

function safetensorsHeaderBytes(input: Buffer, rng: Random): Mutation {
  const length = Number(input.readBigUInt64LE(0));
  return byteMutationIn(input, 8, Math.min(input.length, 8 + length), rng, 'safetensors header bytes');
}

function safetensorsFloats(input: Buffer, rng: Random): Mutation {
  const bytes = Buffer.from(input);
  const start = 8 + Number(bytes.readBigUInt64LE(0));
  const count = rng.pick([1, 1, 4, 32]);
  const value = rng.pick([NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, 0]);
  const at = start + 4 * rng.int(Math.max(1, (bytes.length - start) / 4 - count));
  for (let i = 0; i < count && at + 4 * i + 4 <= bytes.length; i++) bytes.writeFloatLE(value, at + 4 * i);
  return { bytes, description: `safetensors data: ${count} float(s) at ${at} = ${value}` };
}

export const SAFETENSORS_MUTATORS: ReadonlyArray<readonly [number, Mutator]> = [
  [3, safetensorsLength],
  [6, safetensorsHeader],
  [3, safetensorsHeaderBytes],
  [2, safetensorsFloats],
  [3, byteMutation],
];

// ---- zip + pickle (pytorch_model.bin) ----

const CENTRAL_FIELDS: ReadonlyArray<readonly [string, number, number]> = [
  ['flags', 8, 2], ['method', 10, 2], ['crc', 16, 4], ['compressed size', 20, 4], ['uncompressed size', 24, 4], ['name length', 28, 2],
  ['extra length', 30, 2], ['comment length', 32, 2], ['disk', 34, 2], ['local header offset', 42, 4],
];
const LOCAL_FIELDS: ReadonlyArray<readonly [string, number, number]> = [
  ['flags', 6, 2], ['method', 8, 2], ['crc', 14, 4], ['compressed size', 18, 4], ['uncompressed size', 22, 4], ['name length', 26, 2], ['extra length', 28, 2],
];
const EOCD_FIELDS: ReadonlyArray<readonly [string, number, number]> = [
  ['disk', 4, 2], ['cd disk', 6, 2], ['entries on disk', 8, 2], ['entries', 10, 2], ['cd size', 12, 4], ['cd offset', 16, 4], ['comment length', 20, 2],
];
const ZIP64_FIELDS: ReadonlyArray<readonly [string, number, number]> = [['entries', 32, 8], ['cd size', 40, 8], ['cd offset', 48, 8]];

function zipField(input: Buffer, rng: Random): Mutation {
  const layout = zipLayout(input);
  const bytes = Buffer.from(input);
  const where = rng.int(layout.central.length > 0 ? 4 : 1);
  let base: number;
  let field: readonly [string, number, number];
  let label: string;
  if (where === 0 || layout.central.length === 0) {
    if (layout.zip64Eocd >= 0 && rng.chance(0.3)) [base, field, label] = [layout.zip64Eocd, rng.pick(ZIP64_FIELDS), 'zip64 EOCD'];
    else [base, field, label] = [layout.eocd, rng.pick(EOCD_FIELDS), 'EOCD'];
    if (base < 0) return byteMutation(input, rng);
  } else {
    const i = rng.int(layout.central.length);
    if (where === 1) [base, field, label] = [layout.central[i], rng.pick(CENTRAL_FIELDS), `central record ${i}`];
    else [base, field, label] = [layout.local[i], rng.pick(LOCAL_FIELDS), `local header ${i}`];
  }
  const [name, offset, width] = field;
  const old = width === 8 ? bytes.readBigUInt64LE(base + offset) : BigInt(width === 4 ? bytes.readUInt32LE(base + offset) : bytes.readUInt16LE(base + offset));
  const value = rng.pick([old + 1n, old - 1n, 0n, 0xffffn, 0xffffffffn, old * 2n, interestingInt(rng)]);
  writeInt(bytes, base + offset, width, value);
  return { bytes, description: `zip ${label} ${name}: ${old} → ${value & ((1n << BigInt(width * 8)) - 1n)}` };
}

function zipEntries(input: Buffer, rng: Random): Mutation {
  let entries;
  try {
    entries = readZip(input);
  } catch {
    return byteMutation(input, rng);
  }
  if (entries.length === 0) return byteMutation(input, rng);
  const i = rng.int(entries.length);
  let description: string;
  switch (rng.int(5)) {
    case 0:
      description = `drop entry ${entries[i].name}`;
      entries.splice(i, 1);
      break;
    case 1:
      description = `duplicate entry ${entries[i].name}`;
      entries.push(entries[i]);
      break;
    case 2: {
      const name = rng.pick(['../evil', '/abs/data.pkl', entries[i].name.replace('/data/', '/data/../'), `${entries[i].name}x`, 'x/data.pkl', '', 'a'.repeat(300)]);
      description = `rename entry ${entries[i].name} → ${name}`;
      entries[i] = { ...entries[i], name };
      break;
    }
    case 3: {
      const size = rng.pick([0, 1, 3, 4097]);
      description = `entry ${entries[i].name} resized ${entries[i].data.length} → ${size} bytes (CRC right)`;
      entries[i] = { ...entries[i], data: Buffer.alloc(size, 0x41) };
      break;
    }
    default: {
      const inner = byteMutation(entries[i].data, rng);
      description = `entry ${entries[i].name} (CRC right): ${inner.description}`;
      entries[i] = { ...entries[i], data: inner.bytes };
    }
  }
  return { bytes: writeZip(entries), description: `zip: ${description}` };
}

const GLOBALS = [
  'collections\nOrderedDict', 'torch._utils\n_rebuild_tensor_v2', 'torch._utils\n_rebuild_parameter', 'torch\nFloatStorage', 'torch\nHalfStorage', 'torch\nBFloat16Storage',
  'torch\nLongStorage', 'torch\nDoubleStorage', 'torch\nByteStorage', 'torch\nBoolStorage', 'os\nsystem', 'builtins\neval', '__builtin__\nset', 'torch\n_utils', 'torch._utils\n_rebuild_qtensor',
  'torch\nSize', 'torch._tensor\n_rebuild_from_type_v2', 'numpy.core.multiarray\n_reconstruct', '\n', 'a\nb\nc',
];
const STRINGS = ['0', '1', '99', '4294967296', '-1', '', '../0', 'cpu', 'cuda', 'cuda:0', 'meta', 'storage', 'bert.embeddings.word_embeddings.weight', 'x'.repeat(1000), '\u0000', 'a/b'];

/** Bytes of one random opcode with a plausible argument. */
function randomOp(rng: Random): Buffer {
  const opcode = rng.pick(PICKLE_OPCODES);
  switch (opcodeArg(opcode)) {
    case 'u1': return Buffer.from([opcode, rng.pick([0, 1, 2, 255, rng.int(256)])]);
    case 'u2': return Buffer.from([opcode, rng.int(256), rng.int(256)]);
    case 'i4': { const b = Buffer.alloc(5); b[0] = opcode; b.writeInt32LE(Number(BigInt.asIntN(32, interestingInt(rng))), 1); return b; }
    case 'u8': case 'f8': { const b = Buffer.alloc(9); b[0] = opcode; b.writeBigUInt64LE(BigInt.asUintN(64, interestingInt(rng)), 1); return b; }
    case 'line': return Buffer.from([opcode, ...Buffer.from(`${rng.pick(['0', '1', '-1', '99999999999999999999', 'x', "'a'"])}\n`)]);
    case 'line2': return Buffer.from([opcode, ...Buffer.from(`${rng.pick(GLOBALS)}\n`)]);
    case 'len1': { const s = Buffer.from(rng.pick(STRINGS).slice(0, 255)); return Buffer.from([opcode, s.length, ...s]); }
    case 'len4': { const s = Buffer.from(rng.pick(STRINGS)); const b = Buffer.alloc(5); b[0] = opcode; b.writeUInt32LE(s.length, 1); return Buffer.concat([b, s]); }
    case 'len8': { const s = Buffer.from(rng.pick(STRINGS)); const b = Buffer.alloc(9); b[0] = opcode; b.writeBigUInt64LE(BigInt(s.length), 1); return Buffer.concat([b, s]); }
    default: return Buffer.from([opcode]);
  }
}

/** A mutation of one pickle: opcode-aware where it parses. */
export function pickleMutation(input: Buffer, rng: Random): Mutation {
  const ops = parsePickle(input);
  if (ops.length < 2) return byteMutation(input, rng);
  const splice = (start: number, end: number, replacement: Buffer) => Buffer.concat([input.subarray(0, start), replacement, input.subarray(end)]);
  const choice = rng.int(10);
  const ints = ops.filter((op) => [0x4b, 0x4d, 0x4a, 0x8a].includes(op.opcode));
  const strings = ops.filter((op) => [0x58, 0x8c, 0x55].includes(op.opcode));
  const globals = ops.filter((op) => op.opcode === 0x63);
  const op = rng.pick(ops);
  const name = (o: typeof op) => `${String.fromCharCode(o.opcode).replace(/[^\x21-\x7e]/, `\\x${o.opcode.toString(16)}`)}@${o.start}`;
  if (choice <= 2 && ints.length > 0) {
    const target = rng.pick(ints);
    const value = interestingInt(rng);
    return { bytes: splice(target.start, target.end, pickleInt(value)), description: `pickle int ${name(target)} → ${value}` };
  }
  if (choice === 3 && strings.length > 0) {
    const target = rng.pick(strings);
    const value = rng.pick(STRINGS);
    return { bytes: splice(target.start, target.end, pickleString(value)), description: `pickle string ${name(target)} → ${JSON.stringify(value.slice(0, 40))}` };
  }
  if (choice === 4 && globals.length > 0) {
    const target = rng.pick(globals);
    const value = rng.pick(GLOBALS);
    return { bytes: splice(target.start, target.end, Buffer.from(`c${value}\n`)), description: `pickle GLOBAL ${name(target)} → ${JSON.stringify(value)}` };
  }
  switch (choice) {
    case 5:
      return { bytes: splice(op.start, op.end, Buffer.alloc(0)), description: `pickle delete ${name(op)}` };
    case 6:
      return { bytes: splice(op.start, op.start, input.subarray(op.start, op.end)), description: `pickle duplicate ${name(op)}` };
    case 7: {
      const added = randomOp(rng);
      return { bytes: splice(op.start, op.start, added), description: `pickle insert opcode 0x${added[0].toString(16)} before ${name(op)}` };
    }
    case 8: {
      const depth = rng.pick([1000, 100000]);
      const bomb = rng.chance(0.5) ? Buffer.alloc(depth, 0x28) : Buffer.from(Array.from({ length: depth }, (_, i) => (i % 2 ? 0x71 : 0x5d)).map((b, i) => (i % 2 ? i & 0xff : b)));
      return { bytes: splice(op.start, op.start, bomb), description: `pickle insert ${depth} bytes of ${bomb[0] === 0x28 ? 'MARKs' : 'EMPTY_LIST/BINPUT'} before ${name(op)}` };
    }
    default: {
      const next = rng.pick(ops.filter((o) => o.start > op.start)) ?? op;
      const a = input.subarray(op.start, op.end);
      const b = input.subarray(next.start, next.end);
      if (next === op) return { bytes: splice(op.start, op.end, randomOp(rng)), description: `pickle replace ${name(op)}` };
      return {
        bytes: Buffer.concat([input.subarray(0, op.start), b, input.subarray(op.end, next.start), a, input.subarray(next.end)]),
        description: `pickle swap ${name(op)} and ${name(next)}`,
      };
    }
  }
}

function pickleInZip(input: Buffer, rng: Random): Mutation {
  let entries;
  try {
    entries = readZip(input);
  } catch {
    return byteMutation(input, rng);
  }
  const i = entries.findIndex((entry) => entry.name.endsWith('data.pkl'));
  if (i < 0) return zipEntries(input, rng);
  const inner = pickleMutation(entries[i].data, rng);
  entries[i] = { ...entries[i], data: inner.bytes };
  return { bytes: writeZip(entries), description: inner.description };
}

export const BIN_MUTATORS: ReadonlyArray<readonly [number, Mutator]> = [
  [4, zipField],
  [3, zipEntries],
  [9, pickleInZip],
  [2, byteMutation],
];

// ---- config.json ----

const CONFIG_KEYS = [
  'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'vocab_size', 'max_position_embeddings', 'type_vocab_size', 'layer_norm_eps',
  'pad_token_id', 'hidden_act', 'num_labels', 'id2label', 'label2id', 'model_type', 'architectures', 'position_embedding_type', 'torch_dtype', 'classifier_dropout',
  'sentence_transformers', 'head_dim', 'problem_type', 'tie_word_embeddings', 'activation_function',
];
const CONFIG_VALUES: unknown[] = [
  ...INTERESTING_NUMBERS, 65536, 16384, 100000, 1024, 2048, 30522, -32, 31.5, '32', null, true, [], {}, 'gelu_new', 'relu', 'silu', 'tanh', 'quick_gelu', 'gelu_pytorch_tanh', 'nope',
  'roberta', 'xlm-roberta', 'distilbert', 'electra', 'modernbert', 'relative_key', 'float16', 'bfloat16', { activation_fn: 'torch.nn.modules.activation.Sigmoid' },
  { 0: 'a', 1: 'b', 2: 'c' }, { '-1': 'x' }, { 1000000: 'x' }, ['BertModel'], ['XForSequenceClassification'],
];

function configEdit(root: Record<string, Json>, rng: Random): string {
  const choice = rng.int(6);
  if (choice <= 3) {
    const key = rng.pick(CONFIG_KEYS);
    const value = rng.pick(CONFIG_VALUES);
    root[key] = value;
    let description = `${key} = ${JSON.stringify(value).slice(0, 60)}`;
    if (rng.chance(0.3)) {
      const other = rng.pick(CONFIG_KEYS);
      root[other] = rng.pick(CONFIG_VALUES);
      description += `, ${other} = ${JSON.stringify(root[other]).slice(0, 60)}`;
    }
    return description;
  }
  if (choice === 4) {
    const key = rng.pick(Object.keys(root));
    delete root[key];
    return `delete ${key}`;
  }
  return jsonValueMutation(root, rng);
}

export const CONFIG_MUTATORS: ReadonlyArray<readonly [number, Mutator]> = [
  [8, jsonMutator(configEdit, 'config')],
  [1, byteMutation],
];

// ---- tokenizer.json and friends ----

export const REGEXES = [
  '(a+)+$', '(a|a)*b', '(a|aa)+$', '(.*a){12}', '([a-z]+)*!', '(?=a)', '(?<=a)b', '(?<!x)', '\\1', '(a)\\1+', '[', '(', ')', '*', 'a{2,1}', 'a{1000000}', 'a{0,65535}{0,65535}',
  '(?i)a', '\\p{L}+', '\\p{Nope}', '\\X', '', '.', '.*', '\\s+', '\\w+|[^\\w\\s]+', "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  '((((((((((a))))))))))', '(?:a?){30}a{30}', '\\u{110000}', '\\x{D800}', '(?<n>a)\\k<n>', '(?>a+)b', 'a++b', '\\G', '^|$', '\\b', '(?m)^', '[\\s\\S]{1,100000}', 'x'.repeat(5000),
];

function regexPattern(rng: Random): { Regex: string } | { String: string } {
  return rng.chance(0.85) ? { Regex: rng.pick(REGEXES) } : { String: rng.pick(['', ' ', 'a', '##', '\u0000', 'x'.repeat(1000)]) };
}

function tokenizerEdit(root: Record<string, Json>, rng: Random): string {
  const model = (root.model ?? {}) as Record<string, Json>;
  const vocab = (model.vocab ?? {}) as Record<string, number>;
  const tokens = Object.keys(vocab);
  switch (rng.int(12)) {
    case 0: {
      const split = { type: 'Split', pattern: regexPattern(rng), behavior: rng.pick(['Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous', 'Nope']), invert: rng.chance(0.3) };
      root.pre_tokenizer = rng.chance(0.5) ? split : { type: 'Sequence', pretokenizers: [split, { type: 'BertPreTokenizer' }] };
      return `pre_tokenizer Split ${JSON.stringify(split.pattern).slice(0, 60)} ${split.behavior}${split.invert ? ' inverted' : ''}`;
    }
    case 1: {
      const replace = { type: 'Replace', pattern: regexPattern(rng), content: rng.pick(['', ' ', 'aa', 'x'.repeat(100), '$1']) };
      root.normalizer = rng.chance(0.5) ? replace : { type: 'Sequence', normalizers: [root.normalizer, replace] };
      return `normalizer Replace ${JSON.stringify(replace.pattern).slice(0, 60)} → ${JSON.stringify(replace.content).slice(0, 20)}`;
    }
    case 2: {
      const token = rng.pick(tokens);
      const id = Number(rng.pick([...INTERESTING_NUMBERS, tokens.length, tokens.length + 1, 511, 512]));
      vocab[token] = id;
      return `model.vocab[${JSON.stringify(token)}] = ${id}`;
    }
    case 3: {
      const count = rng.pick([1, 10, 1000]);
      for (let i = 0; i < count; i++) vocab[`extra${i}`] = tokens.length + i;
      return `model.vocab gets ${count} tokens past vocab_size`;
    }
    case 4: {
      const key = rng.pick(['unk_token', 'continuing_subword_prefix', 'max_input_chars_per_word', 'type']);
      const value = rng.pick([null, '', 'nope', 0, -1, 1, 2 ** 31, 'WordPiece', 'BPE', 'Unigram', 'WordLevel', '[NOPE]', '[CLS]', '##', '']);
      model[key] = value;
      return `model.${key} = ${JSON.stringify(value)}`;
    }
    case 5: {
      const added = (root.added_tokens ?? []) as Record<string, Json>[];
      if (added.length === 0) return 'no added_tokens';
      const token = rng.pick(added);
      const key = rng.pick(['id', 'content', 'special', 'lstrip', 'rstrip', 'normalized', 'single_word']);
      token[key] = rng.pick([...INTERESTING_NUMBERS, '', 'a', ' ', '[CLS]', null, true, false]);
      return `added_tokens[${String(token.content)}].${key} = ${JSON.stringify(token[key])}`;
    }
    case 6: {
      const processor = root.post_processor as Record<string, Json> | null;
      const specials = (processor?.special_tokens ?? {}) as Record<string, Record<string, Json>>;
      const names = Object.keys(specials);
      if (rng.chance(0.4) || names.length === 0) {
        const paths = jsonPaths(processor).filter((p) => p.includes('pair') || p.includes('single'));
        return `post_processor: ${jsonValueMutation(processor, rng, paths.length > 0 ? paths : undefined)}`;
      }
      const name = rng.pick(names);
      specials[name].ids = rng.pick([[], [Number(rng.pick(INTERESTING_NUMBERS))], [2, 3], [-1], Array.from({ length: 1000 }, () => 2)]);
      return `post_processor.special_tokens[${name}].ids = ${JSON.stringify(specials[name].ids).slice(0, 40)}`;
    }
    case 7: {
      const typeId = rng.pick([1, 2, 5, -1, 2 ** 31, 1.5]);
      const processor = root.post_processor as { pair?: Record<string, { type_id: number }>[] } | null;
      const piece = processor?.pair ? rng.pick(processor.pair) : undefined;
      if (piece) Object.values(piece)[0].type_id = typeId;
      return `post_processor pair type_id = ${typeId}`;
    }
    case 8:
      root.padding = { strategy: rng.pick(['BatchLongest', { Fixed: rng.pick([0, 1, 64, 65, 100000, 2 ** 31]) }]), direction: rng.pick(['Right', 'Left']), pad_to_multiple_of: rng.pick([null, 0, 3, 1e6]), pad_id: rng.pick([0, -1, 1e6]), pad_type_id: rng.pick([0, 5]), pad_token: '[PAD]' };
      return `padding = ${JSON.stringify(root.padding)}`;
    case 9:
      root.truncation = { direction: rng.pick(['Right', 'Left']), max_length: rng.pick([0, 1, 2, 3, 64, 100000, -1]), strategy: rng.pick(['LongestFirst', 'OnlyFirst', 'OnlySecond']), stride: rng.pick([0, 1, 1000]) };
      return `truncation = ${JSON.stringify(root.truncation)}`;
    case 10:
      root[rng.pick(['normalizer', 'pre_tokenizer', 'post_processor', 'decoder', 'model'])] = rng.pick([null, {}, { type: 'Nope' }, { type: 'BertNormalizer', lowercase: 'yes' }, { type: 'ByteLevel' }, { type: 'Metaspace', replacement: '' }, { type: 'Precompiled', precompiled_charsmap: 'AAAA' }, { type: 'NFKC' }, 1, []]);
      return 'replace a component';
    default:
      return jsonValueMutation(root, rng);
  }
}

export const TOKENIZER_MUTATORS: ReadonlyArray<readonly [number, Mutator]> = [
  [10, jsonMutator(tokenizerEdit, 'tokenizer.json')],
  [1, byteMutation],
];

function tokenizerConfigEdit(root: Record<string, Json>, rng: Random): string {
  if (rng.chance(0.6)) {
    const key = rng.pick(['model_max_length', 'do_lower_case', 'strip_accents', 'tokenize_chinese_chars', 'cls_token', 'sep_token', 'pad_token', 'unk_token', 'mask_token', 'tokenizer_class', 'added_tokens_decoder', 'max_length', 'truncation_side', 'padding_side']);
    const value = rng.pick([...INTERESTING_NUMBERS, 1e30, '[NOPE]', '[CLS]', '', null, true, 'yes', { content: '[CLS]' }, { content: 7 }, { __type: 'AddedToken', content: '[SEP]' }, 'left', 'XLMRobertaTokenizer']);
    root[key] = value;
    return `${key} = ${JSON.stringify(value)}`;
  }
  return jsonValueMutation(root, rng);
}

export const TOKENIZER_CONFIG_MUTATORS: ReadonlyArray<readonly [number, Mutator]> = [
  [8, jsonMutator(tokenizerConfigEdit, 'tokenizer config')],
  [1, byteMutation],
];

// ---- vocab.txt ----

const LINES = ['', ' ', '[UNK]', '[CLS]', '[SEP]', '[PAD]', '##', '#', '\u0000', '\r', '\ufeff[PAD]', 'a b', 'ä', '\u0301', '\ud83d\ude00', 'x'.repeat(10000), '\t', '\u2028'];

function vocabEdit(input: Buffer, rng: Random): Mutation {
  const lines = input.toString('utf8').split('\n');
  const i = rng.int(lines.length);
  let description: string;
  switch (rng.int(8)) {
    case 0: description = `delete line ${i} ${JSON.stringify(lines[i])}`; lines.splice(i, 1); break;
    case 1: description = `duplicate line ${i} ${JSON.stringify(lines[i])}`; lines.splice(i, 0, lines[i]); break;
    case 2: { const j = rng.int(lines.length); [lines[i], lines[j]] = [lines[j], lines[i]]; description = `swap lines ${i} and ${j}`; break; }
    case 3: { const line = rng.pick(LINES); lines.splice(i, 0, line); description = `insert line ${JSON.stringify(line).slice(0, 30)} at ${i}`; break; }
    case 4: { const count = rng.pick([1, 10, 1000, 100000]); lines.push(...Array.from({ length: count }, (_, k) => `extra${k}`)); description = `append ${count} lines (past vocab_size)`; break; }
    case 5: { const keep = rng.int(lines.length); lines.length = keep; description = `keep the first ${keep} lines`; break; }
    case 6: { const text = lines.join(rng.pick(['\r\n', '\r', '\n\n'])); return { bytes: Buffer.from(text), description: 'vocab.txt with other line ends' }; }
    default: return byteMutation(input, rng);
  }
  return { bytes: Buffer.from(lines.join('\n')), description: `vocab.txt: ${description}` };
}

export const VOCAB_MUTATORS: ReadonlyArray<readonly [number, Mutator]> = [[1, vocabEdit]];
