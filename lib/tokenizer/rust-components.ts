/**
 * Normalizers and pre-tokenizers of the Rust `tokenizers` crate that `@huggingface/tokenizers`
 * lacks or gets wrong, for the SentencePiece (XLM-RoBERTa: Precompiled, Metaspace) and byte-level
 * BPE (RoBERTa, ModernBERT: ByteLevel) tokenizers:
 * - `Precompiled`: the library approximates it with NFKC (see precompiled.ts);
 * - `Nmt`: missing from the library;
 * - `Strip`, `WhitespaceSplit`, `ByteLevel`: the library uses JavaScript's whitespace (which has
 *   U+FEFF and lacks U+0085); the crate uses the Unicode White_Space property (`\s` of its regex
 *   engine too);
 * - `Lowercase`: JavaScript lowercases a word-final Σ to ς, the crate maps each character alone;
 * - `Metaspace`: the library neither splits on the replacement (`split: true`) nor leaves an empty
 *   text empty;
 * - `Prepend`: the crate prepends nothing to an empty text.
 * Other components (`Replace` by regex, `NFC`…) are the library's.
 */
import * as tokenizers from '@huggingface/tokenizers';

import { ModelFormatError } from '../errors.js';

import { PrecompiledCharsmap } from './precompiled.js';

const library = tokenizers as unknown as {
  Normalizer: abstract new (config: object) => object;
  PreTokenizer: abstract new () => object;
  ReplaceNormalizer: new (config: object) => { normalize(text: string): string; pattern: RegExp | string | null };
};
const { Normalizer, PreTokenizer } = library;

type Json = Record<string, unknown>;

/** What a normalizer step does to a long text cut before a space (see {@link RustNormalizer.chunkSafe}). */
interface Step {
  /** The tokenizer.json type. */
  readonly type: string;
  normalize(text: string): string;
  /** Whether normalizing the two sides of a cut before a U+0020 gives the whole text's normalization (spaces aside). */
  readonly chunkSafe: boolean;
  /** Whether the step maps characters to characters (no composition across them), so a character's class can be read off it alone. */
  readonly perCharacter: boolean;
}

const WHITE_SPACE_START = /^\p{White_Space}+/u;
const WHITE_SPACE_END = /\p{White_Space}+$/u;
/** `do_nmt` of normalizers/unicode.rs. */
const NMT_REMOVED = /[\u0001-\u0008\u000B\u000E-\u001F\u007F\u008F\u009F]/g;
const NMT_SPACES = /[\u0009\u000A\u000C\u000D\u1680\u200B-\u200F\u2028\u2029\u2581\uFEFF\uFFFD]/g;

function step(type: string, normalize: (text: string) => string, chunkSafe: boolean, perCharacter = chunkSafe): Step {
  return { type, normalize, chunkSafe, perCharacter };
}

/**
 * A Rust normalizer (any tree of the types below) as a library component: callable, and
 * `normalize(text)`.
 */
export class RustNormalizer extends Normalizer {
  /** The charsmap of its `Precompiled` step, if any. */
  readonly charsmaps: PrecompiledCharsmap[];
  /**
   * Whether a text may be cut before a space (U+0020 after two plain characters, see
   * truncation.ts) and each side normalized alone: every step maps graphemes independently, or
   * is a `Strip`, or a `Replace` of runs of spaces by one space or "▁".
   */
  readonly chunkSafe: boolean;
  /** The types of its steps, in order (a Sequence flattened). */
  readonly types: readonly string[];
  private readonly steps: Step[];

  constructor(steps: Step[], charsmaps: PrecompiledCharsmap[]) {
    super({ type: 'RustNormalizer' });
    this.steps = steps;
    this.charsmaps = charsmaps;
    this.chunkSafe = steps.every((s) => s.chunkSafe);
    this.types = steps.map((s) => s.type);
  }

  normalize(text: string): string {
    for (const s of this.steps) {
      if (text.length === 0) return text;
      text = s.normalize(text);
    }
    return text;
  }

  /** One character through the steps that map characters alone (Strip and Replace skipped), for classifying it. */
  normalizeCharacter(char: string): string {
    let text = char;
    for (const s of this.steps) if (s.perCharacter) text = s.normalize(text);
    return text;
  }
}

/** Normalizer types the library lacks or only approximates far from the crate (anywhere in a `Sequence`): ours are required. */
const OWN_NORMALIZERS = new Set(['Precompiled', 'Nmt']);

