/**
 * The tokenizer files of a Hugging Face model directory — tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, vocab.txt — read and written as `BertTokenizerFast` does. A directory
 * with only vocab.txt gets the tokenizer.json `BertTokenizerFast` would convert it into.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { writeFileAtomic, writeJsonAtomic } from '../atomic-file.js';
import { FileSystemError, ModelFormatError } from '../errors.js';
import { MODEL_FILE } from '../model-files.js';

/** The largest WordPiece `max_input_chars_per_word` accepted (released tokenizers use 100). */
const MAX_INPUT_CHARS_PER_WORD = 1000;

/** The parts of tokenizer.json read here; everything else is passed through untouched. */

export interface TokenizerJson {
  added_tokens?: Array<{ id: number; content: string; [key: string]: unknown }>;
  normalizer?: { type?: string; [key: string]: unknown } | null;
  pre_tokenizer?: { type?: string; [key: string]: unknown } | null;
  post_processor?: { type?: string; [key: string]: unknown } | null;
  decoder?: unknown;
  model: { type?: string; vocab?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}

/** A parsed JSON object: tokenizer_config.json, special_tokens_map.json, a part of tokenizer.json. */
export type JsonObject = Record<string, unknown>;

/** What {@link readTokenizerFiles} read; `file` is the file the tokenizer came from, for error messages. */
export interface LoadedFiles {
  json: TokenizerJson;
  file: string;
  config: JsonObject;
  specialTokens: SpecialTokens;
  modelMaxLength: number | undefined;
  /** tokenizer_config.json `model_input_names`, when given: without "token_type_ids" the model takes none (ModernBERT). */
  modelInputNames: string[] | undefined;
}

/** A piece of the pair template: special token ids, or sequence A (query) / B (document). */
export type TemplatePiece = { ids: number[]; typeId: number } | { sequence: 'A' | 'B'; typeId: number };

const { tokenizer: TOKENIZER_FILE, tokenizerConfig: TOKENIZER_CONFIG_FILE, specialTokensMap: SPECIAL_TOKENS_FILE, vocab: VOCAB_FILE } = MODEL_FILE;
/** Hugging Face writes `int(1e30)` as `model_max_length` when it is unknown. */
const VERY_LARGE_MAX_LENGTH = 1e12;

/**
 * Reads `tokenizer.json` (+ `tokenizer_config.json`, `special_tokens_map.json`) from `dir`,
 * or, without tokenizer.json, builds the tokenizer.json `BertTokenizerFast` converts `vocab.txt`
 * into. tokenizer_config.json's normalizer settings override tokenizer.json's.
 * @throws ModelFormatError when both files are missing or a file is malformed.
 * @throws FileSystemError when a file exists but cannot be read.
 */
export async function readTokenizerFiles(dir: string): Promise<LoadedFiles> {
  const [tokenizerText, configText, specialText, vocabText] = await Promise.all(
    [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, SPECIAL_TOKENS_FILE, VOCAB_FILE].map((file) => readOptional(dir, file)),
  );
  const configFile = path.join(dir, TOKENIZER_CONFIG_FILE);
  const specialFile = path.join(dir, SPECIAL_TOKENS_FILE);
  const config = configText === undefined ? {} : parseJsonObject(configText, configFile);
  const specialMap = specialText === undefined ? {} : parseJsonObject(specialText, specialFile);
  const specialTokens = readSpecialTokens([[config, configFile], [specialMap, specialFile]]);
  const normalizerSettings = bertNormalizerSettings(config, configFile);

  let json: TokenizerJson;
  let file: string;
  if (tokenizerText !== undefined) {
    file = path.join(dir, TOKENIZER_FILE);
    json = parseJsonObject(tokenizerText, file) as TokenizerJson;
    if (typeof json.model !== 'object' || json.model === null) throw new ModelFormatError(`${file} has no "model"`);
    // WordPiece's greedy matching is quadratic in a word's length, up to this many characters
    // (100 in every released tokenizer): a non-number or a huge value lets one long word hang it.
    const maxChars = (json.model as { max_input_chars_per_word?: unknown }).max_input_chars_per_word;
    if (maxChars !== undefined && maxChars !== null && !(Number.isInteger(maxChars) && (maxChars as number) > 0 && (maxChars as number) <= MAX_INPUT_CHARS_PER_WORD)) {
      throw new ModelFormatError(
        `${file}: model.max_input_chars_per_word must be an integer in [1, ${MAX_INPUT_CHARS_PER_WORD}], got ${JSON.stringify(maxChars)}`,
      );
    }
    checkAddedTokens(json.added_tokens, file);
    json = { ...json, normalizer: applyNormalizerOverrides(json.normalizer, normalizerSettings) };
  } else if (vocabText !== undefined) {
    file = path.join(dir, VOCAB_FILE);
    const normalizer = { type: 'BertNormalizer', clean_text: true, ...normalizerSettings };
    json = tokenizerJsonFromVocab(parseVocab(vocabText, file), specialTokens, normalizer, config, file);
  } else {
    throw new ModelFormatError(`No tokenizer in ${dir}: looked for ${TOKENIZER_FILE} and ${VOCAB_FILE}`);
  }
  return { json, file, config, specialTokens, modelMaxLength: readModelMaxLength(config, configFile), modelInputNames: readModelInputNames(config, configFile) };
}

const ADDED_TOKEN_FLAGS = ['single_word', 'lstrip', 'rstrip', 'normalized', 'special'] as const;

/**
 * Checks tokenizer.json's `added_tokens` as the crate's deserializer does: a list of objects with
 * a string `content`, an integer `id` ≥ 0 and boolean flags (absent flags take their defaults).
 * @throws ModelFormatError naming the entry.
 */
function checkAddedTokens(added: unknown, file: string): void {
  if (added == null) return;
  if (!Array.isArray(added)) throw new ModelFormatError(`${file}: "added_tokens" must be a list, got ${JSON.stringify(added)}`);
  added.forEach((token: unknown, i) => {
    const bad = (why: string) => new ModelFormatError(`${file}: added_tokens[${i}] ${why}`);
    if (typeof token !== 'object' || token === null || Array.isArray(token)) throw bad(`must be an object, got ${JSON.stringify(token)}`);
    const entry = token as JsonObject;
    if (typeof entry.content !== 'string') throw bad(`"content" must be a string, got ${JSON.stringify(entry.content)}`);
    if (typeof entry.id !== 'number' || !Number.isInteger(entry.id) || entry.id < 0 || entry.id > 0xffffffff) {
      throw bad(`"id" must be an integer ≥ 0, got ${JSON.stringify(entry.id)}`);
    }
    for (const flag of ADDED_TOKEN_FLAGS) {
      if (entry[flag] !== undefined && typeof entry[flag] !== 'boolean') throw bad(`"${flag}" must be a boolean, got ${JSON.stringify(entry[flag])}`);
    }
  });
}

function readModelInputNames(config: JsonObject, file: string): string[] | undefined {
  const names = config.model_input_names;
  if (names == null) return undefined;
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) {
    throw new ModelFormatError(`${file}: "model_input_names" must be a list of strings, got ${JSON.stringify(names)}`);
  }
  return names as string[];
}

