/**
 * The cross-encoder tokenizer: Hugging Face's `BertTokenizerFast` (the Rust `tokenizers` crate)
 * reproduced over `@huggingface/tokenizers`, for (query, document) pairs.
 *
 * The JS library supplies the added-token splitting and the WordPiece model. The parts where it
 * differs from the Rust crate are done here: the BERT normalizer and pre-tokenizer (see
 * {@link RustBertNormalizer}), pair truncation, special tokens and padding (the library has none).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import * as tokenizers from '@huggingface/tokenizers';

import { writeFileAtomic, writeJsonAtomic } from './atomic-file.js';
import { FileSystemError, InvalidArgumentError, ModelFormatError } from './errors.js';

/**
 * The parts of `@huggingface/tokenizers` used here, typed by hand: the package's .d.ts files
 * import each other without file extensions, which NodeNext resolution cannot follow.
 */
interface HfTokenizer {
  normalizer: object | null;
  pre_tokenizer: object | null;
  post_processor: object | null;
  readonly model: { readonly vocab: readonly string[]; readonly unk_token?: string; readonly unk_token_id?: number } | null;
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  token_to_id(token: string): number | undefined;
}
const { Tokenizer, Normalizer, PreTokenizer } = tokenizers as unknown as {
  Tokenizer: new (json: object, config: object) => HfTokenizer;
  /** Subclasses implement `normalize(text)`; instances are callable. */
  Normalizer: abstract new (config: object) => object;
  /** Subclasses implement `pre_tokenize_text(text)`; instances are callable. */
  PreTokenizer: abstract new () => object;
};

/** One tokenized (query, document) pair: `[CLS] query [SEP] document [SEP]`, truncated. */
export interface PairEncoding {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
}

/** Pairs padded to the longest one; every array is row-major `[batchSize, seqLength]`. */
export interface TokenizedBatch {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: Int32Array;
  batchSize: number;
  seqLength: number;
}

// ---------------------------------------------------------------------------------------------
// Character classes of the Rust crate.
//
// `tokenizers` classifies characters with the `unicode_categories` crate, whose tables are far
// older than the Unicode of V8's `\p{…}` (17.0 in Node 20.20). These lists, probed code point by
// code point against the `tokenizers` 0.23 Rust binding, hold where the two disagree, so that
// marks, punctuation and format characters of recent scripts are treated as `BertTokenizerFast`
// treats them. A Unicode after 17.0 may add characters to list here. Canonical decompositions
// (NFD) still come from V8: they differ on 13 code points of scripts encoded since Unicode 13
// (Dives Akuru, Vithkuqi, Tulu-Tigalari, Kirat Rai).

/** In V8's `\p{Mn}`, not in the crate's nonspacing marks. */
const MN_NOT_IN_RUST =
  '07FD 0897-089F 08CA-08E1 09FE 0AFA-0AFF 0B55 0C04 0C3C 0D00 0D3B-0D3C 0D81 0EBA 0ECE 180F ' +
  '1885-1886 1ABF-1ADD 1AE0-1AEB 1DF6-1DFB A82C A8C5 A8FF A9BD 10D24-10D27 10D69-10D6D ' +
  '10EAB-10EAC 10EFA-10EFF 10F46-10F50 10F82-10F85 11070 11073-11074 110C2 111C9 111CF 1123E ' +
  '11241 1133B 113BB-113C0 113CE 113D0 113D2 113E1-113E2 11438-1143F 11442-11444 11446 1145E ' +
  '1182F-11837 11839-1183A 1193B-1193C 1193E 11943 119D4-119D7 119DA-119DB 119E0 11A01-11A0A ' +
  '11A33-11A38 11A3B-11A3E 11A47 11A51-11A56 11A59-11A5B 11A8A-11A96 11A98-11A99 11B60 ' +
  '11B62-11B64 11B66 11C30-11C36 11C38-11C3D 11C3F 11C92-11CA7 11CAA-11CB0 11CB2-11CB3 ' +
  '11CB5-11CB6 11D31-11D36 11D3A 11D3C-11D3D 11D3F-11D45 11D47 11D90-11D91 11D95 11D97 ' +
  '11EF3-11EF4 11F00-11F01 11F36-11F3A 11F40 11F42 11F5A 13440 13447-13455 1611E-16129 ' +
  '1612D-1612F 16F4F 16FE4 1CF00-1CF2D 1CF30-1CF46 1E000-1E006 1E008-1E018 1E01B-1E021 ' +
  '1E023-1E024 1E026-1E02A 1E08F 1E130-1E136 1E2AE 1E2EC-1E2EF 1E4EC-1E4EF 1E5EE-1E5EF 1E6E3 ' +
  '1E6E6 1E6EE-1E6EF 1E6F5 1E944-1E94A';
