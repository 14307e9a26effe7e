/**
 * Loading models from bad or unusual files: each problem is a typed error whose message names
 * the file and what is wrong; unusual but valid checkpoints (legacy buffers, base encoders) load.
 * The bad files are built from the tiny test model's bytes in temporary directories.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import {
  CrossEncoder,
  type CrossEncoderError,
  InvalidArgumentError,
  ModelFormatError,
  ModelNotFoundError,
} from '../lib/index.js';

import type { ConfigJson } from '../lib/model/config.js';
import { bertNativeConfig, bertParameterCount } from '../lib/model/families/bert.js';
import { NativeModel } from '../lib/native.js';

import { testModel } from './helpers/models.js';
import { PYTHON } from './helpers/python.js';

// ---------------------------------------------------------------------------------------------
// safetensors by hand: 8-byte little-endian header length, JSON header, raw data.

interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}
type Header = Record<string, TensorInfo>;

interface Safetensors {
  header: Header;
  metadata?: Record<string, string>;
  data: Buffer;
}

function parseSafetensors(bytes: Buffer): Safetensors {
  const length = Number(bytes.readBigUInt64LE(0));
  const { __metadata__: metadata, ...header } = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  return { header, metadata, data: bytes.subarray(8 + length) };
}

/** Header bytes as written: the JSON padded with spaces to a multiple of 8, after its length. */
function headerBytes(json: string): Buffer {
  const text = json.padEnd(Math.ceil(json.length / 8) * 8, ' ');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  return Buffer.concat([length, Buffer.from(text)]);
}

function serialize({ header, metadata, data }: Safetensors): Buffer {
  return Buffer.concat([headerBytes(JSON.stringify(metadata ? { __metadata__: metadata, ...header } : header)), data]);
}

/** The tensors of a file as name → raw bytes, to rebuild a file with some removed or added. */
function tensorBytes({ header, data }: Safetensors): Map<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  return new Map(
    Object.entries(header).map(([name, { dtype, shape, data_offsets: [begin, end] }]) => [name, { dtype, shape, bytes: data.subarray(begin, end) }]),
  );
}

/** A well-formed file holding exactly these tensors, packed in order. */
function packSafetensors(tensors: Map<string, { dtype: string; shape: number[]; bytes: Buffer }>): Buffer {
  const header: Header = {};
  let offset = 0;
  for (const [name, { dtype, shape, bytes }] of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  return serialize({ header, metadata: { format: 'pt' }, data: Buffer.concat([...tensors.values()].map((t) => t.bytes)) });
}

// ---------------------------------------------------------------------------------------------

const TINY = testModel('tiny');
const SIDE_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];
const PAIRS = [
  ['How many people live in Berlin?', 'Berlin has 3.5 million inhabitants.'],
  ['what is a cross-encoder', 'A cross-encoder reads the query and the document together.'],
] as const;

let workDir: string;
let tinyWeights: Buffer;
let tiny: Safetensors;
let tinyScores: Float32Array;
let dirCount = 0;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'tce-model-loading-'));
  tinyWeights = await readFile(path.join(TINY, 'model.safetensors'));
  tiny = parseSafetensors(tinyWeights);
  tinyScores = (await (await CrossEncoder.fromPretrained(TINY)).predict(PAIRS)) as Float32Array;
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A copy of the tiny model's directory in which `files` (name → bytes or JSON value) replace or
 * add files; `weights` replaces model.safetensors (null: no weights file at all).
 */
async function modelDir(options: { files?: Record<string, Buffer | string | object>; weights?: Buffer | null; omit?: string[] } = {}): Promise<string> {
  const dir = path.join(workDir, `model-${++dirCount}`);
  await mkdir(dir);
  for (const file of SIDE_FILES) if (!options.omit?.includes(file)) await copyFile(path.join(TINY, file), path.join(dir, file));
  if (options.weights !== null) await writeFile(path.join(dir, 'model.safetensors'), options.weights ?? tinyWeights);
  for (const [file, content] of Object.entries(options.files ?? {})) {
    const bytes = Buffer.isBuffer(content) || typeof content === 'string' ? content : JSON.stringify(content);
    await writeFile(path.join(dir, file), bytes);
  }
  return dir;
}

