/**
 * The cross-encoder tokenizer: Hugging Face's `BertTokenizerFast` (the Rust `tokenizers` crate)
 * reproduced over `@huggingface/tokenizers`, for (query, document) pairs.
 *
 * The JS library supplies the added-token splitting and the WordPiece model. The parts where it
 * differs from the Rust crate are done here: the BERT normalizer and pre-tokenizer
 * (bert-normalizer.ts), pair truncation (truncation.ts), special tokens and padding (the library
 * has none). The files are read and written by tokenizer-files.ts.
 */
import * as tokenizers from '@huggingface/tokenizers';

import { InvalidArgumentError, ModelFormatError } from '../errors.js';

import { RustBertNormalizer, RustBertPreTokenizer, rustBertNormalizer } from './bert-normalizer.js';
import { checkTokenizerPatterns } from './regex-safety.js';
import {
  checkReplacePatterns,
  needsRustNormalizer,
  needsRustPreTokenizer,
  type RustNormalizer,
  rustNormalizer,
  type RustPreTokenizer,
  rustPreTokenizer,
} from './rust-components.js';
import { SplitEncoder, type TokenizerParts } from './split-encoder.js';
import { TextScanner } from './text-scanner.js';
import {
  isWordPiece,
  pairTemplate,
  readTokenizerFiles,
  writeTokenizerFiles,
  type LoadedFiles,
  type TemplatePiece,
  type TokenizerJson,
} from './tokenizer-files.js';
import { type ChunkBoundary, chunkBoundary, encodeTextPrefix, encodeTruncatedPair, familyBoundary, longestFirstLengths } from './truncation.js';

// `encodePair`'s truncation rule, re-exported for the callers of this module.
export { longestFirstLengths };

/**
 * The parts of `@huggingface/tokenizers` used here, typed by hand: the package's .d.ts files
 * import each other without file extensions, which NodeNext resolution cannot follow.
 */
interface HfTokenizer {
  normalizer: object | null;
  pre_tokenizer: object | null;
  post_processor: object | null;
  readonly model: {
    readonly vocab: readonly string[];
    readonly unk_token?: string;
    readonly unk_token_id?: number;
    readonly max_input_chars_per_word?: number;
  } | null;
  readonly added_tokens: ReadonlyArray<{ content: string; normalized: boolean; lstrip: boolean; rstrip: boolean; single_word: boolean }>;
  added_tokens_map: Map<string, unknown>;
  splitter_unnormalized: object;
  splitter_normalized: object;
  token_to_id(token: string): number | undefined;
}

/** The components of tokenizer.json this package runs instead of the library's (see rust-components.ts). */
interface OwnComponents {
  /** `'other'`: a normalizer left to the library (one rust-components.ts does not implement). */
  normalizer: RustNormalizer | null | 'other';
  preTokenizer: RustPreTokenizer | null;
}

/**
 * Our normalizer and pre-tokenizer for a tokenizer.json that is not BERT's: the Rust crate's
 * components where the library has none or differs (Precompiled, Nmt, Strip, Metaspace,
 * ByteLevel…), the library's otherwise.
 */
function ownComponents(json: TokenizerJson, file: string): OwnComponents {
  const normalizerJson = json.normalizer ?? null;
  let normalizer: OwnComponents['normalizer'] = null;
  if (normalizerJson !== null && normalizerJson.type !== 'BertNormalizer') {
    try {
      normalizer = rustNormalizer(normalizerJson, file);
    } catch (error) {
      // A type implemented only by the library (say a ByteLevel normalizer) is left to it, unless one that
      // the library lacks or gets wrong needs ours.
      if (needsRustNormalizer(normalizerJson)) throw error;
      normalizer = 'other';
    }
  }
  const preTokenizerJson = json.pre_tokenizer ?? null;
  let preTokenizer: RustPreTokenizer | null = null;
  if (preTokenizerJson !== null && needsRustPreTokenizer(preTokenizerJson)) {
    try {
      preTokenizer = rustPreTokenizer(preTokenizerJson, file);
    } catch (error) {
      // A Sequence with a member we do not implement (a Split, Digits…) stays the library's.
      if (preTokenizerJson.type !== 'Sequence') throw error;
    }
  }
  return { normalizer, preTokenizer };
}

/**
 * Re-keys the `normalized` added tokens by their content as our normalizer normalizes it (the
 * library was built without a normalizer, which put them with the raw-text tokens).
 */
