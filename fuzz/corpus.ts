/**
 * The seed corpus: a miniature BERT cross-encoder (≈150-token vocabulary, 32 hidden units, 2
 * layers, 64 positions) cut out of the tiny test model, in the three layouts the fuzzer mutates
 * — safetensors + tokenizer.json, pytorch_model.bin + tokenizer.json, safetensors + vocab.txt
 * only. Small seeds keep a case at a few milliseconds and put mutations in structure, not in
 * 4 MB of embedding floats. Built once into `.cache/fuzz-seeds/` (the .bin with
 * /usr/bin/python3 and torch, see make_bin.py).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseSafetensors, type SafetensorsEntry, writeSafetensors } from './formats.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_MODEL = path.join(ROOT, 'test', '.models', 'tiny');
const VERSION = 'v1';
export const SEEDS_DIR = path.join(ROOT, '.cache', 'fuzz-seeds', VERSION);
const PYTHON = '/usr/bin/python3';

/** The seed layouts: each is a complete model directory. */
export type SeedName = 'safetensors' | 'bin' | 'vocab';

export const SEED_FILES: Record<SeedName, readonly string[]> = {
  safetensors: ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
  bin: ['config.json', 'pytorch_model.bin', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
  vocab: ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'],
};

export function seedDir(name: SeedName): string {
  return path.join(SEEDS_DIR, name);
}

/** The contents of every seed file, read once. */
export type SeedContents = Record<SeedName, Record<string, Buffer>>;

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const WORDS = ['the', 'of', 'and', 'in', 'is', 'how', 'many', 'people', 'live', 'berlin', 'capital', 'city', 'germany', 'hello', 'world', 'reset', 'password'];
const SUFFIXES = ['##s', '##ing', '##ed', '##er', '##ly'];

function miniVocab(): string[] {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'.split('');
  return [...SPECIALS, ...chars, ...'abcdefghijklmnopqrstuvwxyz0123456789'.split('').map((c) => `##${c}`), ...WORDS, ...SUFFIXES];
}

/** Builds the seed directories when missing (a few seconds, once). */
export function ensureSeeds(): void {
  if (existsSync(path.join(SEEDS_DIR, 'complete'))) return;
  if (!existsSync(path.join(SOURCE_MODEL, 'model.safetensors'))) {
    throw new Error(`the fuzzer's seeds are cut from ${SOURCE_MODEL}: run \`bash scripts/test-setup.sh\` first`);
  }
  const staging = `${SEEDS_DIR}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const vocab = miniVocab();
  const ids = new Map(vocab.map((token, id) => [token, id]));
  const positions = 64;

  // config.json
  const config = JSON.parse(readFileSync(path.join(SOURCE_MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;
  Object.assign(config, { vocab_size: vocab.length, max_position_embeddings: positions });
  const configText = `${JSON.stringify(config, null, 2)}\n`;

  // model.safetensors: the tiny model's tensors, embeddings cut to the new sizes.
  const source = parseSafetensors(readFileSync(path.join(SOURCE_MODEL, 'model.safetensors')));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, value] of Object.entries(source.header)) {
    if (name === '__metadata__') continue;
    const entry = value as SafetensorsEntry;
    const shape = [...entry.shape];
    if (name.endsWith('word_embeddings.weight')) shape[0] = vocab.length;
    if (name.endsWith('position_embeddings.weight')) shape[0] = positions;
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    chunks.push(Buffer.from(source.data.subarray(entry.data_offsets[0], entry.data_offsets[0] + bytes)));
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const safetensors = writeSafetensors(header, Buffer.concat(chunks));

  // tokenizer.json, tokenizer_config.json: the tiny model's, with the new ids.
  const tokenizer = JSON.parse(readFileSync(path.join(SOURCE_MODEL, 'tokenizer.json'), 'utf8')) as {
    added_tokens: { id: number; content: string }[];
    post_processor: { special_tokens: Record<string, { id: string; ids: number[] }> };
    model: { vocab: Record<string, number> };
  };
  tokenizer.added_tokens = tokenizer.added_tokens.map((token) => ({ ...token, id: ids.get(token.content)! }));
  for (const special of Object.values(tokenizer.post_processor.special_tokens)) special.ids = [ids.get(special.id)!];
  tokenizer.model.vocab = Object.fromEntries(vocab.map((token, id) => [token, id]));
  const tokenizerConfig = JSON.parse(readFileSync(path.join(SOURCE_MODEL, 'tokenizer_config.json'), 'utf8')) as {
    added_tokens_decoder: Record<string, { content: string }>;
  };
  tokenizerConfig.added_tokens_decoder = Object.fromEntries(Object.values(tokenizerConfig.added_tokens_decoder).map((token) => [String(ids.get(token.content)), token]));
  const special = readFileSync(path.join(SOURCE_MODEL, 'special_tokens_map.json'));

  const common = { 'config.json': configText, 'tokenizer_config.json': `${JSON.stringify(tokenizerConfig, null, 2)}\n`, 'special_tokens_map.json': special };
  const write = (seed: SeedName, files: Record<string, string | Buffer>) => {
    mkdirSync(path.join(staging, seed), { recursive: true });
    for (const [file, content] of Object.entries({ ...common, ...files })) writeFileSync(path.join(staging, seed, file), content);
  };
  write('safetensors', { 'model.safetensors': safetensors, 'tokenizer.json': JSON.stringify(tokenizer) });
  write('vocab', { 'model.safetensors': safetensors, 'vocab.txt': `${vocab.join('\n')}\n` });
  write('bin', { 'tokenizer.json': JSON.stringify(tokenizer) });
  execFileSync(PYTHON, [path.join(ROOT, 'fuzz', 'make_bin.py'), path.join(staging, 'safetensors', 'model.safetensors'), path.join(staging, 'bin', 'pytorch_model.bin')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  writeFileSync(path.join(staging, 'complete'), '');
  rmSync(SEEDS_DIR, { recursive: true, force: true });
  mkdirSync(path.dirname(SEEDS_DIR), { recursive: true });
  renameSync(staging, SEEDS_DIR);
}

/** Reads every seed file (after {@link ensureSeeds}). */
export function readSeeds(): SeedContents {
  ensureSeeds();
  const contents = {} as SeedContents;
  for (const [seed, files] of Object.entries(SEED_FILES) as [SeedName, readonly string[]][]) {
    contents[seed] = Object.fromEntries(files.map((file) => [file, readFileSync(path.join(seedDir(seed), file))]));
  }
  return contents;
}