/** Whether tokenizer.json's normalizer (a tree) has a type {@link rustNormalizer} must replace. */
export function needsRustNormalizer(config: Json | null | undefined): boolean {
  if (!config) return false;
  if (config.type === 'Sequence') return Array.isArray(config.normalizers) && config.normalizers.some((n) => needsRustNormalizer(n as Json));
  return OWN_NORMALIZERS.has(config.type as string);
}

/**
 * The {@link RustNormalizer} of a tokenizer.json normalizer other than BertNormalizer, or
 * throws for a type it does not know.
 * @throws ModelFormatError naming `file` for an unknown type or a malformed field.
 */
export function rustNormalizer(config: Json, file: string): RustNormalizer {
  const charsmaps: PrecompiledCharsmap[] = [];
  const steps: Step[] = [];
  const add = (item: Json, where: string): void => {
    const bad = (why: string) => new ModelFormatError(`${file}: ${where} ${why}`);
    if (typeof item !== 'object' || item === null) throw bad('must be an object');
    switch (item.type) {
      case 'Sequence':
        if (!Array.isArray(item.normalizers)) throw bad('(Sequence) has no "normalizers" list');
        item.normalizers.forEach((child, i) => add(child as Json, `${where}.normalizers[${i}]`));
        return;
      case 'Precompiled': {
        if (item.precompiled_charsmap == null) return; // the crate reads no charsmap as identity
        const charsmap = PrecompiledCharsmap.fromBase64(item.precompiled_charsmap, `${file}: ${where}`);
        charsmaps.push(charsmap);
        steps.push(step('Precompiled', (text) => charsmap.normalize(text), true));
        return;
      }
      case 'Nmt':
        steps.push(step('Nmt', (text) => text.replace(NMT_REMOVED, '').replace(NMT_SPACES, ' '), true));
        return;
      case 'NFC':
      case 'NFD':
      case 'NFKC':
      case 'NFKD': {
        const form = item.type;
        // A space is a starter that composes with nothing: the forms never act across it.
        steps.push(step(form, (text) => text.normalize(form), true));
        return;
      }
      case 'StripAccents':
        // normalizers/strip.rs: drops combining marks (Mn, Mc, Me).
        steps.push(step('StripAccents', (text) => text.replace(/\p{M}/gu, ''), true));
        return;
      case 'Lowercase':
        steps.push(step('Lowercase', (text) => text.replaceAll('Σ', 'σ').toLowerCase(), true));
        return;
      case 'Strip': {
        const left = item.strip_left ?? true;
        const right = item.strip_right ?? true;
        if (typeof left !== 'boolean' || typeof right !== 'boolean') throw bad('(Strip) "strip_left" / "strip_right" must be booleans');
        steps.push(step('Strip', (text) => {
          if (left) text = text.replace(WHITE_SPACE_START, '');
          if (right) text = text.replace(WHITE_SPACE_END, '');
          return text;
        }, true, false));
        return;
      }
      case 'Prepend': {
        const prepend = item.prepend;
        if (typeof prepend !== 'string') throw bad('(Prepend) "prepend" must be a string');
        steps.push(step('Prepend', (text) => (text.length === 0 ? text : prepend + text), false));
        return;
      }
      case 'Replace': {
        const pattern = item.pattern as Json | undefined;
        const content = item.content ?? '';
        if (typeof content !== 'string') throw bad('(Replace) "content" must be a string');
        const spaces = pattern?.Regex === ' {2,}' && (content === ' ' || content === '▁');
        if (typeof pattern?.String === 'string') {
          const literal = pattern.String;
          steps.push(step('Replace', (text) => text.split(literal).join(content), false));
          return;
        }
        const replace = new library.ReplaceNormalizer(item);
        steps.push(step('Replace', (text) => replace.normalize(text), spaces, false));
        return;
      }
      default:
        throw bad(`has the normalizer type ${JSON.stringify(item.type ?? null)}, which is not supported here`);
    }
  };
  add(config, 'normalizer');
  return new RustNormalizer(steps, charsmaps);
}

/** One pre-tokenizer of the crate, callable as a library component. */
abstract class RustPreTokenizerBase extends PreTokenizer {
  abstract pre_tokenize_text(text: string, options?: PreTokenizeOptions): string[];
}

/** What {@link SplitEncoder} tells a pre-tokenizer about the split it is given. */
export interface PreTokenizeOptions {
  section_index?: number;
  /** The split starts the text (offset 0 of the original): Metaspace's `prepend_scheme: "first"`. */
  at_text_start?: boolean;
}