function rekeyNormalizedTokens(tokenizer: HfTokenizer, normalizer: RustNormalizer): void {
  const splitter = tokenizer.splitter_unnormalized.constructor as new (words: string[]) => object;
  const raw: string[] = [];
  const normalized: string[] = [];
  for (const token of tokenizer.added_tokens) {
    if (!token.normalized) {
      raw.push(token.content);
      continue;
    }
    const content = normalizer.normalize(token.content);
    if (content.length === 0) continue;
    normalized.push(content);
    tokenizer.added_tokens_map.set(content, token);
  }
  tokenizer.splitter_unnormalized = new splitter(raw);
  tokenizer.splitter_normalized = new splitter(normalized);
}
const { Tokenizer } = tokenizers as unknown as {
  Tokenizer: new (json: object, config: object) => HfTokenizer;
};

/**
 * The {@link TextScanner} of a tokenizer with the BERT normalizer and pre-tokenizer (which
 * `chunkBoundary` checked) and a WordPiece model, or null when its added tokens could match across
 * what the scanner shortens: one matched after normalization, or one that strips its neighbours.
 */
function textScanner(tokenizer: HfTokenizer, wordPiece: boolean): TextScanner | null {
  const maxInputCharsPerWord = tokenizer.model?.max_input_chars_per_word;
  if (!wordPiece || typeof maxInputCharsPerWord !== 'number' || !Number.isInteger(maxInputCharsPerWord)) return null;
  const { normalizer, added_tokens: added } = tokenizer;
  if (added.some((token) => (token.normalized && normalizer !== null) || token.lstrip || token.rstrip || token.single_word)) return null;
  const rust = normalizer instanceof RustBertNormalizer ? normalizer : null;
  return new TextScanner({
    normalize: rust ? (text) => rust.normalize(text) : null,
    cleanText: rust?.options.cleanText ?? false,
    maxInputCharsPerWord,
    addedTokens: added.map((token) => token.content),
  });
}

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

  /** What the tokenizer was read from, written back by `save`. */
  private readonly files: LoadedFiles;
  private readonly template: TemplatePiece[];
  /** Where long texts may be cut to be encoded in chunks (see chunkBoundary). */
  private readonly boundary: ChunkBoundary | null;
  private readonly encoder: SplitEncoder;
  /** False when tokenizer_config.json's `model_input_names` omits "token_type_ids" (ModernBERT): every type id is 0. */
  private readonly tokenTypes: boolean;

  private constructor(tokenizer: HfTokenizer, loaded: LoadedFiles, own: OwnComponents | null) {
    const { json, file } = loaded;
    this.files = loaded;
    this.modelMaxLength = loaded.modelMaxLength;
    this.template = pairTemplate(json.post_processor, file);
    this.numSpecialTokens = this.template.reduce((sum, piece) => sum + ('ids' in piece ? piece.ids.length : 0), 0);

    this.tokenTypes = loaded.modelInputNames?.includes('token_type_ids') ?? true;

    if (json.normalizer?.type === 'BertNormalizer') tokenizer.normalizer = rustBertNormalizer(json.normalizer, file);
    if (json.pre_tokenizer?.type === 'BertPreTokenizer') tokenizer.pre_tokenizer = new RustBertPreTokenizer();
    if (own?.preTokenizer) tokenizer.pre_tokenizer = own.preTokenizer;
    if (own?.normalizer && own.normalizer !== 'other') {
      tokenizer.normalizer = own.normalizer;
      rekeyNormalizedTokens(tokenizer, own.normalizer);
    }
    // Special tokens are added by `assemble`.
    tokenizer.post_processor = null;
    this.encoder = new SplitEncoder(tokenizer as unknown as TokenizerParts);

    const model = tokenizer.model;
    if (isWordPiece(json.model) && model?.unk_token_id === undefined) {
      throw new ModelFormatError(`${file}: the WordPiece unknown token ${JSON.stringify(model?.unk_token ?? null)} is not in the vocabulary`);
    }
    let padId = tokenizer.token_to_id(loaded.specialTokens.pad_token);
    // No padding token named by the config files: tokenizer.json's own padding settings.
    const padding = json.padding as { pad_id?: unknown } | null | undefined;
    if (padId === undefined && Number.isInteger(padding?.pad_id)) padId = padding!.pad_id as number;
    if (padId === undefined) throw new ModelFormatError(`${file}: the padding token "${loaded.specialTokens.pad_token}" is not in the vocabulary`);
    this.padTokenId = padId;
    this.vocabSize = model?.vocab.length ?? 0;
    this.boundary = own
      ? familyBoundary(own.normalizer, own.preTokenizer, tokenizer.added_tokens)
      : chunkBoundary(tokenizer, (json.added_tokens ?? []).map((token) => token.content));
    if (this.boundary && !own) {
      const scanner = textScanner(tokenizer, isWordPiece(json.model));
      if (scanner) this.boundary.scanner = scanner;
    }
  }

  /**
   * Loads `tokenizer.json` (+ `tokenizer_config.json`, `special_tokens_map.json`) from `dir`,
   * or, without tokenizer.json, builds the same tokenizer from `vocab.txt` as `BertTokenizerFast`
   * converts it.
   * @throws ModelFormatError when both files are missing or a file is malformed.
   */
  static async fromDirectory(dir: string): Promise<CrossEncoderTokenizer> {
    const loaded = await readTokenizerFiles(dir);
    const { json, file, config } = loaded;
    checkTokenizerPatterns(json, file); // before the library compiles them
    checkReplacePatterns(json, file);
    const bert = json.normalizer?.type === 'BertNormalizer' || json.pre_tokenizer?.type === 'BertPreTokenizer' || (json.normalizer == null && json.pre_tokenizer == null);
    const own = bert ? null : ownComponents(json, file);
    let tokenizer: HfTokenizer;
    try {
      // The library's own BertNormalizer normalizes `normalized` added tokens here, before ours replaces it.
      // Components we replace are not given to the library (it lacks some, such as Nmt).
      const parts = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [] };
      const replaced = {
        ...(own?.normalizer && own.normalizer !== 'other' ? { normalizer: null } : {}),
        ...(own?.preTokenizer ? { pre_tokenizer: null } : {}),
      };
      tokenizer = new Tokenizer({ ...parts, ...json, ...replaced }, config);
    } catch (error) {
      throw new ModelFormatError(`${file} is not a usable tokenizer: ${(error as Error).message}`, { cause: error });
    }
    return new CrossEncoderTokenizer(tokenizer, loaded, own);
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
    const [a, b] = encodeTruncatedPair(query, document, maxLength, this.numSpecialTokens, this.encoder, this.boundary);
    return this.assemble(a, b);
  }

  /**
   * The ids of one text without special tokens: its first `maxTokens` (encoded only as far as
   * that needs). With {@link pairFromIds}, for callers that cut pairs themselves, such as the
   * windows of a long document (lib/model/long-documents.ts).
   * @throws InvalidArgumentError when `text` is not a string or `maxTokens` is not an integer ≥ 0.
   */
  encodeText(text: string, maxTokens: number): number[] {
    if (typeof text !== 'string') throw new InvalidArgumentError(`encodeText(text): text must be a string, got ${typeof text}`);
    if (!Number.isInteger(maxTokens) || maxTokens < 0) {
      throw new InvalidArgumentError(`encodeText(text, maxTokens): maxTokens must be an integer ≥ 0, got ${maxTokens}`);
    }
    return encodeTextPrefix(text, maxTokens, this.encoder, this.boundary);
  }

  /**
   * `[CLS] a [SEP] b [SEP]` (the model's pair template) from the ids of each side, untruncated:
   * for `a` and `b` whole, what {@link encodePair} returns for the texts they encode.
   */
  pairFromIds(a: readonly number[], b: readonly number[]): PairEncoding {
    return this.assemble(a, b);
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
    await writeTokenizerFiles(dir, this.files);
  }

  /** Lays the two sides out along the pair template, with its special tokens and type ids. */
  private assemble(a: readonly number[], b: readonly number[]): PairEncoding {
    const length = this.numSpecialTokens + a.length + b.length;
    const inputIds = new Int32Array(length);
    const tokenTypeIds = new Int32Array(length);
    let offset = 0;
    for (const piece of this.template) {
      const ids = 'ids' in piece ? piece.ids : piece.sequence === 'A' ? a : b;
      inputIds.set(ids, offset);
      if (this.tokenTypes) tokenTypeIds.fill(piece.typeId, offset, offset + ids.length);
      offset += ids.length;
    }
    return { inputIds, tokenTypeIds };
  }
}
