/**
 * Bounded-cost chunking of a long text for the BERT pipeline (Rust BertNormalizer and
 * BertPreTokenizer, a WordPiece model): one linear pass, character by character through a cached
 * per-code-point class, that finds where a chunk may end and shortens the long words it crosses,
 * so that encoding a chunk costs about its span, whatever the text holds. (Without it, a word of a
 * megabyte — no space or punctuation — is normalized, split and spread into an array whole.)
 *
 * Why the chunk's tokens are the whole text's:
 * - The normalizer maps characters one by one: clean_text deletes or maps each, Chinese
 *   characters are padded, NFD decomposes each (and only reorders runs of non-starters), accents
 *   are stripped per character, `Σ` is mapped before the per-character lowercasing. So the
 *   normalization of a text is that of its characters put together, up to the reordering of
 *   marks; a character's class below is read off `normalize(char)`.
 * - A chunk ends before a character whose normalization starts with whitespace or punctuation,
 *   or after one whose normalization ends with one: a word boundary, next to a starter. A cut is
 *   refused where an added token could straddle it: before a character some token has past its
 *   first position, unless the previous character is a token's only at its last position.
 * - A "word run" is a run of characters whose normalizations hold no whitespace or punctuation
 *   (so it lies inside one word), none the first character of an added token. WordPiece turns a
 *   word of more than `max_input_chars_per_word` characters into one unknown token, so a run
 *   longer than {@link LONG_RUN} is replaced by a shorter one the pipeline sees the same way:
 *   its first characters as they are (an added token matched just before it may end in them),
 *   then its characters that leave something after normalization, up to one more than the
 *   word limit (past which the word is unknown, whatever it holds), with the characters that
 *   leave nothing dropped — but one per gap kept when it holds a starter (as U+034F COMBINING
 *   GRAPHEME JOINER does), so NFD reorders the surviving marks as in the whole text.
 */
import { CONTROL_CLASS, PUNCTUATION } from './bert-normalizer.js';

/** What the scanner needs of a tokenizer. */
export interface ScannerParts {
  /** The normalizer (a RustBertNormalizer), or null for none. */
  normalize: ((text: string) => string) | null;
  /** Whether clean_text deletes control characters (before NFD: they do not block reordering). */
  cleanText: boolean;
  /** WordPiece's `max_input_chars_per_word`: longer words are one unknown token. */
  maxInputCharsPerWord: number;
  /** Contents of the added tokens matched in the raw text (none may be matched after normalization). */
  addedTokens: readonly string[];
}

/** Word runs at least this many UTF-16 units long are shortened. */
const LONG_RUN = 256;
/** Regexes of {@link TextScanner.skipSeen} kept. */
const MAX_SKIPS = 64;

// Bits of a code point's class (0: not computed yet).
const KNOWN = 0x80;
/** A chunk may end before this character. */
const CUT_BEFORE = 0x01;
/** A chunk may end after this character. */
const CUT_AFTER = 0x02;
/** The character belongs to word runs. */
const WORD = 0x04;
/** Of a word character that leaves nothing: it (its NFD) holds a starter, which blocks reordering. */
const BLOCKER = 0x08;
/** Code points a word character leaves after normalization, in bits 4–6. */
const COUNT_SHIFT = 4;
const MAX_COUNT = 7;

const BOUNDARY = new RegExp(`[\\p{White_Space}${PUNCTUATION}]`, 'v');
const STARTS_WITH_BOUNDARY = new RegExp(`^[\\p{White_Space}${PUNCTUATION}]`, 'v');
const ENDS_WITH_BOUNDARY = new RegExp(`[\\p{White_Space}${PUNCTUATION}]$`, 'v');
/** What String#trim removes (an added token's lstrip / rstrip trims it off its neighbour). */
const JS_WHITESPACE = /^\s$/;
/** What clean_text deletes (before NFD, so it does not block the reordering of marks). */
const CONTROL = new RegExp(`^${CONTROL_CLASS}$`, 'v');

/** One chunk: the (possibly shortened) text to encode, and where it ends in the original. */
export interface Chunk {
  text: string;
  end: number;
}

