/**
 * Pair truncation as the Rust `tokenizers` crate does it (`longest_first`), encoding a long text
 * only as far as the truncation needs: in chunks cut where the cut cannot change its tokens.
 */
import { CJK_IDEOGRAPHS, classItems, CONTROL_CLASS, PUNCTUATION, RustBertNormalizer, RustBertPreTokenizer } from './bert-normalizer.js';
import { RustByteLevel, RustMetaspace, type RustNormalizer, RustPreTokenizerSequence, RustWhitespaceSplit } from './rust-components.js';
import type { SplitEncoder, SplitIds } from './split-encoder.js';
import type { TextScanner } from './text-scanner.js';

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

/**
 * The ids of a (query, document) pair without special tokens, truncated to `maxLength` minus the
 * template's special tokens, as the Rust crate (≥ 0.23) does for `max_length = maxLength`:
 * 1. each text is encoded only up to the end of the first word at which it reaches `maxLength`
 *    ids (`tokenize_with_limit`; an added token does not end the encoding, the next word does);
 * 2. those lengths, not the whole texts', go through {@link longestFirstLengths} with the budget
 *    left after the special tokens. (So when both sides are long, which gets the odd token
 *    depends on where their words end around `maxLength`, not on their whole lengths.)
 * Each text is encoded, by `encoder`, in chunks cut before `boundary` characters (see
 * {@link chunkBoundary}), and only as far as step 1 reads it.
 */
export function encodeTruncatedPair(
  query: string,
  document: string,
  maxLength: number,
  numSpecialTokens: number,
  encoder: SplitEncoder,
  boundary: ChunkBoundary | null,
): [number[], number[]] {
  const a = new LazySplits(query, encoder, boundary).encodeUpTo(maxLength);
  const b = new LazySplits(document, encoder, boundary).encodeUpTo(maxLength);
  const [keepA, keepB] = longestFirstLengths(a.length, b.length, maxLength - numSpecialTokens);
  return [a.ids.slice(0, keepA), b.ids.slice(0, keepB)];
}

/** Where a text may be cut without changing its tokens (see {@link chunkBoundary}). */
export interface ChunkBoundary {
  /** Global: the characters before which a text may be cut. */
  cut: RegExp;
  /** Sticky: a run of characters that yield no token (whitespace, and deleted controls), skipped at a cut. */
  blank: RegExp;
  /**
   * When set, chunks are found (and their long words shortened) by it instead of `cut`, so a
   * chunk costs about its span however long its words are (see text-scanner.ts).
   */
  scanner?: TextScanner;
  /**
   * When set, the cap on a run without a cut, for a truncation `limit` (in ids): when no cut
   * follows a chunk's planned end within this many characters, the text is read as if it ended
   * there. For the pipelines whose long words have no bounded-cost shortcut (BPE and Unigram
   * encode a word whole). See {@link familyBoundary}.
   */
  maxRunChars?: (limit: number) => number;
}

/** {@link ChunkBoundary.maxRunChars} of the SentencePiece and byte-level BPE pipelines: 16 characters per id wanted, at least 4,096. */
export const RUN_CAP_CHARS_PER_TOKEN = 16;
export const RUN_CAP_MIN_CHARS = 4096;
const capChars = (limit: number) => Math.max(RUN_CAP_MIN_CHARS, RUN_CAP_CHARS_PER_TOKEN * limit);

/** Characters tried as "plain" ones before a cut (see familyBoundary): scripts whose letters join nothing. */
const PLAIN_CANDIDATES = [
  [0x21, 0x7e], [0xc0, 0x24f], [0x386, 0x3ce], [0x400, 0x45f], [0x5d0, 0x5ea], [0x621, 0x64a], [0x905, 0x939],
  [0xe01, 0xe2e], [0x3041, 0x3096], [0x30a1, 0x30fa], [0x4e00, 0x9fff], [0xac00, 0xd7a3],
] as const;
/** Letters, digits, punctuation and symbols that no grapheme rule joins to a neighbour (as precompiled.ts's windows). */
const NEVER_JOINING = new RegExp('^[[\\p{L}\\p{N}\\p{P}\\p{S}]--[\\p{M}\\p{Grapheme_Extend}\\p{Emoji_Modifier}\\p{RI}\\u0E33\\u0EB3]]$', 'v');
const NEVER_MATCHES = () => ({ cut: /(?!)/g, blank: /(?!)/y });

/** A `v`-mode class of the code points `cps` (sorted), as ranges. */
function rangesClass(cps: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cps.length; ) {
    let j = i;
    while (j + 1 < cps.length && cps[j + 1] === cps[j] + 1) j++;
    const hex = (cp: number) => `\\u{${cp.toString(16)}}`;
    parts.push(i === j ? hex(cps[i]) : `${hex(cps[i])}-${hex(cps[j])}`);
    i = j + 1;
  }
  return parts.join('');
}

