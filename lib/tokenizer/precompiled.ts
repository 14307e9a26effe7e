/**
 * The `Precompiled` normalizer of the Rust `tokenizers` crate (crate `spm_precompiled`), which
 * SentencePiece models (XLM-RoBERTa's `nmt_nfkc`) carry as `precompiled_charsmap`. The JS library
 * approximates it with NFKC, which differs from it: the charsmap is applied per grapheme cluster,
 * not composed across them (half-width `ｶﾞ` stays `カ゛`-like `カ\u3099`, NFKC gives `ガ`), and its
 * lookup keeps the *shortest* matching prefix of a short grapheme (so `A\u0302\u0300` is `Â`).
 *
 * Format (base64 in tokenizer.json): a little-endian u32, the trie's size in bytes; the trie, a
 * Darts double array of u32 units over the UTF-8 bytes of the keys; then the normalized strings,
 * each ended by a NUL byte, which the trie's leaf values index.
 *
 * `normalize` follows `Precompiled::normalize` of tokenizers/src/normalizers/precompiled.rs:
 * over the extended grapheme clusters of the text, a cluster shorter than 6 UTF-8 bytes whose
 * bytes start with a key is replaced whole by that key's string (the first, shortest, match);
 * otherwise each of its characters is replaced by its own match, or kept.
 */
import { ModelFormatError } from '../errors.js';

/** Graphemes up to this many UTF-8 bytes (exclusive) are looked up whole. */
const WHOLE_GRAPHEME_BYTES = 6;
/** Normalized graphemes kept by {@link PrecompiledCharsmap.normalize}'s cache. */
const CACHE_SIZE = 4096;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/** Texts are segmented in windows of about this many UTF-16 units (V8's segmenter is quadratic in a string's length). */
const WINDOW = 64;
/**
 * Characters between two of which the grapheme rules always break, whatever comes before or
 * after: letters, digits, punctuation, symbols or spaces that neither join a following mark nor
 * are joined by a preceding one (no marks, extenders, Hangul jamo, regional indicators, Prepend
 * or SpacingMark letters). Windows are cut only at such a place, or next to a control.
 */