/** Nonspacing marks for the crate, spacing marks for V8. */
const MN_ONLY_IN_RUST = '1734 1171E';
/** In V8's `\p{P}`, not in the crate's punctuation. */
const P_NOT_IN_RUST =
  '061D 09FD 0A76 0C77 0C84 1B4E-1B4F 1B7D-1B7F 2E43-2E4F 2E52-2E5D 10D6E 10EAD 10ED0 ' +
  '10F55-10F59 10F86-10F89 113D4-113D5 113D7-113D8 1144B-1144F 1145A-1145B 1145D 11660-1166C ' +
  '116B9 1183B 11944-11946 119E2 11A3F-11A46 11A9A-11A9C 11A9E-11AA2 11B00-11B09 11BE1 ' +
  '11C41-11C45 11C70-11C71 11EF7-11EF8 11F43-11F4F 11FFF 12FF1-12FF2 16D6D-16D6F 16E97-16E9A ' +
  '16FE2 1E5FF 1E95E-1E95F';
/** Punctuation for the crate, not for V8. */
const P_ONLY_IN_RUST = '166D 111C9';
/** In V8's `\p{Cf}`, not in the crate's format characters. */
const CF_NOT_IN_RUST = '0890-0891 08E2 110CD 13430-1343F';
/** Rust's `char::is_ascii_punctuation` (it includes the ASCII symbols `$+<=>^`|~`). */
const ASCII_PUNCTUATION = '0021-002F 003A-0040 005B-0060 007B-007E';
/** `is_chinese_char` of normalizers/bert.rs (note U+2B920, where Python's slow tokenizer has U+2B820). */
const CJK_IDEOGRAPHS = '4E00-9FFF 3400-4DBF 20000-2A6DF 2A700-2B73F 2B740-2B81F 2B920-2CEAF F900-FAFF 2F800-2FA1F';

/** `'0041-005A 00C0'` → `\u{0041}-\u{005A}\u{00C0}`, for a `v`-mode character class. */
function classItems(ranges: string): string {
  return ranges
    .split(' ')
    .map((range) => range.split('-').map((cp) => `\\u{${cp}}`).join('-'))
    .join('');
}

/**
 * What clean_text drops: U+FFFD and Rust's `is_control` (Cc, Cf, Co, but not \t \n \r, which are
 * whitespace). Also lone surrogates, which tokenizers' Node binding receives as U+FFFD.
 */
const CONTROL = new RegExp(
  `[[[\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]--[\\t\\n\\r${classItems(CF_NOT_IN_RUST)}]]\\u{FFFD}]`,
  'gv',
);
/** Rust `char::is_whitespace` is the White_Space property. */
const WHITESPACE = new RegExp('\\p{White_Space}', 'gv');
const CJK = new RegExp(`[${classItems(CJK_IDEOGRAPHS)}]`, 'gv');
const NONSPACING_MARK = new RegExp(
  `[[\\p{Mn}--[${classItems(MN_NOT_IN_RUST)}]]${classItems(MN_ONLY_IN_RUST)}]`,
  'gv',
);
const PUNCTUATION = `[[\\p{P}--[${classItems(P_NOT_IN_RUST)}]]${classItems(P_ONLY_IN_RUST + ' ' + ASCII_PUNCTUATION)}]`;
/** BertPreTokenizer: runs of neither whitespace nor punctuation, or one punctuation character. */
const BERT_WORD = new RegExp(`[^\\p{White_Space}${PUNCTUATION}]+|${PUNCTUATION}`, 'gv');