async function tinyConfig(changes: Record<string, unknown>): Promise<ConfigJson> {
  const config = JSON.parse(await readFile(path.join(TINY, 'config.json'), 'utf8'));
  return { ...config, ...changes };
}

/** Awaits a rejection and checks its class, its stable code and every message pattern. */
async function expectError(
  promise: Promise<unknown>,
  type: new (message: string) => CrossEncoderError,
  ...patterns: Array<RegExp | string>
): Promise<CrossEncoderError> {
  const error = await promise.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  const typed = error as CrossEncoderError;
  expect(typed.code).toBe(new type('').code);
  for (const pattern of patterns) expect(typed.message).toMatch(pattern);
  return typed;
}

describe('model directory and config.json', () => {
  it('a path that does not exist: ModelNotFoundError naming it', async () => {
    const missing = path.join(workDir, 'no', 'such', 'model');
    await expectError(CrossEncoder.fromPretrained(missing), ModelNotFoundError, missing);
  });

  it('a directory without config.json: ModelFormatError', async () => {
    const dir = await modelDir({ omit: ['config.json'] });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, dir, /config\.json/);
  });

  it('an unsupported model_type: ModelFormatError naming it and the supported ones', async () => {
    const dir = await modelDir({ files: { 'config.json': await tinyConfig({ model_type: 'gpt2' }) } });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, /'gpt2'/, /supported: bert, electra, modernbert, roberta, xlm-roberta/, path.join(dir, 'config.json'));
  });

  it('a malformed config.json: ModelFormatError naming the file', async () => {
    const dir = await modelDir({ files: { 'config.json': '{"model_type": "bert", "hidden_size": 32,' } });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, path.join(dir, 'config.json'), /not valid JSON/);
  });

  it('config.json holding an array: ModelFormatError', async () => {
    const dir = await modelDir({ files: { 'config.json': '[1, 2]' } });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, /must hold a JSON object/);
  });

  it('a config field of the wrong type: ModelFormatError naming the field', async () => {
    const dir = await modelDir({ files: { 'config.json': await tinyConfig({ hidden_size: '32' }) } });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, /"hidden_size" must be a number/);
  });

  it('no weights file: ModelFormatError listing the names looked for', async () => {
    const dir = await modelDir({ weights: null });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, /model\.safetensors/, /pytorch_model\.bin/);
  });
});