/**
 * Where texts of a SentencePiece (Metaspace) or byte-level BPE (ByteLevel) tokenizer may be
 * cut, always with a cap ({@link ChunkBoundary.maxRunChars}) on a run of text without a cut.
 *
 * A cut is before a U+0020 space that follows plain characters (two for Metaspace, one for
 * ByteLevel), when every normalizer step is safe across such a space:
 * - Metaspace (`split`, `prepend_scheme: "always"`, alone or after WhitespaceSplit): the two
 *   characters before the cut are letters, digits, punctuation or symbols of scripts that no
 *   grapheme rule joins (so the Precompiled charsmap, applied per grapheme, sees the last one
 *   alone) and whose normalization is neither empty nor ends in whitespace or the replacement;
 *   the space run is then skipped but for its last space, so the next chunk starts with " ",
 *   which becomes the "▁" that starts a word, as in the whole text (Replace of `" {2,}"` and
 *   Strip leave the same words);
 * - ByteLevel (`use_regex`), normalizers NFC / NFD / Lowercase only: the character before is not
 *   whitespace, so the regex's words split there (a space goes with the word after it); nothing
 *   is skipped, as whitespace makes words of its own. No cut with an added token that strips the
 *   text after it (`rstrip`), which would strip the next chunk's spaces.
 * No cut either when an added token contains a space (its match could straddle one). Anything
 * else is read whole up to the cap.
 */
export function familyBoundary(
  normalizer: RustNormalizer | null | 'other',
  preTokenizer: object | null,
  addedTokens: ReadonlyArray<{ content: string; rstrip: boolean }>,
): ChunkBoundary {
  const capOnly = { ...NEVER_MATCHES(), maxRunChars: capChars };
  if (normalizer === 'other' || addedTokens.some((token) => token.content.includes(' '))) return capOnly;
  const members = preTokenizer instanceof RustPreTokenizerSequence ? preTokenizer.members : [preTokenizer];
  const metaspace =
    members.length > 0 &&
    members.every((member) => member instanceof RustWhitespaceSplit || (member instanceof RustMetaspace && member.split && member.prependScheme === 'always')) &&
    members.some((member) => member instanceof RustMetaspace);
  if (metaspace) {
    if (normalizer !== null && !normalizer.chunkSafe) return capOnly;
    const normalize = (char: string) => (normalizer === null ? char : normalizer.normalizeCharacter(char));
    if (normalize(' ') !== ' ') return capOnly;
    const replacement = (members.find((member) => member instanceof RustMetaspace) as RustMetaspace).replacement;
    const plain: number[] = [];
    for (const [from, to] of PLAIN_CANDIDATES) {
      for (let cp = from; cp <= to; cp++) {
        const char = String.fromCodePoint(cp);
        if (!NEVER_JOINING.test(char)) continue;
        const normalized = normalize(char);
        if (normalized.length === 0 || /\p{White_Space}$/u.test(normalized) || normalized.endsWith(replacement)) continue;
        plain.push(cp);
      }
    }
    const cls = `[${rangesClass(plain)}]`;
    return { cut: new RegExp(`(?<=${cls}${cls}) `, 'gv'), blank: / *(?= )/y, maxRunChars: capChars };
  }
  const byteLevel = preTokenizer instanceof RustByteLevel && preTokenizer.useRegex;
  const canonical = normalizer === null || normalizer.types.every((type) => type === 'NFC' || type === 'NFD' || type === 'Lowercase');
  if (byteLevel && canonical && !addedTokens.some((token) => token.rstrip)) {
    return { cut: /(?<=\P{White_Space}) /gu, blank: /(?!)/y, maxRunChars: capChars };
  }
  return capOnly;
}

/**
 * The first `maxTokens` ids of one text (no special tokens), encoded only as far as they need, in
 * the chunks {@link encodeTruncatedPair} uses: the prefix of the whole text's encoding.
 */
export function encodeTextPrefix(text: string, maxTokens: number, encoder: SplitEncoder, boundary: ChunkBoundary | null): number[] {
  return new LazySplits(text, encoder, boundary).encodeUpTo(maxTokens).ids.slice(0, maxTokens);
}

/**
 * Characters before which a text may be cut without changing its tokens, or null if there are
 * none. With the Rust BERT normalizer (every step maps characters one by one; NFD reorders marks
 * only after a starter, and each of these characters is one) and pre-tokenizer, a cut before
 * whitespace, a punctuation character (a word of its own) or a CJK ideograph (which the
 * normalizer surrounds with spaces) is a cut between two words. Whitespace that is also a control
 * character (U+0085, U+001C–U+001F) is left out: clean_text deletes it, joining its neighbours.
 * So is every character of an added token, whose match would straddle the cut.
 */