/** The effective options of a `BertNormalizer` (`strip_accents: null` follows `lowercase`). */
interface BertNormalizerOptions {
  cleanText: boolean;
  handleChineseChars: boolean;
  stripAccents: boolean;
  lowercase: boolean;
}

/**
 * The BertNormalizer of the Rust crate (normalizers/bert.rs). The JS library's one differs: it
 * lowercases the whole string (a word-final Σ becomes ς; Rust maps char by char to σ), it tests
 * CJK ideographs per UTF-16 unit (missing those beyond U+FFFF), and it uses V8's Unicode tables.
 * Every step maps characters independently, which is what lets long texts be encoded in chunks.
 */
class RustBertNormalizer extends Normalizer {
  readonly options: BertNormalizerOptions;

  constructor(options: BertNormalizerOptions) {
    super({ type: 'BertNormalizer' });
    this.options = options;
  }

  normalize(text: string): string {
    const { cleanText, handleChineseChars, stripAccents, lowercase } = this.options;
    if (cleanText) text = text.replace(CONTROL, '').replace(WHITESPACE, ' ');
    if (handleChineseChars) text = text.replace(CJK, ' $& ');
    // Rust strips accents before lowercasing.
    if (stripAccents) text = text.normalize('NFD').replace(NONSPACING_MARK, '');
    // Σ is the only letter String#toLowerCase maps by context (final sigma).
    if (lowercase) text = text.replaceAll('Σ', 'σ').toLowerCase();
    return text;
  }
}

/** The BertPreTokenizer of the Rust crate: split on whitespace, isolate each punctuation char. */
class RustBertPreTokenizer extends PreTokenizer {
  pre_tokenize_text(text: string): string[] {
    return text.match(BERT_WORD) ?? [];
  }
}

// ---------------------------------------------------------------------------------------------
// Pair truncation.

/**
 * Lengths kept of a pair of token sequences (`n1`, `n2`) within `budget` tokens, by the
 * `longest_first` strategy of the Rust crate (tokenizers/src/utils/truncation.rs):
 * - if both fit, nothing is cut;
 * - if the shorter one fits in half the budget or less, it is kept whole and the longer one gets
 *   the rest;
 * - otherwise each gets `floor(budget / 2)`, and the odd token goes to the longer one, the second
 *   one on a tie. (The slow Python tokenizer trims one token at a time instead, which can hand
 *   the odd token to the other side.)
 * Neither result exceeds its input length.
 */
export function longestFirstLengths(n1: number, n2: number, budget: number): [number, number] {
  if (n1 + n2 <= budget) return [n1, n2];
  const swap = n1 > n2;
  let short = swap ? n2 : n1;
  let long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  const [keep1, keep2] = swap ? [long, short] : [short, long];
  return [Math.min(n1, keep1), Math.min(n2, keep2)];
}

/** A chunk spans at least this many characters… */
const MIN_CHUNK_CHARS = 1024;
/** …or this many per token still wanted (English averages 4–5 characters per WordPiece token). */
const CHUNK_CHARS_PER_TOKEN = 6;

/**
 * The token ids of one side of a pair, encoded only as far as needed: in chunks cut before a
 * `boundary` character (see `chunkBoundary`), whose ids concatenate to the ids of the whole text.
 */
class LazyIds {
  readonly ids: number[] = [];
  private position = 0;

  constructor(
    private readonly text: string,
    private readonly encode: (text: string) => number[],
    /** A global regex, or null to encode the text in one piece. */
    private readonly boundary: RegExp | null,
  ) {}

