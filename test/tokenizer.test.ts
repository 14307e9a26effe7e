import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidArgumentError, ModelFormatError } from '../lib/errors.js';
import { rustBertNormalizer, RustBertPreTokenizer } from '../lib/tokenizer/bert-normalizer.js';
import { backtrackingHazard } from '../lib/tokenizer/regex-safety.js';
import { CrossEncoderTokenizer, longestFirstLengths, type PairEncoding } from '../lib/tokenizer/tokenizer.js';
import { chunkBoundary } from '../lib/tokenizer/truncation.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FIXTURE = path.join(root, 'test/fixtures/bert-base-uncased');

/** Token → id as vocab.txt defines it: the line index, from 0. */
const VOCAB = new Map(readFileSync(path.join(FIXTURE, 'vocab.txt'), 'utf8').trimEnd().split('\n').map((token, line) => [token, line]));
function ids(...tokens: string[]): number[] {
  return tokens.map((token) => {
    const id = VOCAB.get(token);
    if (id === undefined) throw new Error(`test bug: ${token} is not in vocab.txt`);
    return id;
  });
}

/** `[CLS] query [SEP] document [SEP]` built by hand from token lists. */
function pair(query: string[], document: string[]): { inputIds: number[]; tokenTypeIds: number[] } {
  return {
    inputIds: [...ids('[CLS]', ...query, '[SEP]'), ...ids(...document, '[SEP]')],
    tokenTypeIds: [...Array(query.length + 2).fill(0), ...Array(document.length + 1).fill(1)],
  };
}

function plain(encoding: PairEncoding): { inputIds: number[]; tokenTypeIds: number[] } {
  return { inputIds: Array.from(encoding.inputIds), tokenTypeIds: Array.from(encoding.tokenTypeIds) };
}

/** Lengths of the query and document parts of an encoding (its type ids are 0…0 1…1). */
function sideLengths(encoding: PairEncoding): [number, number] {
  const query = encoding.tokenTypeIds.filter((type) => type === 0).length - 2;
  return [query, encoding.inputIds.length - query - 3];
}

/** `n` one-token words. */
const words = (word: string, n: number) => Array(n).fill(word).join(' ');

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tokenizer-test-'));
  temps.push(dir);
  return dir;
}
afterAll(() => Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true }))));

let tokenizer: CrossEncoderTokenizer;
beforeAll(async () => {
  tokenizer = await CrossEncoderTokenizer.fromDirectory(FIXTURE);
});

describe('CrossEncoderTokenizer.fromDirectory', () => {
  it('reads the special tokens and sizes of bert-base-uncased', () => {
    expect(tokenizer.padTokenId).toBe(VOCAB.get('[PAD]'));
    expect(tokenizer.numSpecialTokens).toBe(3);
    expect(tokenizer.vocabSize).toBe(VOCAB.size);
    expect(tokenizer.modelMaxLength).toBeUndefined(); // the fixture's tokenizer_config.json has none
  });

  it('reads model_max_length, ignoring the "very large" sentinel', async () => {
    for (const [value, expected] of [[512, 512], [1e30, undefined]] as const) {
      const dir = await tempDir();
      await copyFile(path.join(FIXTURE, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
      await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: value }));
      expect((await CrossEncoderTokenizer.fromDirectory(dir)).modelMaxLength).toBe(expected);
    }
  });

  it('names the directory and both files when neither exists', async () => {
    const dir = await tempDir();
    const error = await CrossEncoderTokenizer.fromDirectory(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toContain('tokenizer.json');
    expect((error as Error).message).toContain('vocab.txt');
    await expect(CrossEncoderTokenizer.fromDirectory(path.join(dir, 'missing'))).rejects.toThrow(ModelFormatError);
  });

  it('names the malformed JSON file', async () => {
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      const dir = await tempDir();
      await copyFile(path.join(FIXTURE, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
      await writeFile(path.join(dir, file), '{"do_lower_case": tru');
      const error = await CrossEncoderTokenizer.fromDirectory(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelFormatError);
      expect((error as Error).message).toContain(path.join(dir, file));
    }
  });

  it('rejects a vocab.txt without the unknown token, and a tokenizer.json of unknown parts', async () => {
    const noUnk = await tempDir();
    await writeFile(path.join(noUnk, 'vocab.txt'), '[PAD]\n[CLS]\n[SEP]\nhello\n');
    await expect(CrossEncoderTokenizer.fromDirectory(noUnk)).rejects.toThrow(/vocab\.txt has no unk_token "\[UNK\]"/);

    const badType = await tempDir();
    const json = JSON.parse(await readFile(path.join(FIXTURE, 'tokenizer.json'), 'utf8'));
    await writeFile(path.join(badType, 'tokenizer.json'), JSON.stringify({ ...json, normalizer: { type: 'NoSuchNormalizer' } }));
    await expect(CrossEncoderTokenizer.fromDirectory(badType)).rejects.toThrow(ModelFormatError);
  });

  it('lets tokenizer_config.json do_lower_case override tokenizer.json, as BertTokenizerFast does', async () => {
    const dir = await tempDir();
    await copyFile(path.join(FIXTURE, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false }));
    const cased = await CrossEncoderTokenizer.fromDirectory(dir);
    // The uncased vocabulary has no capital letters: "Hello" is unknown once nothing lowercases it.
    expect(plain(cased.encodePair('Hello', 'hello', 512))).toEqual(pair(['[UNK]'], ['hello']));
  });
});