/** The Metaspace pre-tokenizer (pre_tokenizers/metaspace.rs). */
export class RustMetaspace extends RustPreTokenizerBase {
  constructor(
    readonly replacement: string,
    readonly prependScheme: 'always' | 'first' | 'never',
    readonly split: boolean,
  ) {
    super();
  }

  pre_tokenize_text(text: string, options?: PreTokenizeOptions): string[] {
    const rep = this.replacement;
    let normalized = text.replaceAll(' ', rep);
    // NormalizedString::prepend does nothing to an empty string.
    const prepend = this.prependScheme === 'always' || (this.prependScheme === 'first' && options?.at_text_start === true);
    if (prepend && normalized.length > 0 && !normalized.startsWith(rep)) normalized = rep + normalized;
    if (normalized.length === 0) return [];
    if (!this.split) return [normalized];
    // SplitDelimiterBehavior::MergedWithNext: each replacement starts a word.
    const words: string[] = [];
    let start = 0;
    for (let at = normalized.indexOf(rep, 1); at > 0; at = normalized.indexOf(rep, at + rep.length)) {
      words.push(normalized.slice(start, at));
      start = at;
    }
    words.push(normalized.slice(start));
    return words;
  }
}

/** GPT-2's byte → printable character table (bytes_char of pre_tokenizers/byte_level.rs). */
const BYTE_CHARS: string[] = (() => {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = new Array<string>(256);
  for (const b of bytes) chars[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (chars[b] === undefined) chars[b] = String.fromCharCode(256 + n++);
  return chars;
})();
/** The crate's ByteLevel regex, with its engine's `\s` (White_Space), not JavaScript's. */
const BYTE_LEVEL_WORD = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;
const utf8 = new TextEncoder();

/** The ByteLevel pre-tokenizer (pre_tokenizers/byte_level.rs). */
export class RustByteLevel extends RustPreTokenizerBase {
  constructor(
    readonly addPrefixSpace: boolean,
    readonly useRegex: boolean,
  ) {
    super();
  }

  pre_tokenize_text(text: string): string[] {
    if (this.addPrefixSpace && text.length > 0 && !text.startsWith(' ')) text = ` ${text}`;
    const words = this.useRegex ? (text.match(BYTE_LEVEL_WORD) ?? []) : text.length > 0 ? [text] : [];
    return words.map((word) => {
      let out = '';
      for (const byte of utf8.encode(word)) out += BYTE_CHARS[byte];
      return out;
    });
  }
}

/** WhitespaceSplit: runs of non-White_Space characters. */
export class RustWhitespaceSplit extends RustPreTokenizerBase {
  pre_tokenize_text(text: string): string[] {
    return text.match(/\P{White_Space}+/gu) ?? [];
  }
}

/** A Sequence of pre-tokenizers, each applied to every piece the previous one made. */
export class RustPreTokenizerSequence extends RustPreTokenizerBase {
  constructor(readonly members: readonly RustPreTokenizerBase[]) {
    super();
  }

  pre_tokenize_text(text: string, options?: PreTokenizeOptions): string[] {
    let pieces = [text];
    this.members.forEach((member) => {
      pieces = pieces.flatMap((piece, i) => member.pre_tokenize_text(piece, { ...options, at_text_start: options?.at_text_start === true && i === 0 }));
    });
    return pieces;
  }
}

export type RustPreTokenizer = RustMetaspace | RustByteLevel | RustWhitespaceSplit | RustPreTokenizerSequence;

/** Pre-tokenizer types this module implements. */
const OWN_PRE_TOKENIZERS = new Set(['Metaspace', 'ByteLevel', 'WhitespaceSplit']);

/** Whether tokenizer.json's pre-tokenizer has a type {@link rustPreTokenizer} replaces. */
export function needsRustPreTokenizer(config: Json | null | undefined): boolean {
  if (!config) return false;
  if (config.type === 'Sequence') return Array.isArray(config.pretokenizers) && config.pretokenizers.some((p) => needsRustPreTokenizer(p as Json));
  return OWN_PRE_TOKENIZERS.has(config.type as string);
}

/**
 * The pre-tokenizer of tokenizer.json, for Metaspace, ByteLevel, WhitespaceSplit and Sequences
 * of them.
 * @throws ModelFormatError naming `file` for another type or a malformed field.
 */
export function rustPreTokenizer(config: Json, file: string, where = 'pre_tokenizer'): RustPreTokenizer {
  const bad = (why: string) => new ModelFormatError(`${file}: ${where} ${why}`);
  switch (config.type) {
    case 'Metaspace': {
      const replacement = config.replacement ?? '▁';
      if (typeof replacement !== 'string' || [...replacement].length !== 1) throw bad('(Metaspace) "replacement" must be one character');
      let scheme: unknown = config.prepend_scheme ?? 'always';
      if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never') throw bad(`(Metaspace) has an unknown "prepend_scheme" ${JSON.stringify(scheme)}`);
      if (config.add_prefix_space === false) {
        // The crate's deserializer: add_prefix_space false is prepend_scheme never (or an error).
        if (config.prepend_scheme !== undefined && scheme !== 'never') throw bad('(Metaspace) "add_prefix_space" does not match declared "prepend_scheme"');
        scheme = 'never';
      }
      const split = config.split ?? true;
      if (typeof split !== 'boolean') throw bad('(Metaspace) "split" must be a boolean');
      return new RustMetaspace(replacement, scheme as 'always' | 'first' | 'never', split);
    }
    case 'ByteLevel': {
      const addPrefixSpace = config.add_prefix_space ?? true;
      const useRegex = config.use_regex ?? true;
      if (typeof addPrefixSpace !== 'boolean' || typeof useRegex !== 'boolean') throw bad('(ByteLevel) "add_prefix_space" / "use_regex" must be booleans');
      return new RustByteLevel(addPrefixSpace, useRegex);
    }
    case 'WhitespaceSplit':
      return new RustWhitespaceSplit();
    case 'Sequence': {
      if (!Array.isArray(config.pretokenizers)) throw bad('(Sequence) has no "pretokenizers" list');
      return new RustPreTokenizerSequence(config.pretokenizers.map((p, i) => rustPreTokenizer(p as Json, file, `${where}.pretokenizers[${i}]`)));
    }
    default:
      throw bad(`has the pre-tokenizer type ${JSON.stringify(config.type ?? null)}, which is not supported with Metaspace / ByteLevel here`);
  }
}

/**
 * Refuses `Replace` components (normalizer or pre-tokenizer, anywhere in a Sequence) whose
 * pattern can match the empty string: the replacement would be inserted between every two
 * characters (a 1 MB text times the replacement's length), and the crate's own behaviour for
 * them is pathological.
 * @throws ModelFormatError naming the file and the component.
 */
export function checkReplacePatterns(json: Json, file: string): void {
  const visit = (value: unknown, where: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, `${where}[${i}]`));
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const item = value as Json;
    if (item.type === 'Replace') {
      const problem = emptyMatch(item.pattern, file, where);
      if (problem) throw new ModelFormatError(`${file}: the Replace ${where.split('.')[0].replace('_', '-')} at ${where} is refused: its pattern ${problem}`);
    }
    for (const [key, child] of Object.entries(item)) if (key !== 'pattern' && typeof child === 'object') visit(child, `${where}.${key}`);
  };
  visit(json.normalizer, 'normalizer');
  visit(json.pre_tokenizer, 'pre_tokenizer');
}