  /** True once the whole text is encoded, so that `ids.length` is its exact length. */
  get complete(): boolean {
    return this.position >= this.text.length;
  }

  /** Encodes until at least `count` ids are known or the text is exhausted. */
  extend(count: number): this {
    while (this.ids.length < count && !this.complete) {
      const span = Math.max(MIN_CHUNK_CHARS, (count - this.ids.length) * CHUNK_CHARS_PER_TOKEN);
      const end = this.chunkEnd(this.position + span);
      // A loop, not push(...ids): a huge spread overflows the stack.
      for (const id of this.encode(this.text.slice(this.position, end))) this.ids.push(id);
      this.position = end;
    }
    return this;
  }

  /** The first boundary at or after `from`, else the text's end. */
  private chunkEnd(from: number): number {
    if (this.boundary === null || from >= this.text.length) return this.text.length;
    this.boundary.lastIndex = from;
    return this.boundary.exec(this.text)?.index ?? this.text.length;
  }
}

/**
 * Characters before which a text may be cut without changing its tokens, or null if there are
 * none. With the Rust BERT normalizer (every step maps characters one by one; NFD reorders marks
 * only between two starters) and pre-tokenizer, cutting before whitespace, or before a CJK
 * ideograph that the normalizer surrounds with spaces, cuts between two words; no added token
 * may contain such a character, since its match would straddle the cut.
 */
function chunkBoundary(tokenizer: HfTokenizer, addedTokens: readonly string[]): RegExp | null {
  const { normalizer, pre_tokenizer: preTokenizer } = tokenizer;
  if (!(preTokenizer instanceof RustBertPreTokenizer)) return null;
  if (normalizer !== null && !(normalizer instanceof RustBertNormalizer)) return null;
  const cjk = normalizer?.options.handleChineseChars ? classItems(CJK_IDEOGRAPHS) : '';
  const source = `[ \\t\\n\\r${cjk}]`;
  if (addedTokens.some((token) => new RegExp(source, 'v').test(token))) return null;
  return new RegExp(source, 'gv');
}

// ---------------------------------------------------------------------------------------------
// Files.