describe('tokenizer.json regexes that could backtrack for exponential time', () => {
  const SAFE = [
    // GPT-2 / RoBERTa byte-level BPE, Llama-3 / Qwen2, BLOOM, digit splitting: real pre-tokenizers.
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ' ?[^(\\s|[.,!?…。，、।۔،])]+',
    '\\s+', '(?:ab)+', 'x{2,5}', '[a-z]{3}',
  ];
  const HAZARDS: Array<[string, RegExp]> = [
    ['(a+)+$', /nested quantifiers/],
    ['(?:\\w*\\s?)*x', /nested quantifiers/],
    ['(a|aa)*b', /group of alternatives/],
    ['((ab)*c)+', /nested quantifiers/],
    ['(x{1,20}){2,}', /nested quantifiers/],
    ['(a)\\1', /back-reference/],
  ];

  it('accepts the flat patterns real tokenizers use, refuses nested quantifiers, quantified alternatives and back-references', () => {
    for (const pattern of SAFE) expect(backtrackingHazard(pattern), pattern).toBeUndefined();
    for (const [pattern, problem] of HAZARDS) expect(backtrackingHazard(pattern), pattern).toMatch(problem);
  });

  it('refuses a Split pre-tokenizer or a Replace normalizer with such a regex before compiling it, naming where', async () => {
    const json = JSON.parse(await readFile(path.join(FIXTURE, 'tokenizer.json'), 'utf8'));
    const variants = {
      pre_tokenizer: { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false },
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: '(\\s|x)*y' }, content: ' ' }] },
    };
    for (const [key, component] of Object.entries(variants)) {
      const dir = await tempDir();
      await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify({ ...json, [key]: component }));
      const error = await CrossEncoderTokenizer.fromDirectory(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelFormatError);
      expect((error as Error).message).toContain(path.join(dir, 'tokenizer.json'));
      expect((error as Error).message).toContain(key);
    }
  });
});