/** Texts on which a pattern that can match nothing is caught matching nothing. */
const EMPTY_MATCH_PROBES = ['', ' ', 'a', 'ab', 'a b', '  ', '\n', 'é中😀1', 'xx yy', 'A.B'];

function emptyMatch(pattern: unknown, file: string, where: string): string | undefined {
  const p = pattern as Json | undefined;
  if (typeof p?.String === 'string') return p.String.length === 0 ? 'is the empty string' : undefined;
  if (typeof p?.Regex !== 'string') return undefined;
  let regex: RegExp | string | null;
  try {
    regex = new library.ReplaceNormalizer({ type: 'Replace', pattern: p, content: '' }).pattern;
  } catch (error) {
    throw new ModelFormatError(`${file}: the regex ${JSON.stringify(p.Regex)} at ${where} does not compile: ${(error as Error).message}`, { cause: error });
  }
  if (!(regex instanceof RegExp)) return undefined;
  const global = new RegExp(regex.source, regex.flags.includes('g') ? regex.flags : `${regex.flags}g`);
  for (const probe of EMPTY_MATCH_PROBES) {
    for (const match of probe.matchAll(global)) {
      if (match[0].length === 0) return `${JSON.stringify(p.Regex)} can match the empty string (which inserts the replacement at every position)`;
    }
  }
  return undefined;
}