describe('corrupt model.safetensors', () => {
  const load = async (weights: Buffer) => {
    const dir = await modelDir({ weights });
    return { dir, file: path.join(dir, 'model.safetensors'), promise: CrossEncoder.fromPretrained(dir) };
  };

  it('a header length larger than the file', async () => {
    const weights = Buffer.from(tinyWeights);
    weights.writeBigUInt64LE(BigInt(tinyWeights.length)); // 8 bytes more than what follows
    const { file, promise } = await load(weights);
    await expectError(promise, ModelFormatError, file, /header length \d+ exceeds the file size/);
  });

  it('a file shorter than the 8-byte header length', async () => {
    const { file, promise } = await load(Buffer.from([1, 2, 3]));
    // fromPretrained finds it too small for config.json's model before reading it; the reader
    // itself names the format problem.
    await expectError(promise, ModelFormatError, file, /can hold at most 1 even as float16/);
    const native = new NativeModel(bertNativeConfig(await tinyConfig({}), 1, 'config.json'));
    await expectError(native.loadWeights(file), ModelFormatError, file, /too short/);
    await native.dispose();
  });

  it('a truncated file: tensors past the end of the data', async () => {
    const { file, promise } = await load(tinyWeights.subarray(0, tinyWeights.length / 2));
    await expectError(promise, ModelFormatError, file, /tensor '[^']+' has data_offsets \[\d+, \d+\] past the end of the data section/);
  });

  it('data_offsets past the end of the file', async () => {
    const header = structuredClone(tiny.header);
    const name = 'bert.pooler.dense.bias';
    const [begin] = header[name].data_offsets;
    header[name].data_offsets = [begin + tiny.data.length, begin + tiny.data.length + 128];
    const { file, promise } = await load(serialize({ ...tiny, header }));
    await expectError(promise, ModelFormatError, file, `tensor '${name}'`, /past the end of the data section/);
  });

  it('a shape that does not match its bytes', async () => {
    const header = structuredClone(tiny.header);
    const name = 'bert.pooler.dense.bias';
    expect(header[name].shape).toEqual([32]);
    header[name].shape = [33];
    const { promise } = await load(serialize({ ...tiny, header }));
    await expectError(promise, ModelFormatError, `tensor '${name}'`, /declares shape \[33\] \(132 bytes as F32\) but its data_offsets span 128 bytes/);
  });

  it('an invalid JSON header', async () => {
    const json = JSON.stringify({ __metadata__: tiny.metadata, ...tiny.header });
    const broken = headerBytes(json.slice(0, -40)); // cut inside the last entry
    const { file, promise } = await load(Buffer.concat([broken, tiny.data]));
    await expectError(promise, ModelFormatError, file, /invalid JSON/);
  });

  it('a header that is not an object', async () => {
    const { file, promise } = await load(Buffer.concat([headerBytes('[1, 2, 3]'), tiny.data]));
    await expectError(promise, ModelFormatError, file, /header is a JSON array, expected an object/);
  });

  it('an unknown dtype', async () => {
    const header = structuredClone(tiny.header);
    const name = 'classifier.bias';
    header[name].dtype = 'Q4_K';
    const { promise } = await load(serialize({ ...tiny, header }));
    await expectError(promise, ModelFormatError, `tensor '${name}'`, /unsupported dtype 'Q4_K'/, /supported: .*F32/);
  });

  it('a header length one byte short (every tensor shifted): refused, not loaded as NaN scores', async () => {
    // The header's JSON ends in padding spaces, so one byte less still parses.
    const json = JSON.stringify({ __metadata__: tiny.metadata, ...tiny.header });
    const padded = headerBytes(`${json} `);
    padded.writeBigUInt64LE(padded.readBigUInt64LE(0) - 1n);
    const { file, promise } = await load(Buffer.concat([padded, tiny.data]));
    await expectError(promise, ModelFormatError, file, /1 trailing bytes belong to no tensor/);
  });

  it('bytes between two tensors', async () => {
    const header = structuredClone(tiny.header);
    const [name] = Object.entries(header).sort(([, a], [, b]) => b.data_offsets[0] - a.data_offsets[0])[0];
    header[name].data_offsets = [header[name].data_offsets[0] + 4, header[name].data_offsets[1] + 4];
    const { file, promise } = await load(serialize({ ...tiny, header, data: Buffer.concat([tiny.data, Buffer.alloc(4)]) }));
    await expectError(promise, ModelFormatError, file, `tensor '${name}'`, /leaves a gap after tensor/);
  });

  it('trailing bytes after the last tensor', async () => {
    const { file, promise } = await load(Buffer.concat([tinyWeights, Buffer.alloc(16)]));
    await expectError(promise, ModelFormatError, file, /16 trailing bytes belong to no tensor/);
  });

  it('a NaN or an infinity in a weight: refused at load, naming the tensor', async () => {
    for (const [value, shown] of [[Number.NaN, 'nan'], [Number.POSITIVE_INFINITY, 'inf']] as const) {
      const data = Buffer.from(tiny.data);
      const name = 'bert.encoder.layer.0.output.dense.weight';
      data.writeFloatLE(value, tiny.header[name].data_offsets[0] + 4 * 7);
      const { file, promise } = await load(serialize({ ...tiny, data }));
      await expectError(promise, ModelFormatError, file, `tensor '${name}' holds 1 non-finite value (the first, ${shown}, at flat index 7)`);
    }
  });

  it('overlapping tensors', async () => {
    const header = structuredClone(tiny.header);
    const [a, b] = ['bert.pooler.dense.bias', 'classifier.bias'];
    header[b].data_offsets = [header[a].data_offsets[0], header[a].data_offsets[0] + 4];
    const { promise } = await load(serialize({ ...tiny, header }));
    await expectError(promise, ModelFormatError, /overlap/, `'${b}'`);
  });
});