describe('CrossEncoderTokenizer.encodePair (ids derived by hand from vocab.txt)', () => {
  const cases: Array<[string, [string, string], [string[], string[]]]> = [
    ['a simple pair', ['What is BERT?', 'BERT is a language model.'], [['what', 'is', 'bert', '?'], ['bert', 'is', 'a', 'language', 'model', '.']]],
    ['lowercasing and stripped accents', ['Crème brûlée', 'CAFÉ naïve'], [['cr', '##eme', 'br', '##ule', '##e'], ['cafe', 'naive']]],
    ['punctuation split off', ["Hello, world! don't", '(a)'], [['hello', ',', 'world', '!', 'don', "'", 't'], ['(', 'a', ')']]],
    ['words split into ## pieces', ['unbelievably', 'tokenization'], [['un', '##bel', '##ie', '##va', '##bly'], ['token', '##ization']]],
    ['characters outside the vocabulary', ['a ☃ b', 'x😀y'], [['a', '[UNK]', 'b'], ['[UNK]']]],
    ['Chinese characters, one word each', ['中文', '日本語'], [['中', '文'], ['日', '本', '語']]],
    // Rust lowercases char by char: a final Σ becomes σ, not ς as String#toLowerCase would give.
    ['Greek capitals lowercased per character', ['ΟΔΟΣ', 'ς'], [['ο', '##δ', '##ο', '##σ'], ['ς']]],
    // U+20000 is a CJK ideograph beyond U+FFFF: split off like 中, then unknown.
    ['an ideograph beyond the BMP', ['a\u{20000}b', ''], [['a', '[UNK]', 'b'], []]],
    ['control, format and zero-width characters dropped, whitespace kinds split', ['a\u0000b\u200bc', 'a\tb\nc\u00a0d\u3000x'], [['abc'], ['a', 'b', 'c', 'd', 'x']]],
    // U+08E2 is a format character, U+2E43 punctuation and U+1ABF a nonspacing mark for V8, but not in
    // the older tables of the Rust crate, which keep them inside words; there U+1734 is a nonspacing
    // mark and U+166D punctuation.
    ['characters the Rust crate classifies by older Unicode tables', ['word\u08E2 a\u2E43b', 'e\u1ABF x\u1734 y\u166Dz'], [['[UNK]', '[UNK]'], ['[UNK]', 'x', 'y', '[UNK]', 'z']]],
    ['special tokens written in the text', ['a [SEP] b', '[MASK]'], [['a', '[SEP]', 'b'], ['[MASK]']]],
    ['a word over 100 characters', ['x'.repeat(101), 'x'.repeat(100)], [['[UNK]'], ['xx', ...Array(49).fill('##xx')]]],
    ['an empty document', ['query', ''], [['query'], []]],
    ['an empty query', ['', 'document'], [[], ['document']]],
    ['two empty texts', ['', ''], [[], []]],
    ['a lone surrogate, dropped as U+FFFD is', ['\ud800a', 'b'], [['a'], ['b']]],
  ];
  it.each(cases)('%s', (_name, [query, document], [queryTokens, documentTokens]) => {
    expect(plain(tokenizer.encodePair(query, document, 512))).toEqual(pair(queryTokens, documentTokens));
  });

  it('fills the maxLength of 3 with special tokens only', () => {
    expect(plain(tokenizer.encodePair('a b', 'c d', 3))).toEqual(pair([], []));
  });

  it('rejects a maxLength below 3 or not an integer, and non-string texts', () => {
    for (const maxLength of [2, 0, -1, 3.5, Number.NaN, Number.POSITIVE_INFINITY, '8' as unknown as number]) {
      expect(() => tokenizer.encodePair('a', 'b', maxLength)).toThrow(InvalidArgumentError);
    }
    expect(() => tokenizer.encodePair(null as unknown as string, 'b', 8)).toThrow(InvalidArgumentError);
    expect(() => tokenizer.encodePair('a', 42 as unknown as string, 8)).toThrow(InvalidArgumentError);
  });
});