export function chunkBoundary(
  tokenizer: { readonly normalizer: object | null; readonly pre_tokenizer: object | null },
  addedTokens: readonly string[],
): ChunkBoundary | null {
  const { normalizer, pre_tokenizer: preTokenizer } = tokenizer;
  if (!(preTokenizer instanceof RustBertPreTokenizer)) return null;
  if (normalizer !== null && !(normalizer instanceof RustBertNormalizer)) return null;
  const cjk = normalizer?.options.handleChineseChars ? `[${classItems(CJK_IDEOGRAPHS)}]` : '[]';
  const inAddedTokens = [...new Set([...addedTokens.join('')])].map((char) => classItems(char.codePointAt(0)!.toString(16).padStart(4, '0'))).join('');
  const whitespace = `[\\p{White_Space}--[\\p{Cc}--[\\t\\n\\r]]]`;
  const cuts = `[${whitespace}${PUNCTUATION}${cjk}]`;
  const deleted = normalizer?.options.cleanText ? CONTROL_CLASS : '[]';
  return {
    cut: new RegExp(`[${cuts}--[${inAddedTokens}]]`, 'gv'),
    blank: new RegExp(`[[${whitespace}${deleted}]--[${inAddedTokens}]]+`, 'yv'),
  };
}

/** A chunk spans at least this many characters… */
const MIN_CHUNK_CHARS = 1024;
/** …or this many per token still wanted (English averages 4–5 characters per WordPiece token). */
const CHUNK_CHARS_PER_TOKEN = 6;

/**
 * The splits of one side of a pair, encoded only as far as needed: in chunks cut before a
 * `boundary` character (see `chunkBoundary`), whose splits concatenate to those of the whole text.
 */
class LazySplits {
  private readonly splits: SplitIds = { ids: [], wordEnds: [] };
  private position = 0;
  /** Characters of the next chunk; doubles after each one, so a text of few tokens takes few chunks. */
  private chunkChars = MIN_CHUNK_CHARS;
  /** Where reading stops (the text's end, or the boundary's cap). */
  private end: number;
  /** Chunks encoded so far. */
  private chunks = 0;
  /** The boundary's cap on a run without a cut, for the current limit. */
  private runCap: number | undefined;

  constructor(
    private readonly text: string,
    private readonly encoder: SplitEncoder,
    /** Null to encode the text in one piece. */
    private readonly boundary: ChunkBoundary | null,
  ) {
    this.end = text.length;
  }

  /**
   * Encodes until a word ends at or past `limit` ids, or the text is exhausted; returns the length
   * the Rust crate's encoding with that limit has: up to that word's end, else the whole text's.
   */
  encodeUpTo(limit: number): { ids: readonly number[]; length: number } {
    this.runCap = this.boundary?.maxRunChars?.(limit);
    for (;;) {
      const { wordEnds, ids } = this.splits;
      // A chunk ends between words, so every word end it holds is final.
      const crossing = wordEnds.find((end) => end >= limit);
      if (crossing !== undefined) return { ids, length: crossing };
      this.skipBlank();
      if (this.position >= this.end) return { ids, length: ids.length };
      const span = Math.max(this.chunkChars, (limit - ids.length) * CHUNK_CHARS_PER_TOKEN);
      this.chunkChars = 2 * span;
      const scanner = this.boundary?.scanner;
      if (scanner) {
        const chunk = scanner.chunk(this.text, this.position, span);
        this.encoder.encode(chunk.text, this.splits);
        this.position = chunk.end;
        continue;
      }
      const end = this.chunkEnd(this.position + span);
      this.encoder.encode(this.text.slice(this.position, end), this.splits, this.chunks++ === 0);
      this.position = end;
    }
  }

  /** The first boundary at or after `from`, else the text's end. */
  private chunkEnd(from: number): number {
    if (this.boundary === null || from >= this.end) return this.end;
    const { cut } = this.boundary;
    cut.lastIndex = from;
    if (this.runCap === undefined) return cut.exec(this.text)?.index ?? this.end;
    // Search up to the cap only (a slice is cheap); no cut there: the text ends at the cap.
    const capAt = from + this.runCap;
    if (capAt >= this.end) return cut.exec(this.text.slice(0, this.end))?.index ?? this.end;
    const index = cut.exec(this.text.slice(0, capAt))?.index;
    if (index !== undefined) return index;
    // Not inside a surrogate pair.
    this.end = isHighSurrogate(this.text.charCodeAt(capAt - 1)) && isLowSurrogate(this.text.charCodeAt(capAt)) ? capAt - 1 : capAt;
    return this.end;
  }

  /** Steps over blank characters at the position (a cut, or the start), which yield no token. */
  private skipBlank(): void {
    if (this.boundary === null) return;
    const { blank } = this.boundary;
    blank.lastIndex = this.position;
    if (blank.test(this.text)) this.position = blank.lastIndex;
  }
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