/**
 * Writes tokenizer.json, tokenizer_config.json, special_tokens_map.json and (for a WordPiece
 * vocabulary) vocab.txt into `dir`, as `save_pretrained` does; each file atomically.
 */
export async function writeTokenizerFiles(dir: string, files: Pick<LoadedFiles, 'json' | 'config' | 'specialTokens'>): Promise<void> {
  const { json, specialTokens } = files;
  const normalizer = json.normalizer;
  const config: JsonObject = {
    ...files.config,
    ...(normalizer?.type === 'BertNormalizer'
      ? {
          do_lower_case: normalizer.lowercase ?? true,
          strip_accents: normalizer.strip_accents ?? null,
          tokenize_chinese_chars: normalizer.handle_chinese_chars ?? true,
        }
      : {}),
    ...specialTokens,
    tokenizer_class: files.config.tokenizer_class ?? 'BertTokenizer',
  };
  await writeJsonAtomic(path.join(dir, TOKENIZER_FILE), json);
  await writeJsonAtomic(path.join(dir, TOKENIZER_CONFIG_FILE), config);
  await writeJsonAtomic(path.join(dir, SPECIAL_TOKENS_FILE), specialTokens);
  const vocab = vocabLines(json.model);
  if (vocab !== undefined) await writeFileAtomic(path.join(dir, VOCAB_FILE), vocab);
}