describe('longest_first truncation (tokenizers/src/utils/truncation.rs)', () => {
  it('matches the Rust crate unit test table (max_length 7)', () => {
    // truncate_encodings_longest_first: lengths 0, 2, 4, 8 against each other.
    const table: Array<[number, number, number, number]> = [
      [0, 0, 0, 0], [0, 2, 0, 2], [0, 4, 0, 4], [0, 8, 0, 7],
      [2, 0, 2, 0], [2, 2, 2, 2], [2, 4, 2, 4], [2, 8, 2, 5],
      [4, 0, 4, 0], [4, 2, 4, 2], [4, 4, 3, 4], [4, 8, 3, 4],
      [8, 0, 7, 0], [8, 2, 5, 2], [8, 4, 4, 3], [8, 8, 3, 4],
    ];
    for (const [n1, n2, k1, k2] of table) expect(longestFirstLengths(n1, n2, 7)).toEqual([k1, k2]);
    // The slow Python tokenizer, trimming one token at a time, would give (4, 3) here.
    expect(longestFirstLengths(10, 10, 7)).toEqual([3, 4]);
    expect(longestFirstLengths(5, 5, 0)).toEqual([0, 0]);
  });

  it('cuts a long document to what the query leaves', () => {
    const encoding = tokenizer.encodePair('what is it', words('a', 100), 16); // budget 13
    expect(sideLengths(encoding)).toEqual([3, 10]);
    expect(plain(encoding)).toEqual(pair(['what', 'is', 'it'], Array(10).fill('a')));
  });

  it('cuts a long query to what the document leaves (never throws)', () => {
    expect(sideLengths(tokenizer.encodePair(words('a', 1000), 'short document', 16))).toEqual([11, 2]);
    expect(sideLengths(tokenizer.encodePair(words('a', 1000), '', 16))).toEqual([13, 0]);
  });

  it('halves the budget when both sides are long, the odd token going to the longer side', () => {
    expect(sideLengths(tokenizer.encodePair(words('a', 10), words('b', 14), 16))).toEqual([6, 7]);
    expect(sideLengths(tokenizer.encodePair(words('a', 14), words('b', 10), 16))).toEqual([7, 6]);
    expect(sideLengths(tokenizer.encodePair(words('a', 12), words('b', 12), 16))).toEqual([6, 7]); // tie: the document
    expect(sideLengths(tokenizer.encodePair(words('a', 14), words('b', 10), 15))).toEqual([6, 6]); // even budget
  });

  // The crate (≥ 0.23) encodes each text only up to the first word end at or past maxLength, and
  // compares those lengths: the expectations below are what the npm `tokenizers` binding gives.
  it('compares the lengths encoded up to maxLength, not the whole texts', () => {
    // Both reach 16 at a word end: a tie however long they are, so the document gets the odd token.
    expect(sideLengths(tokenizer.encodePair(words('a', 30), words('b', 20), 16))).toEqual([6, 7]);
    expect(sideLengths(tokenizer.encodePair(words('a', 5001), words('b', 5000), 512))).toEqual([254, 255]);
    // "unbelievably" is 5 tokens: the query's encoding ends at 20, past the document's 16.
    expect(sideLengths(tokenizer.encodePair(`${words('a', 15)} unbelievably`, words('b', 30), 16))).toEqual([7, 6]);
    expect(sideLengths(tokenizer.encodePair(words('b', 30), `${words('a', 15)} unbelievably`, 16))).toEqual([6, 7]);
    // A special token reaching 16 does not end the encoding; the next word does.
    expect(sideLengths(tokenizer.encodePair(`${words('a', 15)} [SEP] unbelievably`, words('b', 17), 16))).toEqual([7, 6]);
    // Special tokens after the word that reached 16 are not counted.
    expect(sideLengths(tokenizer.encodePair(`${words('a', 16)} [SEP] [SEP]`, words('b', 17), 16))).toEqual([6, 7]);
  });

  it('keeps a short query whole beside a long document', () => {
    expect(sideLengths(tokenizer.encodePair(words('a', 6), words('b', 100), 16))).toEqual([6, 7]);
    expect(sideLengths(tokenizer.encodePair(words('a', 7), words('b', 100), 16))).toEqual([6, 7]); // 7 > 13 - 7: halved
  });

  /** Truncated ids of a long document must be a prefix of the ids of the whole document. */
  function expectChunkedLikeWhole(tok: CrossEncoderTokenizer, text: string): void {
    const whole = tok.encodePair('query', text, Number.MAX_SAFE_INTEGER);
    for (const maxLength of [16, 512, 2048]) {
      const documentLength = Math.min(maxLength - 4, whole.inputIds.length - 4);
      const expected = [...whole.inputIds.slice(0, 3 + documentLength), whole.inputIds[whole.inputIds.length - 1]];
      expect(Array.from(tok.encodePair('query', text, maxLength).inputIds)).toEqual(expected);
    }
  }
  // Zero-width spaces are dropped by the normalizer but are no whitespace: they make words that
  // yield one token per ~150 characters, so that the kept tokens span many chunks.
  // The word comes last, so a chunk that ends inside a word ends inside its letters.
  const sparse = (word: string) => '\u200b'.repeat(150) + word;

  it('encodes long texts in chunks with the ids of the whole text', () => {
    const texts = [
      Array.from({ length: 4000 }, (_, i) => ['Word', 'the', 'ΣΟΦΟΣ,', 'naïve', 'unbelievably', '[SEP]', '😀'][i % 7]).join(' '),
      '中文字符日本語'.repeat(2000), // no whitespace: cut before ideographs
      Array.from({ length: 3000 }, (_, i) => (i % 3 ? ' \u0301e\u0345\u0301' : '\t\u0000  \u200b\n')).join('x'),
      `${' '.repeat(50_000)}end of a mostly blank text`,
      Array.from({ length: 4000 }, (_, i) => sparse(['Words', 'ΟΔΟΣ', 'naïve', 'é', 'unbelievably'][i % 5])).join(' '),
      Array.from({ length: 4000 }, (_, i) => `${sparse('x')}中${i % 2 ? '\u0301' : ''}`).join(''),
      // Cut before punctuation, and blank runs (whitespace, deleted controls) stepped over at a cut.
      'a.'.repeat(20_000),
      Array.from({ length: 3000 }, (_, i) => ['x,', '\u0000\u0000 ', '\u200b', ' \t\n', '.\u0301', '\u3000'][i % 6]).join(''),
      // U+0085 is whitespace but a control: clean_text deletes it, joining its neighbours into one word.
      'abcd\u0085'.repeat(4000),
      // Added tokens' own characters ("[" and "]" are punctuation) are never cut before.
      Array.from({ length: 4000 }, () => `${sparse('xx')}[SEP]`).join(''),
      Array.from({ length: 3000 }, (_, i) => ['[SEP].', '[MASK],', 'word]', '[x'][i % 4]).join(''),
      `${'\u0000 '.repeat(30_000)}words after a long blank run`,
    ];
    for (const text of texts) expectChunkedLikeWhole(tokenizer, text);
  });

  it('cuts before whitespace, punctuation and ideographs; never at a deleted control or a character of an added token', () => {
    const boundary = chunkBoundary({ normalizer: rustBertNormalizer({}, 'test'), pre_tokenizer: new RustBertPreTokenizer() }, ['[SEP]', '[MASK]'])!;
    const cuts = (text: string) => [...text.matchAll(boundary.cut)].map((match) => match[0]);
    expect(cuts('a b.c,d中e\u3000f\u0085g[h]i\tj!')).toEqual([' ', '.', ',', '中', '\u3000', '\t', '!']);
    boundary.blank.lastIndex = 0;
    expect(boundary.blank.exec(' \u0000\u200b\t x')?.[0]).toBe(' \u0000\u200b\t ');
  });

  it('does not cut before ideographs when the normalizer leaves them inside words', async () => {
    const dir = await tempDir();
    await copyFile(path.join(FIXTURE, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenize_chinese_chars: false }));
    const whole = await CrossEncoderTokenizer.fromDirectory(dir);
    expect(plain(whole.encodePair('中文', 'x中', 512))).toEqual(pair(['中', '##文'], ['x', '##中']));
    expectChunkedLikeWhole(whole, Array.from({ length: 4000 }, () => `${sparse('x')}中`).join(''));
  });

  it('does not encode more of a long document than truncation needs', () => {
    const vocabulary = [...VOCAB.keys()].filter((token) => /^[a-z]+$/.test(token));
    const document = Array.from({ length: 100_000 }, (_, i) => vocabulary[(i * 7919) % vocabulary.length]).join(' ');
    tokenizer.encodePair('warm up', document, 512);
    const start = performance.now();
    for (let i = 0; i < 5; i++) expect(tokenizer.encodePair('what is the capital of france', document, 512).inputIds.length).toBe(512);
    // Encoding all 100k words takes ~350 ms; the first ~600 tokens ~1 ms.
    expect((performance.now() - start) / 5).toBeLessThan(50);
  });
});