describe('a config.json asking for a huge model', () => {
  // Each would allocate gigabytes if the native model were built first.
  for (const [what, changes] of [
    ['hidden_size 65536', { hidden_size: 65536, num_attention_heads: 1 }],
    ['1024 layers', { num_hidden_layers: 1024 }],
    ['a vocabulary of 2^31 tokens', { vocab_size: 2 ** 31 - 1 }],
  ] as const) {
    it(`${what}: refused before allocating, naming the weights file that cannot hold it`, async () => {
      const dir = await modelDir({ files: { 'config.json': await tinyConfig(changes) } });
      const before = process.resourceUsage().maxRSS;
      const error = await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, path.join(dir, 'config.json'));
      expect(error.message).toMatch(/can hold at most [\d,]+ even as float16|over the maxModelBytes limit/);
      expect((process.resourceUsage().maxRSS - before) * 1024).toBeLessThan(200e6);
    });
  }

  it('the parameter count the check uses is the model\'s: the tiny checkpoint\'s element count', async () => {
    const config = await tinyConfig({});
    const count = bertParameterCount(bertNativeConfig(config, 1, 'config.json'));
    const stored = Object.entries(tiny.header)
      .filter(([name]) => !name.endsWith('position_ids'))
      .reduce((sum, [, info]) => sum + info.shape.reduce((a, b) => a * b, 1), 0);
    expect(count.total).toBe(stored);
    expect(count.head).toBe(32 + 1);
  });

  it('maxModelBytes: a model above it is refused, also from a config alone', async () => {
    const config = await tinyConfig({});
    await expectError(CrossEncoder.fromPretrained(TINY, { maxModelBytes: 1e6 }), ModelFormatError, /over the maxModelBytes limit of 0\.001 GB/);
    await expectError(CrossEncoder.fromConfig(config, TINY, { maxModelBytes: 1e6 }), ModelFormatError, /over the maxModelBytes limit/);
    await expectError(CrossEncoder.fromPretrained(TINY, { maxModelBytes: -1 }), InvalidArgumentError, /maxModelBytes must be a positive number/);
    await (await CrossEncoder.fromPretrained(TINY, { maxModelBytes: tinyWeights.length * 2 })).dispose();
  });
});

describe('tensors that do not fit config.json', () => {
  it('a tensor whose shape disagrees with the config: names the tensor and both shapes', async () => {
    const dir = await modelDir({ files: { 'config.json': await tinyConfig({ intermediate_size: 48 }) } });
    await expectError(
      CrossEncoder.fromPretrained(dir),
      ModelFormatError,
      /tensor 'bert\.encoder\.layer\.\d\.(intermediate|output)\.dense\.(weight|bias)' has shape \[\d+(, \d+)?\] but the model \(from config\.json\) expects \[\d+(, \d+)?\]/,
    );
  });

  it('numLabels that disagrees with the checkpoint head: names classifier.weight', async () => {
    await expectError(
      CrossEncoder.fromPretrained(TINY, { numLabels: 3 }),
      ModelFormatError,
      /tensor 'classifier\.(weight|bias)' has shape \[1(, 32)?\] but the model \(from config\.json\) expects \[3(, 32)?\]/,
    );
  });

  it('missing tensors: lists them', async () => {
    const tensors = tensorBytes(tiny);
    const removed = ['bert.encoder.layer.1.output.dense.bias', 'bert.pooler.dense.weight'];
    for (const name of removed) expect(tensors.delete(name)).toBe(true);
    const dir = await modelDir({ weights: packSafetensors(tensors) });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, /missing tensors: /, ...removed);
  });

  it('unexpected tensors: lists them', async () => {
    const tensors = tensorBytes(tiny);
    const extra = ['bert.encoder.layer.2.output.dense.bias', 'some.other.weight'];
    for (const name of extra) tensors.set(name, { dtype: 'F32', shape: [32], bytes: Buffer.alloc(128) });
    const dir = await modelDir({ weights: packSafetensors(tensors) });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, /unexpected tensors: /, ...extra);
  });

  it('only classifier.bias missing: the loaded classifier.weight is kept, the bias starts at 0', async () => {
    const tensors = tensorBytes(tiny);
    const bias = tensors.get('classifier.bias')!.bytes.readFloatLE(0);
    tensors.delete('classifier.bias');
    const dir = await modelDir({ weights: packSafetensors(tensors) });
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const withoutBias = (await (await CrossEncoder.fromPretrained(dir)).predict(PAIRS, { activation: 'identity' })) as Float32Array;
    const original = (await (await CrossEncoder.fromPretrained(TINY)).predict(PAIRS, { activation: 'identity' })) as Float32Array;
    expect(warning).toHaveBeenCalledWith(expect.stringContaining('classifier.bias'), 'CrossEncoderWarning');
    for (let i = 0; i < PAIRS.length; i++) expect(withoutBias[i]).toBeCloseTo(original[i] - bias, 5);
  });

  it('a float tensor stored with an integer dtype', async () => {
    const header = structuredClone(tiny.header);
    header['classifier.bias'].dtype = 'I32';
    const dir = await modelDir({ weights: serialize({ ...tiny, header }) });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, /'classifier\.bias' has an integer dtype/);
  });
});