/** The parts of tokenizer.json read here; everything else is passed through untouched. */
interface TokenizerJson {
  added_tokens?: Array<{ id: number; content: string; [key: string]: unknown }>;
  normalizer?: { type?: string; [key: string]: unknown } | null;
  pre_tokenizer?: { type?: string; [key: string]: unknown } | null;
  post_processor?: { type?: string; [key: string]: unknown } | null;
  decoder?: unknown;
  model: { type?: string; vocab?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}

type JsonObject = Record<string, unknown>;

/** What `fromDirectory` read; `file` is the file the tokenizer came from, for error messages. */
interface LoadedFiles {
  json: TokenizerJson;
  file: string;
  config: JsonObject;
  specialTokens: SpecialTokens;
  modelMaxLength: number | undefined;
}

/** A piece of the pair template: special token ids, or sequence A (query) / B (document). */
type TemplatePiece = { ids: number[]; typeId: number } | { sequence: 'A' | 'B'; typeId: number };

const TOKENIZER_FILE = 'tokenizer.json';
const CONFIG_FILE = 'tokenizer_config.json';
const SPECIAL_TOKENS_FILE = 'special_tokens_map.json';
const VOCAB_FILE = 'vocab.txt';
/** Hugging Face writes `int(1e30)` as `model_max_length` when it is unknown. */
const VERY_LARGE_MAX_LENGTH = 1e12;

/** `BertTokenizerFast`'s special tokens and their defaults. */
const SPECIAL_TOKEN_DEFAULTS = {
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
} as const;
type SpecialTokenKey = keyof typeof SPECIAL_TOKEN_DEFAULTS;
type SpecialTokens = Record<SpecialTokenKey, string>;

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

function rustBertNormalizer(config: JsonObject, file: string): RustBertNormalizer {
  const flag = (key: string, fallback: boolean | null): boolean | null => {
    const value = config[key] ?? fallback;
    if (value !== null && typeof value !== 'boolean') throw new ModelFormatError(`${file}: normalizer "${key}" must be a boolean, got ${JSON.stringify(value)}`);
    return value;
  };
  const lowercase = flag('lowercase', true) as boolean;
  return new RustBertNormalizer({
    cleanText: flag('clean_text', true) as boolean,
    handleChineseChars: flag('handle_chinese_chars', true) as boolean,
    stripAccents: flag('strip_accents', null) ?? lowercase,
    lowercase,
  });
}

/** The pair template of a TemplateProcessing or BertProcessing post-processor. */
function pairTemplate(postProcessor: TokenizerJson['post_processor'], file: string): TemplatePiece[] {
  const bad = (what: string) => new ModelFormatError(`${file}: post_processor ${what}`);
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
    throw bad(`must be TemplateProcessing or BertProcessing to add [CLS]/[SEP], got ${JSON.stringify(postProcessor?.type ?? null)}`);
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
function isWordPiece(model: TokenizerJson['model']): boolean {
  if (model.type !== undefined) return model.type === 'WordPiece';
  return 'continuing_subword_prefix' in model && 'unk_token' in model && !('merges' in model) && !Array.isArray(model.vocab);
}

// ---------------------------------------------------------------------------------------------

/**
 * Tokenizes (query, document) pairs for a BERT cross-encoder exactly as Hugging Face's
 * `BertTokenizerFast` does with `truncation=True` (`longest_first`), `padding=True`.
 */
export class CrossEncoderTokenizer {
  /** tokenizer_config.json `model_max_length`; undefined when absent or HF's "very large" sentinel (≥ 1e12). */
  readonly modelMaxLength: number | undefined;
  /** Id padding `collate`'s rows. */
  readonly padTokenId: number;
  /** Ids the model may receive: one past the largest token id. */
  readonly vocabSize: number;
  /** Special tokens the pair template adds (3 for BERT); `maxLength` must be at least this. */
  readonly numSpecialTokens: number;

  private readonly json: TokenizerJson;
  private readonly config: JsonObject;
  private readonly specialTokens: SpecialTokens;
  private readonly template: TemplatePiece[];
  /** Where long texts may be cut to be encoded in chunks (see LazyIds). */
  private readonly boundary: RegExp | null;
  private readonly encodeText: (text: string) => number[];

  private constructor(tokenizer: HfTokenizer, loaded: LoadedFiles) {
    const { json, file } = loaded;
    this.json = json;
    this.config = loaded.config;
    this.specialTokens = loaded.specialTokens;
    this.modelMaxLength = loaded.modelMaxLength;
    this.template = pairTemplate(json.post_processor, file);
    this.numSpecialTokens = this.template.reduce((sum, piece) => sum + ('ids' in piece ? piece.ids.length : 0), 0);

    if (json.normalizer?.type === 'BertNormalizer') tokenizer.normalizer = rustBertNormalizer(json.normalizer, file);
    if (json.pre_tokenizer?.type === 'BertPreTokenizer') tokenizer.pre_tokenizer = new RustBertPreTokenizer();
    // Special tokens are added by `assemble`; without a post-processor, encode() returns the bare ids.
    tokenizer.post_processor = null;
    this.encodeText = (text) => tokenizer.encode(text, { add_special_tokens: false }).ids;

    const model = tokenizer.model;
    if (isWordPiece(json.model) && model?.unk_token_id === undefined) {
      throw new ModelFormatError(`${file}: the WordPiece unknown token ${JSON.stringify(model?.unk_token ?? null)} is not in the vocabulary`);
    }
    const padId = tokenizer.token_to_id(this.specialTokens.pad_token);
    if (padId === undefined) throw new ModelFormatError(`${file}: the padding token "${this.specialTokens.pad_token}" is not in the vocabulary`);
    this.padTokenId = padId;
    this.vocabSize = model?.vocab.length ?? 0;
    this.boundary = chunkBoundary(tokenizer, (json.added_tokens ?? []).map((token) => token.content));
  }

  /**
   * Loads `tokenizer.json` (+ `tokenizer_config.json`, `special_tokens_map.json`) from `dir`,
   * or, without tokenizer.json, builds the same tokenizer from `vocab.txt` as `BertTokenizerFast`
   * converts it.
   * @throws ModelFormatError when both files are missing or a file is malformed.
   */
  static async fromDirectory(dir: string): Promise<CrossEncoderTokenizer> {
    const [tokenizerText, configText, specialText, vocabText] = await Promise.all(
      [TOKENIZER_FILE, CONFIG_FILE, SPECIAL_TOKENS_FILE, VOCAB_FILE].map((file) => readOptional(dir, file)),
    );
    const configFile = path.join(dir, CONFIG_FILE);
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
      json = { ...json, normalizer: applyNormalizerOverrides(json.normalizer, normalizerSettings) };
    } else if (vocabText !== undefined) {
      file = path.join(dir, VOCAB_FILE);
      const normalizer = { type: 'BertNormalizer', clean_text: true, ...normalizerSettings };
      json = tokenizerJsonFromVocab(parseVocab(vocabText, file), specialTokens, normalizer, config, file);
    } else {
      throw new ModelFormatError(`No tokenizer in ${dir}: looked for ${TOKENIZER_FILE} and ${VOCAB_FILE}`);
    }

    const loaded: LoadedFiles = { json, file, config, specialTokens, modelMaxLength: readModelMaxLength(config, configFile) };
    let tokenizer: HfTokenizer;
    try {
      // The library's own BertNormalizer normalizes `normalized` added tokens here, before ours replaces it.
      const parts = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [] };
      tokenizer = new Tokenizer({ ...parts, ...json }, config);
    } catch (error) {
      throw new ModelFormatError(`${file} is not a usable tokenizer: ${(error as Error).message}`, { cause: error });
    }
    return new CrossEncoderTokenizer(tokenizer, loaded);
  }