describe('CrossEncoderTokenizer.collate', () => {
  it('pads rows on the right to the longest encoding', () => {
    const encodings = [tokenizer.encodePair('a', 'b', 512), tokenizer.encodePair('a b c', 'd', 512), tokenizer.encodePair('', '', 512)];
    const batch = tokenizer.collate(encodings);
    const [a, b, c, d, pad, cls, sep] = ids('a', 'b', 'c', 'd', '[PAD]', '[CLS]', '[SEP]');
    expect(batch.batchSize).toBe(3);
    expect(batch.seqLength).toBe(7);
    expect(Array.from(batch.inputIds)).toEqual([
      cls, a, sep, b, sep, pad, pad,
      cls, a, b, c, sep, d, sep,
      cls, sep, sep, pad, pad, pad, pad,
    ]);
    expect(Array.from(batch.tokenTypeIds)).toEqual([
      0, 0, 0, 1, 1, 0, 0,
      0, 0, 0, 0, 0, 1, 1,
      0, 0, 1, 0, 0, 0, 0,
    ]);
    expect(Array.from(batch.attentionMask)).toEqual([
      1, 1, 1, 1, 1, 0, 0,
      1, 1, 1, 1, 1, 1, 1,
      1, 1, 1, 0, 0, 0, 0,
    ]);
    expect(tokenizer.encodeBatch([['a', 'b'], ['a b c', 'd'], ['', '']], 512)).toEqual(batch);
  });

  it('rejects an empty list and an encoding whose arrays differ in length', () => {
    expect(() => tokenizer.collate([])).toThrow(InvalidArgumentError);
    const broken = { inputIds: new Int32Array(4), tokenTypeIds: new Int32Array(3) };
    expect(() => tokenizer.collate([broken])).toThrow(InvalidArgumentError);
  });
});