describe('unusual but valid checkpoints', () => {
  const I64 = 8;
  const positionIds = () => {
    const bytes = Buffer.alloc(512 * I64);
    for (let i = 0; i < 512; i++) bytes.writeBigInt64LE(BigInt(i), i * I64);
    return { dtype: 'I64', shape: [1, 512], bytes };
  };

  it('accepts the legacy bert.embeddings.position_ids buffer and scores as without it', async () => {
    const tensors = new Map([['bert.embeddings.position_ids', positionIds()], ...tensorBytes(tiny)]);
    const dir = await modelDir({ weights: packSafetensors(tensors) });
    const warn = vi.spyOn(process, 'emitWarning');
    const model = await CrossEncoder.fromPretrained(dir);
    expect(warn).not.toHaveBeenCalled();
    expect(await model.predict(PAIRS)).toEqual(tinyScores);
  });

  it('reads the F16 checkpoint of the same weights (scores within f16 rounding of tiny)', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny-f16'));
    const scores = (await model.predict(PAIRS)) as Float32Array;
    scores.forEach((score, i) => expect(Math.abs(score - tinyScores[i])).toBeLessThan(1e-2));
  });

  describe.each([
    { variant: 'with the bert. prefix', rename: (name: string) => name },
    { variant: 'without the bert. prefix (a bare BertModel)', rename: (name: string) => name.replace(/^bert\./, '') },
  ])('a base encoder without a classification head, $variant', ({ rename }) => {
    let dir: string;
    beforeAll(async () => {
      const tensors = new Map(
        [...tensorBytes(tiny)].filter(([name]) => !name.startsWith('classifier.')).map(([name, tensor]) => [rename(name), tensor] as const),
      );
      // Pre-training heads of base checkpoints (bert-base-uncased has them) are dropped, as Hugging Face does.
      tensors.set('cls.predictions.bias', { dtype: 'F32', shape: [30522], bytes: Buffer.alloc(30522 * 4) });
      tensors.set(rename('bert.embeddings.position_ids'), positionIds());
      const config = await tinyConfig({ architectures: ['BertModel'], id2label: undefined, label2id: undefined });
      dir = await modelDir({ weights: packSafetensors(tensors), files: { 'config.json': config } });
    });

    it('loads with a warning and a new one-label head', async () => {
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
      const model = await CrossEncoder.fromPretrained(dir);
      expect(warn).toHaveBeenCalledTimes(1);
      const [message, type] = warn.mock.calls[0] as [string, string];
      expect(type).toBe('CrossEncoderWarning');
      expect(message).toMatch(/no classification head \(classifier\.weight, classifier\.bias\)/);
      expect(message).toContain(path.join(dir, 'model.safetensors'));
      expect(model.numLabels).toBe(1);
      const scores = (await model.predict(PAIRS)) as Float32Array;
      expect(scores).toHaveLength(PAIRS.length);
      // Sigmoid scores of a random head: in (0, 1), finite.
      for (const score of scores) {
        expect(score).toBeGreaterThan(0);
        expect(score).toBeLessThan(1);
      }
    });

    it('loads with a new head of numLabels labels', async () => {
      vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
      const model = await CrossEncoder.fromPretrained(dir, { numLabels: 3 });
      expect(model.numLabels).toBe(3);
      const rows = (await model.predict(PAIRS)) as Float32Array[];
      rows.forEach((row) => expect(row).toHaveLength(3));
    });
  });
});

