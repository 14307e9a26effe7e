/**
 * Tokenizer directories of the model families (XLM-RoBERTa, RoBERTa, ModernBERT, ELECTRA) for
 * the tokenizer oracle, built here so the tests need neither Python nor the test models:
 * - xlm-roberta: the Unigram of test/fixtures/tiny-xlm-roberta/sentencepiece.bpe.model (a real
 *   sentencepiece model with its nmt_nfkc `precompiled_charsmap`), converted as transformers'
 *   XLMRobertaConverter does (<s>=0 <pad>=1 </s>=2 <unk>=3, spm id i → i + 1, <mask> last),
 *   normalizer Precompiled + Replace(" {2,}", " ") as the hub's XLM-R files have it;
 *   xlm-roberta-strip the same with the normalizer of transformers ≥ 4.4x (Precompiled,
 *   Strip(right), Replace(" {2,}", "▁")); unigram-nmt with Nmt + NFKC instead of Precompiled;
 * - roberta / modernbert: byte-level BPE trained (seeded corpus) by the official binding
 *   (npm `tokenizers`), with RobertaProcessing / ModernBERT's template, specials and pad id;
 * - electra: bert-base-uncased's WordPiece with ElectraTokenizer's config.
 * Each is saved with tokenizer_config.json and special_tokens_map.json as save_pretrained does.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BPE, byteLevelPreTokenizer, Tokenizer as RustTokenizer } from 'tokenizers';

import { mulberry32 } from '../../lib/datasets.js';

import { generatePairs, type GeneratedPair } from './pair-generator.js';

const root = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
export const SPM_FIXTURE = path.join(root, 'test/fixtures/tiny-xlm-roberta/sentencepiece.bpe.model');
const BERT_FIXTURE = path.join(root, 'test/fixtures/bert-base-uncased');

export const FAMILY_TOKENIZERS = ['xlm-roberta', 'xlm-roberta-strip', 'unigram-nmt', 'roberta', 'modernbert', 'electra'] as const;
export type FamilyTokenizer = (typeof FAMILY_TOKENIZERS)[number];

/** Added tokens (and look-alikes) of each family, put into generated text. */
export const FAMILY_SPECIALS: Record<FamilyTokenizer, string[]> = {
  'xlm-roberta': ['<s>', '</s>', '<pad>', '<unk>', '<mask>', '<S>', '</s', '▁'],
  'xlm-roberta-strip': ['<s>', '</s>', '<mask>', '<mask>  ', ' <mask> '],
  'unigram-nmt': ['<s>', '</s>', '<mask>'],
  roberta: ['<s>', '</s>', '<pad>', '<unk>', '<mask>', ' <mask>', '<s'],
  modernbert: ['[CLS]', '[SEP]', '[PAD]', '[MASK]', '[UNK]', '<|endoftext|>', '<|padding|>', '[unused_0]', '[sep]'],
  electra: ['[SEP]', '[MASK]', '[CLS]', '[UNK]', '[PAD]'],
};

/** Text the pipelines treat specially beyond the BERT generator's: compatibility forms, graphemes, whitespace. */
const EXTRAS = [
  'ｶﾞ', 'ﾊﾟﾝ', 'ｶﾀｶﾅ', 'ﾞ', 'Ａ\u0301', 'A\u0302\u0300', 'e\u0301\u0301', 'ﬁ', '①', '㍿', 'Ⅻ', '℃', 'Ｆｕｌｌ', '²',
  '\u0085', '\ufeff', '\u3000', '\u00a0', '\u2581', '\u200d', '\u2028', '\u0001', '\t', '  ', '   ', '\u200b',
  'ΟΔΟΣ', 'Σ', 'İ', '👩‍💻', '👍🏽', '🇫🇷', '한국어', 'ひらがな', 'नमस्ते', 'क्षि', 'ภาษาไทย', '\u0600\u0661', "it's", "'ll", 'x'.repeat(40),
];

/** Pairs of {@link generatePairs} with a family's added tokens and {@link EXTRAS} mixed in. */
export function generateFamilyPairs(count: number, seed: number, family: FamilyTokenizer): GeneratedPair[] {
  const random = mulberry32(seed ^ 0x5eed);
  const extras = [...EXTRAS, ...FAMILY_SPECIALS[family]];
  const spice = (text: string): string => {
    if (text.length === 0 || random() < 0.3) return text;
    const parts = text.split(' ');
    for (let i = 0; i < parts.length; i++) {
      if (random() < 0.08) parts[i] = extras[Math.floor(random() * extras.length)] + (random() < 0.5 ? parts[i] : ` ${parts[i]}`);
    }
    return parts.join(random() < 0.1 ? '  ' : ' ');
  };
  return generatePairs(count, seed).map(({ query, document, maxLength }) => ({ query: spice(query), document: spice(document), maxLength }));
}