/** Varied texts for comparing two tokenizers. */
const VARIED_PAIRS: Array<[string, string]> = [
  ['What is BERT?', 'BERT is a language model.'],
  ['Crème brûlée', 'Café au lait, naïve façade, Ångström'],
  ["don't stop", 'Hello, world! (really) -- "quoted" [brackets] {braces}'],
  ['unbelievably', 'tokenization antidisestablishmentarianism'],
  ['中文字符', '日本語のテキストと한국어 텍스트'],
  ['emoji 😀 👍🏽 🥺', '❤️ ☃ ✓ ∑ ∞'],
  ['tabs\tand\nnewlines\r\nhere', 'vertical\u000btab form\u000cfeed'],
  ['control\u0000chars\u0007here', 'zero\u200bwidth\u200djoiner\ufeffbom'],
  ['', 'empty query'],
  ['empty document', ''],
  ['', ''],
  ['ΟΔΟΣ ΣΟΦΟΣ', 'Ελληνικά κείμενα'],
  ['İstanbul', 'Straße ß ẞ'],
  ['ﬁ ligature', 'Ⅻ ½ ² ㎏'],
  ['a [SEP] b', '[CLS] [MASK] [PAD] [UNK] [sep]'],
  ['x'.repeat(101), 'y'.repeat(100)],
  [words('query,', 300), 'short document'],
  ['short query', words('document.', 300)],
  [words('both', 200), words('long', 250)],
  [words('equal', 200), words('sizes', 200)],
  ['Привет мир', 'Здравствуйте'],
  ['مرحبا بالعالم', 'שלום עולם'],
  ['नमस्ते दुनिया', 'ক্ষ'],
  ['e\u0301\u0301', 'a\u0345\u0301'],
  ['non-breaking\u00a0space', 'ideographic\u3000space\u2028line'],
  ['$100 + 50% = ?', 'email@example.com https://example.com/path?q=1'],
  ['CamelCaseWord', 'UPPERCASE lowercase MiXeD'],
  ['numbers 12345 3.14159', '1,000,000 2nd 3rd'],
  ['replacement \ufffd char', 'private \ue000 use, unassigned \u0378 code point'],
  ['a\u{20000}b \u{2B820}', 'Ӂ ǅ ﬀ Ω K'],
];