describe('options', () => {
  it('maxLength larger than max_position_embeddings: InvalidArgumentError', async () => {
    await expectError(CrossEncoder.fromPretrained(TINY, { maxLength: 513 }), InvalidArgumentError, /maxLength 513/, /max_position_embeddings \(512\)/);
  });

  it.each([2, 0, 1.5, Number.NaN])('maxLength %s: InvalidArgumentError', async (maxLength) => {
    await expectError(CrossEncoder.fromPretrained(TINY, { maxLength }), InvalidArgumentError, /maxLength must be an integer ≥ 3/);
  });

  it('a smaller maxLength is used to truncate', async () => {
    const model = await CrossEncoder.fromPretrained(TINY, { maxLength: 16 });
    expect(model.maxLength).toBe(16);
    expect(model.tokenizer.encodePair('word '.repeat(50), 'word '.repeat(50), model.maxLength).inputIds).toHaveLength(16);
  });

  it.each([0, -1, 1.5, Number.NaN])('numLabels %s: InvalidArgumentError', async (numLabels) => {
    await expectError(CrossEncoder.fromPretrained(TINY, { numLabels }), InvalidArgumentError, /numLabels must be a positive integer/);
  });

  it('an unknown activation: InvalidArgumentError', async () => {
    await expectError(
      CrossEncoder.fromPretrained(TINY, { activation: 'tanh' as never }),
      InvalidArgumentError,
      /activation must be one of sigmoid, identity, softmax, got "tanh"/,
    );
  });

  it('an unknown stored activation: ModelFormatError naming it', async () => {
    const config = await tinyConfig({ sentence_transformers: { activation_fn: 'torch.nn.modules.activation.Tanh' } });
    const dir = await modelDir({ files: { 'config.json': config } });
    await expectError(CrossEncoder.fromPretrained(dir), ModelFormatError, /unsupported activation 'torch\.nn\.modules\.activation\.Tanh'/);
  });
});

/** The entries of a zip, from its central directory (no zip64: the test archives are small). */
function zipEntries(bytes: Buffer): { name: string; size: number; localHeader: number; centralHeader: number; dataStart: number }[] {
  const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = bytes.readUInt16LE(eocd + 10);
  const entries = [];
  for (let i = 0, at = bytes.readUInt32LE(eocd + 16); i < count; i++) {
    const nameLength = bytes.readUInt16LE(at + 28);
    const localHeader = bytes.readUInt32LE(at + 42);
    entries.push({
      name: bytes.subarray(at + 46, at + 46 + nameLength).toString('utf8'),
      size: bytes.readUInt32LE(at + 24),
      localHeader,
      centralHeader: at,
      dataStart: localHeader + 30 + bytes.readUInt16LE(localHeader + 26) + bytes.readUInt16LE(localHeader + 28),
    });
    at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
  }
  return entries;
}

/** The biggest tensor storage of a torch.save zip: the word embeddings. */
function largestStorage(bytes: Buffer): ReturnType<typeof zipEntries>[number] {
  return zipEntries(bytes)
    .filter((e) => /\/data\/\d+$/.test(e.name))
    .reduce((a, b) => (b.size > a.size ? b : a));
}

/** `bytes` with every entry's CRC-32 recomputed, so that a test reaches the check it is about. */
function withFixedCrcs(bytes: Buffer): Buffer {
  for (const e of zipEntries(bytes)) {
    const crc = crc32(bytes.subarray(e.dataStart, e.dataStart + e.size));
    bytes.writeUInt32LE(crc, e.centralHeader + 16);
    bytes.writeUInt32LE(crc, e.localHeader + 14);
  }
  return bytes;
}