export class TextScanner {
  /** Sticky regexes skipping runs of given characters (see skipSeen), by those characters. */
  private readonly skips = new Map<string, RegExp>();
  /** Class of each code point, computed on first sight. */
  private readonly classes = new Uint8Array(0x110000);
  private readonly firstChars: ReadonlySet<string>;
  private readonly laterChars: ReadonlySet<string>;
  private readonly lastOnlyChars: ReadonlySet<string>;
  /** Characters kept as they are at the start of a shortened run: the longest added token. */
  private readonly keptPrefix: number;

  constructor(private readonly parts: ScannerParts) {
    const first = new Set<string>();
    const later = new Set<string>();
    const notLast = new Set<string>();
    for (const token of parts.addedTokens) {
      const chars = [...token];
      chars.forEach((char, i) => {
        if (i === 0) first.add(char);
        else later.add(char);
        if (i < chars.length - 1) notLast.add(char);
      });
    }
    this.firstChars = first;
    this.laterChars = later;
    // Characters of tokens only ever at a token's end: a cut after one cannot split a match.
    this.lastOnlyChars = new Set([...first, ...later].filter((char) => !notLast.has(char)));
    this.keptPrefix = Math.max(0, ...parts.addedTokens.map((token) => token.length));
  }

  /**
   * The chunk of `text` from `start`: up to the first place at or past `start + span` where a
   * chunk may end (else the text's end), with its long word runs shortened.
   */
  chunk(text: string, start: number, span: number): Chunk {
    const pieces: string[] = [];
    let copiedTo = start;
    let runStart = -1;
    /** Where the current run is next skipped over by {@link skipSeen}. */
    let skipAt = 0;
    let previous = 0;
    let i = start;
    const length = text.length;
    while (i < length) {
      const unit = text.charCodeAt(i);
      let width = 1;
      let cp = unit;
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = ((unit - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          width = 2;
        }
      }
      let cls = this.classes[cp];
      if (cls === 0) cls = this.classify(cp, width === 2 ? text.slice(i, i + 2) : text[i]);
      if (i > start && i - start >= span && ((cls & CUT_BEFORE) !== 0 || (previous & CUT_AFTER) !== 0)) break;
      if ((cls & WORD) !== 0) {
        if (runStart < 0) {
          runStart = i;
          skipAt = i + LONG_RUN;
        } else if (i >= skipAt) {
          // Deep in a long run: jump over the characters it has held so far, at regex speed.
          i = this.skipSeen(text, runStart, i);
          skipAt = i + LONG_RUN;
          previous = WORD;
          continue;
        }
      } else if (runStart >= 0) {
        copiedTo = this.shortenRun(text, runStart, i, copiedTo, pieces);
        runStart = -1;
      }
      previous = cls;
      i += width;
    }
    if (runStart >= 0) copiedTo = this.shortenRun(text, runStart, i, copiedTo, pieces);
    if (pieces.length === 0) return { text: text.slice(start, i), end: i };
    pieces.push(text.slice(copiedTo, i));
    return { text: pieces.join(''), end: i };
  }

  /**
   * Pushes onto `pieces` the text from `copiedTo` to the word run [from, to), shortened when it
   * is long; returns the new `copiedTo`.
   */
  private shortenRun(text: string, from: number, to: number, copiedTo: number, pieces: string[]): number {
    if (to - from < LONG_RUN) return copiedTo;
    let i = from + this.keptPrefix;
    if (i > from && i < to && isLowSurrogate(text.charCodeAt(i)) && isHighSurrogate(text.charCodeAt(i - 1))) i += 1;
    pieces.push(text.slice(copiedTo, i));
    const limit = this.parts.maxInputCharsPerWord + 1;
    let count = 0;
    let blocker: string | null = null;
    const kept: string[] = [];
    /** Where the current stretch of characters that leave nothing began, or -1. */
    let zerosFrom = -1;
    while (i < to && count < limit) {
      const width = isHighSurrogate(text.charCodeAt(i)) && i + 1 < to && isLowSurrogate(text.charCodeAt(i + 1)) ? 2 : 1;
      const cp = width === 2 ? text.codePointAt(i)! : text.charCodeAt(i);
      const cls = this.classes[cp];
      const leaves = (cls >> COUNT_SHIFT) & MAX_COUNT;
      if (leaves > 0) {
        if (blocker !== null) kept.push(blocker);
        blocker = null;
        kept.push(text.slice(i, i + width));
        count += leaves;
        zerosFrom = -1;
      } else {
        if ((cls & BLOCKER) !== 0 && blocker === null) blocker = text.slice(i, i + width);
        if (zerosFrom < 0) zerosFrom = i;
        else if (i - zerosFrom >= LONG_RUN) {
          // Deep in characters that leave nothing: jump over those seen, at regex speed (blockers
          // too once one is kept for this gap).
          const skippable = (char: string) => blocker !== null || (this.classes[char.codePointAt(0)!] & BLOCKER) === 0;
          const next = this.skipSeen(text, zerosFrom, i, skippable);
          zerosFrom = next;
          if (next > i) {
            i = next;
            continue;
          }
        }
      }
      i += width;
    }
    if (blocker !== null) kept.push(blocker);
    pieces.push(kept.join(''));
    return to;
  }