describe('a directory with only vocab.txt and tokenizer_config.json', () => {
  it('gives the same ids as tokenizer.json', async () => {
    const dir = await tempDir();
    for (const file of ['vocab.txt', 'tokenizer_config.json']) await copyFile(path.join(FIXTURE, file), path.join(dir, file));
    const fromVocab = await CrossEncoderTokenizer.fromDirectory(dir);
    for (const maxLength of [512, 16]) {
      expect(fromVocab.encodeBatch(VARIED_PAIRS, maxLength)).toEqual(tokenizer.encodeBatch(VARIED_PAIRS, maxLength));
    }
    expect(fromVocab.padTokenId).toBe(tokenizer.padTokenId);
    expect(fromVocab.vocabSize).toBe(tokenizer.vocabSize);
  });
});

describe('CrossEncoderTokenizer.save', () => {
  it('writes files that load back into the same tokenizer', async () => {
    for (const source of ['tokenizer.json', 'vocab.txt']) {
      const from = await tempDir();
      await copyFile(path.join(FIXTURE, source), path.join(from, source));
      const original = await CrossEncoderTokenizer.fromDirectory(from);
      const to = await tempDir();
      await original.save(to);
      expect((await readdir(to)).sort()).toEqual(['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
      // The model's vocabulary, one token per line in id order (the fixture's tokenizer.json has
      // "[LEIS]]" where its vocab.txt has "[LEIS]").
      const vocabulary: Record<string, number> = source === 'vocab.txt'
        ? Object.fromEntries(VOCAB)
        : JSON.parse(await readFile(path.join(FIXTURE, 'tokenizer.json'), 'utf8')).model.vocab;
      const lines = Object.entries(vocabulary).sort(([, a], [, b]) => a - b).map(([token]) => `${token}\n`);
      expect(await readFile(path.join(to, 'vocab.txt'), 'utf8')).toBe(lines.join(''));
      const config = JSON.parse(await readFile(path.join(to, 'tokenizer_config.json'), 'utf8'));
      expect(config).toMatchObject({ do_lower_case: true, strip_accents: null, cls_token: '[CLS]', pad_token: '[PAD]', tokenizer_class: 'BertTokenizer' });
      const reloaded = await CrossEncoderTokenizer.fromDirectory(to);
      expect(reloaded.encodeBatch(VARIED_PAIRS, 64)).toEqual(original.encodeBatch(VARIED_PAIRS, 64));
    }
  });
});

const REFERENCE = path.join(root, 'test/reference/bert_reference.py');
const TINY_MODEL = path.join(root, 'test/.models/tiny');
const PYTHON = '/usr/bin/python3';

describe('the Python reference tokenizer (test/reference/bert_reference.py)', () => {
  it('gives the same padded ids, token types and masks', async () => {
    const tiny = await CrossEncoderTokenizer.fromDirectory(TINY_MODEL);
    for (const maxLength of [512, 64, 16]) {
      const request = JSON.stringify({ pairs: VARIED_PAIRS, max_length: maxLength });
      const answer = JSON.parse(execFileSync(PYTHON, [REFERENCE, 'predict', '--model', TINY_MODEL], { input: request, maxBuffer: 1 << 26 }).toString());
      const batch = tiny.encodeBatch(VARIED_PAIRS, maxLength);
      const rows = (array: Int32Array) => VARIED_PAIRS.map((_, row) => Array.from(array.subarray(row * batch.seqLength, (row + 1) * batch.seqLength)));
      expect(rows(batch.inputIds)).toEqual(answer.input_ids);
      expect(rows(batch.tokenTypeIds)).toEqual(answer.token_type_ids);
      expect(rows(batch.attentionMask)).toEqual(answer.attention_mask);
    }
  }, 120_000);
});
