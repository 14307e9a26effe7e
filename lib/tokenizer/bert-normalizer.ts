/**
 * The BERT normalizer and pre-tokenizer of Hugging Face's Rust `tokenizers` crate, as
 * `@huggingface/tokenizers` components. The JS library has its own, which differ from the crate's
 * (see {@link RustBertNormalizer}); these reproduce `BertTokenizerFast`'s output.
 */
import * as tokenizers from '@huggingface/tokenizers';

import { ModelFormatError } from '../errors.js';

/**
 * The base classes of `@huggingface/tokenizers` extended here, typed by hand: the package's .d.ts
 * files import each other without file extensions, which NodeNext resolution cannot follow.
 */
const { Normalizer, PreTokenizer } = tokenizers as unknown as {
  /** Subclasses implement `normalize(text)`; instances are callable. */
  Normalizer: abstract new (config: object) => object;
  /** Subclasses implement `pre_tokenize_text(text)`; instances are callable. */
  PreTokenizer: abstract new () => object;
};

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
export const CJK_IDEOGRAPHS = '4E00-9FFF 3400-4DBF 20000-2A6DF 2A700-2B73F 2B740-2B81F 2B920-2CEAF F900-FAFF 2F800-2FA1F';

/** `'0041-005A 00C0'` → `\u{0041}-\u{005A}\u{00C0}`, for a `v`-mode character class. */
export function classItems(ranges: string): string {
  return ranges
    .split(' ')
    .map((range) => range.split('-').map((cp) => `\\u{${cp}}`).join('-'))
    .join('');
}

/**
 * What clean_text drops: U+FFFD and Rust's `is_control` (Cc, Cf, Co, but not \t \n \r, which are
 * whitespace). Also lone surrogates, which tokenizers' Node binding receives as U+FFFD.
 */
export const CONTROL_CLASS = `[[[\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]--[\\t\\n\\r${classItems(CF_NOT_IN_RUST)}]]\\u{FFFD}]`;
const CONTROL = new RegExp(CONTROL_CLASS, 'gv');
/** Rust `char::is_whitespace` is the White_Space property. */
const WHITESPACE = new RegExp('\\p{White_Space}', 'gv');
const CJK = new RegExp(`[${classItems(CJK_IDEOGRAPHS)}]`, 'gv');
const NONSPACING_MARK = new RegExp(
  `[[\\p{Mn}--[${classItems(MN_NOT_IN_RUST)}]]${classItems(MN_ONLY_IN_RUST)}]`,
  'gv',
);
/** What BertPreTokenizer isolates as one-character words (a `v`-mode class). */
export const PUNCTUATION = `[[\\p{P}--[${classItems(P_NOT_IN_RUST)}]]${classItems(P_ONLY_IN_RUST + ' ' + ASCII_PUNCTUATION)}]`;
/** BertPreTokenizer: runs of neither whitespace nor punctuation, or one punctuation character. */
const BERT_WORD = new RegExp(`[^\\p{White_Space}${PUNCTUATION}]+|${PUNCTUATION}`, 'gv');

/** The effective options of a `BertNormalizer` (`strip_accents: null` follows `lowercase`). */
export interface BertNormalizerOptions {
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
export class RustBertNormalizer extends Normalizer {
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
export class RustBertPreTokenizer extends PreTokenizer {
  pre_tokenize_text(text: string): string[] {
    return text.match(BERT_WORD) ?? [];
  }
}

/**
 * The {@link RustBertNormalizer} of a tokenizer.json `BertNormalizer` (`config`), with the
 * crate's defaults; `file` names the file in errors.
 * @throws ModelFormatError when an option is not a boolean.
 */
export function rustBertNormalizer(config: Record<string, unknown>, file: string): RustBertNormalizer {
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