  /**
   * Tokenizes one pair into `[CLS] query [SEP] document [SEP]` of at most `maxLength` tokens,
   * truncating the longer side(s) as `longest_first` does (see {@link longestFirstLengths}).
   * Long texts are encoded only as far as the truncation needs.
   * @throws InvalidArgumentError when a text is not a string or `maxLength` is not an integer ≥ 3.
   */
  encodePair(query: string, document: string, maxLength: number): PairEncoding {
    if (typeof query !== 'string' || typeof document !== 'string') {
      throw new InvalidArgumentError(`A pair must hold two strings, got ${typeof query} and ${typeof document}`);
    }
    if (!Number.isInteger(maxLength) || maxLength < this.numSpecialTokens) {
      throw new InvalidArgumentError(`maxLength must be an integer ≥ ${this.numSpecialTokens} (the special tokens of a pair), got ${maxLength}`);
    }
    const budget = maxLength - this.numSpecialTokens;
    // One token past the budget tells "longer than the budget", which is all truncation needs…
    const a = new LazyIds(query, this.encodeText, this.boundary).extend(budget + 1);
    const b = new LazyIds(document, this.encodeText, this.boundary).extend(budget + 1);
    // …except when both sides are cut in half and the odd token goes to the longer one.
    if (budget % 2 === 1 && a.ids.length > budget && b.ids.length > budget) {
      a.extend(Infinity);
      b.extend(Infinity);
    }
    const [keepA, keepB] = longestFirstLengths(a.ids.length, b.ids.length, budget);
    return this.assemble(a.ids.slice(0, keepA), b.ids.slice(0, keepB));
  }

  /** {@link encodePair} then {@link collate}. */
  encodeBatch(pairs: ReadonlyArray<readonly [string, string]>, maxLength: number): TokenizedBatch {
    return this.collate(pairs.map(([query, document]) => this.encodePair(query, document, maxLength)));
  }