  /**
   * The first index at or after `at` past the run of characters among those of
   * [runStart, at), all word characters (between two of which no chunk may end).
   */
  private skipSeen(text: string, runStart: number, at: number, keep: (char: string) => boolean = () => true): number {
    const seen = [...new Set(text.slice(Math.max(runStart, at - LONG_RUN), at))].filter(keep);
    if (seen.length === 0) return at;
    const key = seen.join('');
    let skip = this.skips.get(key);
    if (!skip) {
      if (this.skips.size >= MAX_SKIPS) this.skips.clear();
      skip = skipRegex(seen);
      this.skips.set(key, skip);
    }
    skip.lastIndex = at;
    return skip.test(text) ? skip.lastIndex : at;
  }

  /** Computes and caches the class of code point `cp` (the string `char`). */
  private classify(cp: number, char: string): number {
    const normalized = this.parts.normalize ? this.parts.normalize(char) : char;
    let cls = KNOWN;
    if (normalized.length > 0 && STARTS_WITH_BOUNDARY.test(normalized) && !this.laterChars.has(char)) cls |= CUT_BEFORE;
    const lastOnly = this.lastOnlyChars.has(char) || !(this.firstChars.has(char) || this.laterChars.has(char));
    if (normalized.length > 0 && ENDS_WITH_BOUNDARY.test(normalized) && lastOnly) cls |= CUT_AFTER;
    const leaves = [...normalized].length;
    const isWord =
      !BOUNDARY.test(normalized) && !this.firstChars.has(char) && !(leaves > 0 && JS_WHITESPACE.test(char)) && leaves <= MAX_COUNT;
    if (isWord) {
      cls |= WORD | (leaves << COUNT_SHIFT);
      // A character that leaves nothing is deleted by clean_text or stripped as marks after NFD.
      if (leaves === 0 && !(this.parts.cleanText && CONTROL.test(char)) && [...char.normalize('NFD')].some(isStarter)) cls |= BLOCKER;
    }
    this.classes[cp] = cls;
    return cls;
  }
}

/**
 * A sticky regex over runs of the characters `chars`. Without the `u` flag, which makes V8's
 * first (interpreted) run of a regex several times slower: BMP characters in a class, pairs as
 * alternatives, lone surrogates only when not part of a pair (so it never stops inside a pair).
 */
function skipRegex(chars: readonly string[]): RegExp {
  const unit = (code: number) => `\\u${code.toString(16).padStart(4, '0')}`;
  const bmp: string[] = [];
  const alternatives: string[] = [];
  for (const char of chars) {
    const code = char.charCodeAt(0);
    if (char.length === 2) alternatives.push(unit(code) + unit(char.charCodeAt(1)));
    else if (isHighSurrogate(code)) alternatives.push(`${unit(code)}(?![\\udc00-\\udfff])`);
    else if (isLowSurrogate(code)) alternatives.push(`(?<![\\ud800-\\udbff])${unit(code)}`);
    else bmp.push(unit(code));
  }
  if (bmp.length > 0) alternatives.unshift(`[${bmp.join('')}]`);
  return new RegExp(alternatives.length === 1 && bmp.length > 0 ? `${alternatives[0]}*` : `(?:${alternatives.join('|')})*`, 'y');
}

/** U+0345 has the highest combining class (240): any other non-starter after it moves before it. */
function isStarter(char: string): boolean {
  if (char === '\u0345') return false;
  return `a\u0345${char}`.normalize('NFD') === `a\u0345${char}`;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