// --- sentencepiece model (protobuf, read by hand) --------------------------------------------

function varint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    result += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return [result, pos];
    shift += 7;
  }
}

function* fields(buf: Uint8Array): Generator<[number, Uint8Array | number]> {
  let pos = 0;
  while (pos < buf.length) {
    let key: number;
    [key, pos] = varint(buf, pos);
    const [number, wire] = [Math.floor(key / 8), key & 7];
    if (wire === 0) {
      let value: number;
      [value, pos] = varint(buf, pos);
      yield [number, value];
    } else if (wire === 2) {
      let length: number;
      [length, pos] = varint(buf, pos);
      yield [number, buf.subarray(pos, pos + length)];
      pos += length;
    } else if (wire === 5) {
      yield [number, buf.subarray(pos, pos + 4)];
      pos += 4;
    } else if (wire === 1) {
      yield [number, buf.subarray(pos, pos + 8)];
      pos += 8;
    } else {
      throw new Error(`protobuf wire type ${wire}`);
    }
  }
}

/** The pieces (piece, score) and the precompiled charsmap of a sentencepiece ModelProto. */
export function readSentencePiece(file: string): { pieces: Array<[string, number]>; charsmap: Buffer } {
  const data = readFileSync(file);
  const pieces: Array<[string, number]> = [];
  let charsmap = Buffer.alloc(0);
  for (const [number, value] of fields(data)) {
    if (number === 1 && typeof value !== 'number') {
      let piece = '';
      let score = 0;
      for (const [n, v] of fields(value)) {
        if (n === 1 && typeof v !== 'number') piece = Buffer.from(v).toString('utf8');
        if (n === 2 && typeof v !== 'number') score = Buffer.from(v).readFloatLE(0);
      }
      pieces.push([piece, score]);
    } else if (number === 3 && typeof value !== 'number') {
      for (const [n, v] of fields(value)) if (n === 2 && typeof v !== 'number') charsmap = Buffer.from(v);
    }
  }
  return { pieces, charsmap };
}

// --- tokenizer.json composition ----------------------------------------------------------------

type Json = Record<string, unknown>;

const addedToken = (id: number, content: string, extra: Json = {}) => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra,
});

function template(cls: [string, number], sep: [string, number], pairTypeB: number, roberta: boolean): Json {
  const special = (id: string, typeId = 0) => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    type: 'TemplateProcessing',
    single: [special(cls[0]), sequence('A', 0), special(sep[0])],
    pair: roberta
      ? [special(cls[0]), sequence('A', 0), special(sep[0]), special(sep[0]), sequence('B', 0), special(sep[0])]
      : [special(cls[0]), sequence('A', 0), special(sep[0]), sequence('B', pairTypeB), special(sep[0], pairTypeB)],
    special_tokens: Object.fromEntries([cls, sep].map(([token, id]) => [token, { id: token, ids: [id], tokens: [token] }])),
  };
}

function tokenizerJson(model: Json, added: Json[], normalizer: Json | null, preTokenizer: Json, postProcessor: Json): Json {
  return { version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer, pre_tokenizer: preTokenizer, post_processor: postProcessor, decoder: null, model };
}

function writeDir(dir: string, json: Json, config: Json): void {
  mkdirSync(dir, { recursive: true });
  // Through the official library: a file it cannot load fails here.
  RustTokenizer.fromString(JSON.stringify(json)).save(path.join(dir, 'tokenizer.json'), true);
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  const specials = Object.fromEntries(Object.entries(config).filter(([key]) => key.endsWith('_token')));
  writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify(specials, null, 2));
}

function xlmrJson(normalizer: Json | null): Json {
  const { pieces } = readSentencePiece(SPM_FIXTURE);
  const vocab: Array<[string, number]> = [['<s>', 0], ['<pad>', 0], ['</s>', 0], ['<unk>', 0], ...pieces.slice(3), ['<mask>', 0]];
  const mask = vocab.length - 1;
  const added = [addedToken(0, '<s>'), addedToken(1, '<pad>'), addedToken(2, '</s>'), addedToken(3, '<unk>'), addedToken(mask, '<mask>', { lstrip: true })];
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  return tokenizerJson({ type: 'Unigram', unk_id: 3, vocab, byte_fallback: false }, added, normalizer, metaspace, template(['<s>', 0], ['</s>', 2], 0, true));
}