const NOT_JOINING = '\\p{M}\\p{Grapheme_Extend}\\p{Emoji_Modifier}\\p{RI}\\u1100-\\u11FF\\uA960-\\uA97F\\uD7B0-\\uD7FF\\u0D4E\\u0E33\\u0EB3\\u{111C2}\\u{111C3}\\u{11A3A}\\u{11A84}-\\u{11A89}\\u{11D46}\\u{11F02}';
const PLAIN = `[[\\p{L}\\p{N}\\p{P}\\p{S}\\x20]--[${NOT_JOINING}]]`;
/** Controls (GB4, GB5): a break before and after each, but between CR and LF. */
const CONTROL = '[\\p{Cc}\\u2028\\u2029]';
const CERTAIN_BREAK = new RegExp(
  `(?<=${PLAIN})(?=${PLAIN})|(?<=[${CONTROL}--\\r])|(?<=\\r)(?!\\n)|(?=[${CONTROL}--\\n])|(?<!\\r)(?=\\n)`,
  'gv',
);
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A parsed `precompiled_charsmap`. */
export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly normalized: Uint8Array;
  /** Strings of the leaves already decoded, by their offset in `normalized`. */
  private readonly strings = new Map<number, string>();
  /** Normalized graphemes, by grapheme (texts repeat few of them). */
  private readonly cache = new Map<string, string>();

  private constructor(units: Uint32Array, normalized: Uint8Array) {
    this.units = units;
    this.normalized = normalized;
  }

  /**
   * Parses the base64 `precompiled_charsmap` of tokenizer.json.
   * @throws ModelFormatError when it is not a charsmap (as the crate refuses it at load).
   */
  static fromBase64(base64: unknown, where: string): PrecompiledCharsmap {
    const bad = (why: string) => new ModelFormatError(`${where}: "precompiled_charsmap" ${why}`);
    if (typeof base64 !== 'string') throw bad(`must be a base64 string, got ${JSON.stringify(base64)}`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) throw bad('is not valid base64');
    const bytes = Buffer.from(base64, 'base64');
    if (bytes.length < 4) throw bad('is too short to hold a trie');
    const trieBytes = bytes.readUInt32LE(0);
    if (trieBytes % 4 !== 0 || 4 + trieBytes > bytes.length || trieBytes === 0) throw bad(`declares a trie of ${trieBytes} bytes in ${bytes.length}`);
    const units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < units.length; i++) units[i] = bytes.readUInt32LE(4 + 4 * i);
    const normalized = new Uint8Array(bytes.subarray(4 + trieBytes));
    try {
      fromUtf8.decode(normalized);
    } catch {
      throw bad('holds normalized strings that are not UTF-8');
    }
    return new PrecompiledCharsmap(units, normalized);
  }

  /**
   * The normalization of the first (shortest) key that `bytes[from, to)` starts with, or null.
   * `DoubleArray::common_prefix_search` then `Precompiled::transform`.
   */
  private transform(bytes: Uint8Array, from: number, to: number): string | null {
    const { units } = this;
    const size = units.length;
    let node = 0;
    node ^= offsetOf(units[node]);
    for (let i = from; i < to; i++) {
      const byte = bytes[i];
      if (byte === 0) return null;
      node ^= byte;
      if (node >= size) return null;
      const unit = units[node];
      if (labelOf(unit) !== byte) return null;
      node ^= offsetOf(unit);
      if (node >= size) return null;
      if (((unit >>> 8) & 1) === 1) return this.stringAt(units[node] & 0x7fffffff);
    }
    return null;
  }

  private stringAt(index: number): string {
    let string = this.strings.get(index);
    if (string === undefined) {
      let end = index;
      while (end < this.normalized.length && this.normalized[end] !== 0) end++;
      // A value past the blob's end reads as the empty string, as Rust's slice up to its length.
      string = index >= this.normalized.length ? '' : new TextDecoder().decode(this.normalized.subarray(index, end));
      this.strings.set(index, string);
    }
    return string;
  }

  /** One grapheme cluster, normalized. */
  private normalizeGrapheme(grapheme: string): string {
    const bytes = utf8.encode(grapheme);
    if (bytes.length < WHOLE_GRAPHEME_BYTES) {
      const whole = this.transform(bytes, 0, bytes.length);
      if (whole !== null) return whole;
    }
    if (bytes.length < WHOLE_GRAPHEME_BYTES && [...grapheme].length === 1) return grapheme;
    let out = '';
    let at = 0;
    for (const char of grapheme) {
      const width = utf8Width(char.codePointAt(0)!);
      out += this.transform(bytes, at, at + width) ?? char;
      at += width;
    }
    return out;
  }

  /** `text` normalized as the crate's `Precompiled` normalizer does. */
  normalize(text: string): string {
    let out = '';
    for (let start = 0; start < text.length; ) {
      let end = Math.min(text.length, start + WINDOW);
      if (end < text.length) {
        CERTAIN_BREAK.lastIndex = end;
        end = CERTAIN_BREAK.exec(text)?.index ?? text.length;
      }
      const window = text.slice(start, end);
      // Printable ASCII: one grapheme per character.
      const pieces = PRINTABLE_ASCII.test(window) ? window : Array.from(graphemes.segment(window), ({ segment }) => segment);
      for (const segment of pieces) out += this.normalizeCached(segment);
      start = end;
    }
    return out;
  }

  private normalizeCached(grapheme: string): string {
    let normalized = this.cache.get(grapheme);
    if (normalized === undefined) {
      normalized = this.normalizeGrapheme(grapheme);
      if (this.cache.size >= CACHE_SIZE) this.cache.clear();
      this.cache.set(grapheme, normalized);
    }
    return normalized;
  }

  /** The normalization of one character alone (its own grapheme), or null when it is kept. */
  normalizeChar(char: string): string | null {
    const bytes = utf8.encode(char);
    return this.transform(bytes, 0, bytes.length);
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

function labelOf(unit: number): number {
  // `unit & ((1 << 31) | 0xFF)`: a unit with bit 31 set never equals a byte.
  return (unit & 0x800000ff) >>> 0;
}

function utf8Width(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}