describe('corrupt pytorch_model.bin', () => {
  let binBytes: Buffer;
  beforeAll(async () => {
    binBytes = await readFile(path.join(testModel('tiny-bin'), 'pytorch_model.bin'));
  });
  const load = async (bytes: Buffer) => {
    const dir = await modelDir({ weights: null, files: { 'pytorch_model.bin': bytes } });
    return { file: path.join(dir, 'pytorch_model.bin'), promise: CrossEncoder.fromPretrained(dir) };
  };

  it('reads the intact file (the legacy position_ids buffer included) with the same scores', async () => {
    const { promise } = await load(binBytes);
    expect(await (await promise).predict(PAIRS)).toEqual(tinyScores);
  });

  it('a truncated zip (no end-of-central-directory record)', async () => {
    const { file, promise } = await load(binBytes.subarray(0, Math.floor(binBytes.length / 2)));
    await expectError(promise, ModelFormatError, file, /truncated or corrupt zip archive/);
  });

  it('a zip with bytes cut from the middle (central directory offset past the end)', async () => {
    const middle = Math.floor(binBytes.length / 2);
    const { file, promise } = await load(Buffer.concat([binBytes.subarray(0, middle), binBytes.subarray(middle + 4096)]));
    await expectError(promise, ModelFormatError, file, /corrupt zip archive: central directory .* lies outside the file/);
  });

  it('a zip whose data.pkl is garbage', async () => {
    const bytes = Buffer.from(binBytes);
    // data.pkl is the first entry; its data starts after the local header (30 bytes + its name).
    const dataStart = 30 + bytes.readUInt16LE(26) + bytes.readUInt16LE(28);
    bytes.fill(0x41, dataStart, dataStart + 16);
    const { file, promise } = await load(withFixedCrcs(bytes)); // past the CRC check, to the unpickler
    await expectError(promise, ModelFormatError, file, /data\.pkl/, /unsupported pickle opcode/);
  });

  it('a flipped bit in a storage fails its CRC-32', async () => {
    const bytes = Buffer.from(binBytes);
    const storage = largestStorage(bytes); // a weight (small ones may be buffers that are never read)
    bytes[storage.dataStart + Math.floor(storage.size / 2)] ^= 0x10;
    const { file, promise } = await load(bytes);
    await expectError(promise, ModelFormatError, file, `zip entry '${storage.name}' fails its CRC-32 check`);
  });

  it('a corrupt local header (data shifted by its extra-field length) fails its CRC-32', async () => {
    const bytes = Buffer.from(binBytes);
    const storage = largestStorage(bytes);
    // torch.save pads with an extra field; shortening it by 4 makes the data start 4 bytes early.
    const extra = bytes.readUInt16LE(storage.localHeader + 28);
    expect(extra).toBeGreaterThanOrEqual(4);
    bytes.writeUInt16LE(extra - 4, storage.localHeader + 28);
    const { file, promise } = await load(bytes);
    await expectError(promise, ModelFormatError, file, `zip entry '${storage.name}' fails its CRC-32 check`);
  });

  it('a stride-0 view of one element (a memory bomb) is refused before it is materialised', async () => {
    // 4 GB as float32 if expanded, 4 bytes in the file, beside the tiny model's real tensors.
    const source = path.join(testModel('tiny-bin'), 'pytorch_model.bin');
    const script = [
      'import sys, torch',
      'state = torch.load(sys.argv[1])',
      'state[sys.argv[3]] = torch.zeros(1).expand(1_000_000_000)',
      'torch.save(state, sys.argv[2])',
    ].join('\n');
    for (const name of ['bert.pooler.dense.weight', 'bomb']) {
      const file = path.join(workDir, `bomb-${name}.bin`);
      const python = spawnSync(PYTHON, ['-c', script, source, file, name]);
      expect(python.status, python.stderr.toString()).toBe(0);
      const before = process.resourceUsage().maxRSS;
      const { promise } = await load(await readFile(file));
      const expected =
        name === 'bomb'
          ? /unexpected tensors: bomb/
          : /'bert\.pooler\.dense\.weight' has shape \[1000000000\] but the model \(from config\.json\) expects \[32, 32\]/;
      await expectError(promise, ModelFormatError, expected);
      expect((process.resourceUsage().maxRSS - before) * 1024).toBeLessThan(500e6);
    }
  });


  it('bytes that are not a zip at all', async () => {
    const { file, promise } = await load(Buffer.alloc(binBytes.length, 'this is not a torch.save file'));
    await expectError(promise, ModelFormatError, file, /not a torch\.save zip archive/);
  });
});