const XLMR_CONFIG = { bos_token: '<s>', cls_token: '<s>', eos_token: '</s>', sep_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', mask_token: '<mask>', model_max_length: 512, tokenizer_class: 'XLMRobertaTokenizer' };

/** Every merge of a byte-level BPE trained by the official binding on a seeded corpus, in order. */
function trainMerges(dir: string): Array<[string, string]> {
  const corpus = path.join(dir, 'corpus.txt');
  const lines = generateFamilyPairs(3000, 7, 'roberta').flatMap(({ query, document }) => [query, document]);
  writeFileSync(corpus, lines.join('\n'));
  const trainer = new RustTokenizer(BPE.empty());
  trainer.setPreTokenizer(byteLevelPreTokenizer(false, true));
  trainer.train([corpus]);
  const out = path.join(dir, 'bpe.json');
  trainer.save(out, false);
  const merges = (JSON.parse(readFileSync(out, 'utf8')) as { model: { merges: Array<string | [string, string]> } }).model.merges;
  return merges.map((merge) => (Array.isArray(merge) ? merge : (merge.split(' ', 2) as [string, string])));
}

function byteAlphabet(): string[] {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = bytes.map((b) => String.fromCharCode(b));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bytes.includes(b)) chars.push(String.fromCharCode(256 + n++));
  return chars;
}

function bpeModel(head: string[], merges: Array<[string, string]>, size: number, tail: string[]): { model: Json; vocab: Record<string, number> } {
  const tokens = [...head, ...byteAlphabet()];
  const kept: Array<[string, string]> = [];
  const seen = new Set(tokens);
  for (const [a, b] of merges) {
    if (tokens.length >= size - tail.length) break;
    kept.push([a, b]);
    if (!seen.has(a + b)) {
      seen.add(a + b);
      tokens.push(a + b);
    }
  }
  tokens.push(...tail);
  const vocab = Object.fromEntries(tokens.map((token, id) => [token, id]));
  const model = { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: kept };
  return { model, vocab };
}

/** Writes the family tokenizer directories into `dir`; returns their paths by name. */
export function buildFamilyTokenizers(dir: string): Record<FamilyTokenizer, string> {
  mkdirSync(dir, { recursive: true });
  const out = Object.fromEntries(FAMILY_TOKENIZERS.map((name) => [name, path.join(dir, name)])) as Record<FamilyTokenizer, string>;
  const { charsmap } = readSentencePiece(SPM_FIXTURE);
  const precompiled = { type: 'Precompiled', precompiled_charsmap: charsmap.toString('base64') };
  writeDir(out['xlm-roberta'], xlmrJson({ type: 'Sequence', normalizers: [precompiled, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] }), XLMR_CONFIG);
  writeDir(
    out['xlm-roberta-strip'],
    xlmrJson({ type: 'Sequence', normalizers: [precompiled, { type: 'Strip', strip_left: false, strip_right: true }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: '▁' }] }),
    XLMR_CONFIG,
  );
  writeDir(
    out['unigram-nmt'],
    xlmrJson({ type: 'Sequence', normalizers: [{ type: 'Nmt' }, { type: 'NFKC' }, { type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] }),
    XLMR_CONFIG,
  );

  const merges = trainMerges(dir);
  const roberta = bpeModel(['<s>', '<pad>', '</s>', '<unk>'], merges, 2000, ['<mask>']);
  const mask = roberta.vocab['<mask>'];
  writeDir(
    out.roberta,
    tokenizerJson(
      roberta.model,
      [addedToken(0, '<s>'), addedToken(1, '<pad>'), addedToken(2, '</s>'), addedToken(3, '<unk>'), addedToken(mask, '<mask>', { lstrip: true })],
      null,
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    ),
    { ...XLMR_CONFIG, tokenizer_class: 'RobertaTokenizer' },
  );

  const specials = ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]'];
  const modern = bpeModel(['<|endoftext|>', '<|padding|>'], merges, 2000, [...specials, '[unused_0]', '[unused_1]']);
  const id = (token: string) => modern.vocab[token];
  writeDir(
    out.modernbert,
    tokenizerJson(
      modern.model,
      [
        addedToken(0, '<|endoftext|>'),
        addedToken(1, '<|padding|>'),
        ...specials.map((token) => addedToken(id(token), token, { lstrip: token === '[MASK]' })),
        addedToken(id('[unused_0]'), '[unused_0]', { special: false, normalized: true }),
        addedToken(id('[unused_1]'), '[unused_1]', { special: false, normalized: true }),
      ],
      { type: 'NFC' },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      template(['[CLS]', id('[CLS]')], ['[SEP]', id('[SEP]')], 1, false),
    ),
    {
      cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]',
      model_input_names: ['input_ids', 'attention_mask'], model_max_length: 8192, tokenizer_class: 'PreTrainedTokenizerFast',
    },
  );

  mkdirSync(out.electra, { recursive: true });
  for (const file of ['tokenizer.json', 'vocab.txt']) copyFileSync(path.join(BERT_FIXTURE, file), path.join(out.electra, file));
  writeFileSync(
    path.join(out.electra, 'tokenizer_config.json'),
    JSON.stringify({ do_lower_case: true, model_max_length: 512, tokenizer_class: 'ElectraTokenizer', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' }),
  );
  return out;
}
