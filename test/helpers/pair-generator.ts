/**
 * Seeded (query, document) pairs for comparing tokenizers: lengths around and far beyond half
 * the truncation budget on each side, many `maxLength` values (odd and even), and text of every
 * kind the BERT pipeline treats specially.
 */
import { mulberry32 } from '../../lib/datasets.js';

/** A pair with the `maxLength` it is to be truncated to. */
export interface GeneratedPair {
  query: string;
  document: string;
  maxLength: number;
}

const MAX_LENGTHS = [3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 31, 32, 33, 64, 65, 127, 128, 129, 255, 256, 257, 509, 510, 511, 512, 513];
/** A side's length in tokens, as a multiple of `maxLength`: empty, around half, around whole, far beyond. */
const LENGTH_FACTORS = [0, 0.1, 0.3, 0.45, 0.5, 0.55, 0.7, 0.95, 1, 1.05, 1.3, 2, 3];

const WORDS = (
  'the of and to in is was for on that with as by at from his an were are which this be has or had ' +
  'how do i migrate workspace settings new billing plan reset password user enable export audit logs ' +
  'quick brown fox jumps over lazy dog hello world document query search engine rerank model train'
).split(' ');
/** Words WordPiece splits into several pieces, so that words end at varied token counts. */
const LONG_WORDS = ['unbelievably', 'tokenization', 'antidisestablishmentarianism', 'reranker', 'crossencoders', 'workspaces', 'huggingface'];
const ACCENTED = ['crème', 'brûlée', 'naïve', 'Ångström', 'façade', 'ÉCOLE', 'Straße', 'İstanbul', 'ΟΔΟΣ', 'Σοφός', 'Привет', 'مرحبا', 'नमस्ते', 'e\u0301\u0301', 'ﬁ', '½'];
const EMOJI = ['😀', '👍🏽', '❤️', '🥺', '☃', '∑', '✓'];
const SPECIAL = ['[SEP]', '[MASK]', '[CLS]', '[UNK]', '[PAD]', '[sep]'];
const PUNCTUATION = [',', '.', '!!', '...', '--', '"', '(', ')', "'s", '?', '$100', '50%', '#'];
const WHITESPACE = [' ', '  ', '\t', '\n', ' \t\n ', '\u3000', '\u00a0', '\u200b', '\u0000', '\r\n'];

type Pick = <T>(items: readonly T[]) => T;

/** One piece of text (a word, a symbol, a run of ideographs…), in a style's proportions. */
function piece(random: () => number, pick: Pick, counter: () => number, style: string): string {
  const roll = random();
  if (style === 'unicode' ? roll < 0.25 : roll < 0.05) {
    const n = 1 + Math.floor(random() * 6);
    return Array.from({ length: n }, () => String.fromCodePoint(0x4e00 + Math.floor(random() * 0x5000))).join(random() < 0.5 ? '' : ' ');
  }
  if (style === 'unicode' ? roll < 0.5 : roll < 0.1) return pick(ACCENTED);
  if (style === 'unicode' ? roll < 0.6 : roll < 0.13) return pick(EMOJI);
  if (roll < 0.16) return pick(SPECIAL);
  if (roll < 0.24) return pick(PUNCTUATION);
  if (roll < 0.27) return `https://example.com/${pick(WORDS)}/${counter()}?q=${pick(WORDS)}&p=${counter()}`;
  if (roll < 0.28) return 'x'.repeat(95 + Math.floor(random() * 15)); // around the 100-character [UNK] limit
  if (roll < 0.36) return String(counter());
  if (roll < 0.5) return pick(LONG_WORDS);
  return random() < 0.2 ? pick(WORDS).toUpperCase() : pick(WORDS);
}

/** A text of roughly `tokens` WordPiece tokens in one of several styles. */
function text(random: () => number, pick: Pick, tokens: number): string {
  if (tokens === 0) return random() < 0.8 ? '' : pick(WHITESPACE);
  let count = 0;
  const counter = () => count++;
  const style = pick(['prose', 'prose', 'unicode', 'repeat', 'numbered', 'single']);
  // About 1.5 tokens a piece in prose; the repeated styles are cut to length the same way.
  const pieces = Math.max(1, Math.round(tokens / 1.5));
  if (style === 'single') return `${pick([...WORDS, ...LONG_WORDS])} `.repeat(pieces);
  if (style === 'repeat' || style === 'numbered') {
    const phrase = Array.from({ length: 3 + Math.floor(random() * 8) }, () => pick(WORDS));
    const parts: string[] = [];
    for (let i = 0; parts.length < pieces; i++) parts.push(...(style === 'numbered' ? [...phrase.slice(0, 3), String(i), ...phrase.slice(3)] : phrase));
    return parts.slice(0, pieces).join(' ');
  }
  const parts: string[] = [];
  for (let i = 0; i < pieces; i++) {
    parts.push(piece(random, pick, counter, style));
    parts.push(random() < 0.9 ? ' ' : pick(WHITESPACE));
  }
  // Sometimes no leading or trailing space, sometimes a run of it.
  return random() < 0.2 ? `${pick(WHITESPACE)}${parts.join('')}` : parts.join('').trimEnd();
}

/** `count` pairs from `seed`: every side length factor against every other, at random `maxLength`s. */
export function generatePairs(count: number, seed: number): GeneratedPair[] {
  const random = mulberry32(seed);
  const pick: Pick = (items) => items[Math.floor(random() * items.length)];
  const jitter = () => Math.floor(random() * 7) - 3;
  return Array.from({ length: count }, () => {
    const maxLength = pick(MAX_LENGTHS);
    const length = () => Math.max(0, Math.round(pick(LENGTH_FACTORS) * maxLength) + (random() < 0.5 ? jitter() : 0));
    return { query: text(random, pick, length()), document: text(random, pick, length()), maxLength };
  });
}