/** The WordPiece vocabulary as vocab.txt lines, when its ids are exactly 0..n-1. */
function vocabLines(model: TokenizerJson['model']): string | undefined {
  const vocab = model.vocab;
  if (!isWordPiece(model) || typeof vocab !== 'object' || vocab === null) return undefined;
  const entries = Object.entries(vocab as Record<string, unknown>);
  const tokens = new Array<string | undefined>(entries.length);
  for (const [token, id] of entries) {
    const valid = typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < entries.length;
    if (!valid || tokens[id] !== undefined) return undefined;
    tokens[id] = token;
  }
  return tokens.map((token) => `${token}\n`).join('');
}

/** `BertTokenizerFast`'s special tokens and their defaults. */
const SPECIAL_TOKEN_DEFAULTS = {
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
} as const;
type SpecialTokenKey = keyof typeof SPECIAL_TOKEN_DEFAULTS;
/** Special token names by their tokenizer_config.json keys. */
export type SpecialTokens = Record<SpecialTokenKey, string>;

async function readOptional(dir: string, file: string): Promise<string | undefined> {
  const fullPath = path.join(dir, file);
  try {
    return await readFile(fullPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new FileSystemError(`Cannot read ${fullPath}: ${(error as Error).message}`, { cause: error });
  }
}

function parseJsonObject(text: string, file: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(`Malformed JSON in ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelFormatError(`${file} must hold a JSON object`);
  }
  return value as JsonObject;
}

function optionalBoolean(settings: JsonObject, key: string, fallback: boolean, file: string): boolean {
  const value = settings[key] ?? fallback;
  if (typeof value !== 'boolean') throw new ModelFormatError(`${file}: "${key}" must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

/** A token given as a string or as an AddedToken object `{ "content": … }`. */
function tokenContent(value: unknown, key: string, file: string): string {
  const content = typeof value === 'object' && value !== null ? (value as JsonObject).content : value;
  if (typeof content !== 'string') throw new ModelFormatError(`${file}: "${key}" must be a token string, got ${JSON.stringify(value)}`);
  return content;
}

/** Special token names; later sources override earlier ones, as special_tokens_map.json does in transformers. */
function readSpecialTokens(sources: ReadonlyArray<[JsonObject, string]>): SpecialTokens {
  const tokens: SpecialTokens = { ...SPECIAL_TOKEN_DEFAULTS };
  for (const [settings, file] of sources) {
    for (const key of Object.keys(SPECIAL_TOKEN_DEFAULTS) as SpecialTokenKey[]) {
      if (settings[key] != null) tokens[key] = tokenContent(settings[key], key, file);
    }
  }
  return tokens;
}

function readModelMaxLength(config: JsonObject, file: string): number | undefined {
  const value = config.model_max_length;
  if (value == null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ModelFormatError(`${file}: "model_max_length" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value >= VERY_LARGE_MAX_LENGTH ? undefined : value;
}

/** vocab.txt as `BertTokenizer.load_vocab` reads it: one token per line, id = line index. */
function parseVocab(text: string, file: string): Record<string, number> {
  const lines = text.split(/\r\n?|\n/);
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new ModelFormatError(`${file} is empty`);
  // No prototype: a token may be "__proto__".
  const vocab: Record<string, number> = Object.create(null);
  lines.forEach((token, id) => (vocab[token] = id));
  return vocab;
}

/** The tokenizer.json `BertTokenizerFast` converts a vocab.txt into (convert_slow_tokenizer.BertConverter). */
function tokenizerJsonFromVocab(
  vocab: Record<string, number>,
  tokens: SpecialTokens,
  normalizer: JsonObject,
  config: JsonObject,
  file: string,
): TokenizerJson {
  const idOf = (key: SpecialTokenKey): number => {
    const id = vocab[tokens[key]];
    if (id === undefined) throw new ModelFormatError(`${file} has no ${key} "${tokens[key]}"`);
    return id;
  };
  const [cls, sep] = [tokens.cls_token, tokens.sep_token];
  idOf('unk_token'); // WordPiece needs it for every unknown word
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokensFromConfig(config, vocab, tokens, file),
    normalizer,
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [idOf('cls_token')], tokens: [cls] },
        [sep]: { id: sep, ids: [idOf('sep_token')], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: tokens.unk_token,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

/**
 * Added tokens of a vocab.txt tokenizer: `added_tokens_decoder` of tokenizer_config.json when
 * present (transformers ≥ 4.34 writes it), else the special tokens found in the vocabulary.
 */
function addedTokensFromConfig(
  config: JsonObject,
  vocab: Record<string, number>,
  tokens: SpecialTokens,
  file: string,
): NonNullable<TokenizerJson['added_tokens']> {
  const decoder = config.added_tokens_decoder;
  if (decoder != null) {
    if (typeof decoder !== 'object' || Array.isArray(decoder)) throw new ModelFormatError(`${file}: "added_tokens_decoder" must be an object`);
    return Object.entries(decoder as JsonObject).map(([id, token]) => {
      const content = tokenContent(token, `added_tokens_decoder.${id}`, file);
      if (!/^\d+$/.test(id)) throw new ModelFormatError(`${file}: "added_tokens_decoder" has a non-integer id "${id}"`);
      const { lstrip = false, rstrip = false, single_word = false, normalized = false, special = true } = token as JsonObject;
      return { id: Number(id), content, single_word, lstrip, rstrip, normalized, special };
    });
  }
  const ids = new Map<number, string>();
  for (const content of Object.values(tokens)) if (vocab[content] !== undefined) ids.set(vocab[content], content);
  return [...ids]
    .sort(([a], [b]) => a - b)
    .map(([id, content]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
}

/**
 * `BertTokenizerFast.__init__` rebuilds a BertNormalizer whose lowercase / strip_accents /
 * handle_chinese_chars differ from tokenizer_config.json's do_lower_case / strip_accents /
 * tokenize_chinese_chars, the config winning (defaults: true, null, true).
 */
function bertNormalizerSettings(config: JsonObject, file: string): JsonObject {
  const stripAccents = config.strip_accents ?? null;
  if (stripAccents !== null && typeof stripAccents !== 'boolean') {
    throw new ModelFormatError(`${file}: "strip_accents" must be a boolean or null, got ${JSON.stringify(stripAccents)}`);
  }
  return {
    lowercase: optionalBoolean(config, 'do_lower_case', true, file),
    strip_accents: stripAccents,
    handle_chinese_chars: optionalBoolean(config, 'tokenize_chinese_chars', true, file),
  };
}

function applyNormalizerOverrides(normalizer: TokenizerJson['normalizer'], settings: JsonObject): TokenizerJson['normalizer'] {
  if (normalizer?.type !== 'BertNormalizer') return normalizer;
  const differs = Object.entries(settings).some(([key, value]) => key in normalizer && normalizer[key] !== value);
  return differs ? { ...normalizer, ...settings } : normalizer;
}

/** The pair template of a TemplateProcessing or BertProcessing post-processor. */
export function pairTemplate(postProcessor: TokenizerJson['post_processor'], file: string): TemplatePiece[] {
  const bad = (what: string) => new ModelFormatError(`${file}: post_processor ${what}`);
  if (postProcessor?.type === 'Sequence') {
    // A ByteLevel processor only trims offsets; the one that adds special tokens decides.
    const processors = Array.isArray(postProcessor.processors) ? (postProcessor.processors as TokenizerJson['post_processor'][]) : [];
    const adding = processors.filter((processor) => processor?.type !== 'ByteLevel');
    if (adding.length !== 1) throw bad('(Sequence) must hold one TemplateProcessing, BertProcessing or RobertaProcessing');
    return pairTemplate(adding[0], file);
  }
  if (postProcessor?.type === 'RobertaProcessing') {
    // processors/roberta.rs: <s> A </s> </s> B </s>, every type id 0.
    const special = (key: 'cls' | 'sep'): number => {
      const id = (postProcessor[key] as unknown[] | undefined)?.[1];
      if (!Number.isInteger(id) || (id as number) < 0) throw bad(`"${key}" must be [token, id]`);
      return id as number;
    };
    const [cls, sep] = [special('cls'), special('sep')];
    return [
      { ids: [cls], typeId: 0 },
      { sequence: 'A', typeId: 0 },
      { ids: [sep, sep], typeId: 0 },
      { sequence: 'B', typeId: 0 },
      { ids: [sep], typeId: 0 },
    ];
  }
  if (postProcessor?.type === 'BertProcessing') {
    const special = (key: 'cls' | 'sep'): number => {
      const id = (postProcessor[key] as unknown[] | undefined)?.[1];
      if (!Number.isInteger(id) || (id as number) < 0) throw bad(`"${key}" must be [token, id]`);
      return id as number;
    };
    const [cls, sep] = [special('cls'), special('sep')];
    return [
      { ids: [cls], typeId: 0 },
      { sequence: 'A', typeId: 0 },
      { ids: [sep], typeId: 0 },
      { sequence: 'B', typeId: 1 },
      { ids: [sep], typeId: 1 },
    ];
  }
  if (postProcessor?.type !== 'TemplateProcessing') {
    throw bad(`must be TemplateProcessing, BertProcessing or RobertaProcessing to add the special tokens, got ${JSON.stringify(postProcessor?.type ?? null)}`);
  }
  const specials = (postProcessor.special_tokens ?? {}) as Record<string, { ids?: unknown }>;
  if (!Array.isArray(postProcessor.pair)) throw bad('has no "pair" template');
  const pieces = (postProcessor.pair as JsonObject[]).map((item): TemplatePiece => {
    const special = item?.SpecialToken as { id?: string; type_id?: number } | undefined;
    const sequence = item?.Sequence as { id?: string; type_id?: number } | undefined;
    const typeId = (special ?? sequence)?.type_id ?? 0;
    if (!Number.isInteger(typeId)) throw bad(`has a non-integer type_id in ${JSON.stringify(item)}`);
    if (sequence && (sequence.id === 'A' || sequence.id === 'B')) return { sequence: sequence.id, typeId };
    const ids = special?.id === undefined ? undefined : specials[special.id]?.ids;
    if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
      throw bad(`template item ${JSON.stringify(item)} has no special token ids`);
    }
    return { ids: ids as number[], typeId };
  });
  const sequences = pieces.flatMap((piece) => ('sequence' in piece ? [piece.sequence] : []));
  if (sequences.join() !== 'A,B') throw bad('"pair" template must hold $A then $B once each');
  return pieces;
}

/**
 * Whether tokenizer.json's model is WordPiece: by its type, or, in files written before models
 * had one, by its fields (as the library and the Rust crate tell them apart).
 */
export function isWordPiece(model: TokenizerJson['model']): boolean {
  if (model.type !== undefined) return model.type === 'WordPiece';
  return 'continuing_subword_prefix' in model && 'unk_token' in model && !('merges' in model) && !Array.isArray(model.vocab);
}