  /**
   * Pads encodings on the right with the pad token (type id 0, attention 0) to the longest one.
   * @throws InvalidArgumentError for an empty list or an encoding whose arrays differ in length.
   */
  collate(encodings: readonly PairEncoding[]): TokenizedBatch {
    if (encodings.length === 0) throw new InvalidArgumentError('collate needs at least one encoding');
    const seqLength = encodings.reduce((longest, encoding) => Math.max(longest, encoding.inputIds.length), 0);
    const batchSize = encodings.length;
    const inputIds = new Int32Array(batchSize * seqLength).fill(this.padTokenId);
    const tokenTypeIds = new Int32Array(batchSize * seqLength);
    const attentionMask = new Int32Array(batchSize * seqLength);
    encodings.forEach((encoding, row) => {
      if (encoding.tokenTypeIds.length !== encoding.inputIds.length) {
        throw new InvalidArgumentError(`Encoding ${row} has ${encoding.inputIds.length} input ids but ${encoding.tokenTypeIds.length} token type ids`);
      }
      const offset = row * seqLength;
      inputIds.set(encoding.inputIds, offset);
      tokenTypeIds.set(encoding.tokenTypeIds, offset);
      attentionMask.fill(1, offset, offset + encoding.inputIds.length);
    });
    return { inputIds, tokenTypeIds, attentionMask, batchSize, seqLength };
  }

  /**
   * Writes tokenizer.json, tokenizer_config.json, special_tokens_map.json and (for a WordPiece
   * vocabulary) vocab.txt into `dir`, as `save_pretrained` does; each file atomically.
   */
  async save(dir: string): Promise<void> {
    const normalizer = this.json.normalizer;
    const config: JsonObject = {
      ...this.config,
      ...(normalizer?.type === 'BertNormalizer'
        ? {
            do_lower_case: normalizer.lowercase ?? true,
            strip_accents: normalizer.strip_accents ?? null,
            tokenize_chinese_chars: normalizer.handle_chinese_chars ?? true,
          }
        : {}),
      ...this.specialTokens,
      tokenizer_class: this.config.tokenizer_class ?? 'BertTokenizer',
    };
    await writeJsonAtomic(path.join(dir, TOKENIZER_FILE), this.json);
    await writeJsonAtomic(path.join(dir, CONFIG_FILE), config);
    await writeJsonAtomic(path.join(dir, SPECIAL_TOKENS_FILE), this.specialTokens);
    const vocab = this.vocabLines();
    if (vocab !== undefined) await writeFileAtomic(path.join(dir, VOCAB_FILE), vocab);
  }

  /** The WordPiece vocabulary as vocab.txt lines, when its ids are exactly 0..n-1. */
  private vocabLines(): string | undefined {
    const vocab = this.json.model.vocab;
    if (!isWordPiece(this.json.model) || typeof vocab !== 'object' || vocab === null) return undefined;
    const entries = Object.entries(vocab as Record<string, unknown>);
    const tokens = new Array<string | undefined>(entries.length);
    for (const [token, id] of entries) {
      const valid = typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < entries.length;
      if (!valid || tokens[id] !== undefined) return undefined;
      tokens[id] = token;
    }
    return tokens.map((token) => `${token}\n`).join('');
  }

  /** Lays the two sides out along the pair template, with its special tokens and type ids. */
  private assemble(a: number[], b: number[]): PairEncoding {
    const length = this.numSpecialTokens + a.length + b.length;
    const inputIds = new Int32Array(length);
    const tokenTypeIds = new Int32Array(length);
    let offset = 0;
    for (const piece of this.template) {
      const ids = 'ids' in piece ? piece.ids : piece.sequence === 'A' ? a : b;
      inputIds.set(ids, offset);
      tokenTypeIds.fill(piece.typeId, offset, offset + ids.length);
      offset += ids.length;
    }
    return { inputIds, tokenTypeIds };
  }
}
