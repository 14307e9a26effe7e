/**
 * Inference parity with the Python reference (test/reference/bert_reference.py, plain PyTorch and
 * a tokenizer that follows Hugging Face's Rust `tokenizers`), run in the same test: identical
 * token ids, type ids and masks for every generated test model, and logits
 * - within 1e-5 of PyTorch's where the batch is the same (our forward over the reference's very
 *   batches: same rows, same padding, same shapes);
 * - within max(K x spread, 1e-5) where the batch composition differs (predict's length-sorted
 *   batches, a pair alone, another batch size), the spread being PyTorch's own: how far its
 *   logits move, in the same run, between one batch of all pairs and batches of 1 and of 8. A
 *   pair's logit depends on its batch through float rounding only (other matmul shapes and
 *   padding), by an amount that depends on the CPU's kernels and the model's weights.
 * Probabilities get the logit tolerance times the activation's Lipschitz bound (1/4 for sigmoid,
 * 1/2 for softmax). The mutation checks at the end show the comparison fails on real bugs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, type Pair } from '../lib/index.js';

import { referencePredict, type ReferenceAnswer, type ReferenceMutation, testModel, type TestModelName } from './helpers/models.js';

/** Our forward over exactly the reference's batch. Measured: 0 (tiny models), 1.7e-6 (MiniLM-L6). */
const SAME_BATCH_TOLERANCE = 1e-5;
/**
 * The multiple of PyTorch's batch-composition spread allowed between different batches (as in
 * test/training-parity.test.ts). Measured here: the spread is 3e-7 (tiny) to 8e-7 (MiniLM-L6), our
 * predict() 1.7e-6 from the reference on MiniLM-L6, so the 1e-5 floor is what applies.
 */
const K = 5;
/** The batch sizes whose logits, against one batch of all pairs, make PyTorch's spread. */
const SPREAD_BATCH_SIZES = [1, 8];
/** The batch of SPREAD_BATCH_SIZES that the same-batch checks rerun on our side. */
const SAME_BATCH_SIZE = 8;

interface Case {
  name: string;
  pair: Pair;
}

/** About 17 WordPiece tokens; repeated to build sides longer than 512 tokens. */
const SENTENCE = 'Cross-encoders read the query and the passage together, which makes them accurate rerankers. ';
const long = (sentences: number): string => SENTENCE.repeat(sentences);

const CASES: Case[] = [
  { name: 'short English', pair: ['How many people live in Berlin?', 'Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.'] },
  { name: 'one word each', pair: ['a', 'b'] },
  { name: 'empty document', pair: ['What is the capital of France?', ''] },
  { name: 'empty query', pair: ['', 'Paris is the capital and most populous city of France.'] },
  { name: 'both empty', pair: ['', ''] },
  { name: 'accents', pair: ['Café crème brûlée à Paris?', 'Ünïcödé façade, naïve résumé; Ångström, Øresund, Dvořák, Łódź.'] },
  { name: 'decomposed accents', pair: ['Cafe\u0301 and nin\u0303o', 'A\u030Angstro\u0308m'] },
  { name: 'Chinese', pair: ['北京有多少人口？', '北京市常住人口约为2189万人，是中国的首都。'] },
  { name: 'Japanese, Korean, Arabic, Hindi', pair: ['東京タワーはどこですか', '안녕하세요 مرحبا بالعالم नमस्ते दुनिया'] },
  { name: 'emoji', pair: ['I love 🍕 and 🚀!', '😀😃 smile 👍🏽 family 👨‍👩‍👧 flags 🇫🇷🇩🇪'] },
  // @huggingface/tokenizers lowercases the whole string, so a word-final Σ becomes ς; Rust maps it to σ.
  { name: 'final capital sigma', pair: ['ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΙΣΥΦΟΣ', 'ΚΑΟΣ. Σ alone, ΑΣ, and lowercase ς σ'] },
  // @huggingface/tokenizers tests CJK per UTF-16 unit and misses these; Rust's Ext E range starts at U+2B920.
  { name: 'CJK ideographs beyond U+FFFF', pair: ['a\u{20000}b \u{2A700}c', 'x\u{2B740}y x\u{2B820}y x\u{2B920}y \u{2F800}z'] },
  {
    name: 'whitespace and control characters',
    pair: ['  tabs\tand\nnewlines\r\n  ', 'zero\u200Bwidth\u0000null\u00A0nbsp\u2028sep\u0007bell\uFEFFbom\u3000ideographic\u0085nel\uFFFDreplacement\u00ADsoft'],
  },
  { name: 'special tokens inside the text', pair: ['what is [MASK]?', 'a [SEP] b [CLS] c [PAD] [UNK] [sep]'] },
  { name: 'punctuation and symbols', pair: ["Don't stop-believing!!! $100 <tag> ^_^ ~~", 'e.g. U.S.A. — “quoted” ‘text’ … 50% off @home #hash a/b\\c {x}|[y] ##ing'] },
  { name: 'numbers and case', pair: ['HELLO World 12345 3.14159', 'MiXeD CaSe iPhone 15 Pro Max 1,024GB'] },
  { name: 'words over 100 characters', pair: ['a'.repeat(150), `super${'cali'.repeat(30)} word`] },
  { name: 'long document (> 512 tokens)', pair: ['short query about rerankers', long(45)] },
  { name: 'long query (> 512 tokens)', pair: [long(45), 'short document'] },
  { name: 'long query, empty document', pair: [long(45), ''] },
  { name: 'both long, unequal', pair: [long(35), long(60)] },
  { name: 'both long, equal', pair: [long(40), `${long(39)}Cross-encoders rerank passages well and read the query with each passage together. `] },
  { name: 'long Chinese document', pair: ['中文', '北京是中华人民共和国的首都，也是全国的政治、文化中心。'.repeat(30)] },
  { name: 'long mixed unicode document', pair: ['Ünïcödé 😀 query', 'naïve café 😀 ΣΟΦΙΑ 北京 \u{20000} '.repeat(120)] },
];
const PAIRS = CASES.map((c) => c.pair);
/** Rows of the pairs under 512 tokens: enough where the point is not length (and MiniLM is slow). */
const SHORT_ROWS = CASES.flatMap((c, row) => (c.name.includes('long') ? [] : [row]));
const SHORT_PAIRS = SHORT_ROWS.map((row) => PAIRS[row]);

const MODELS: TestModelName[] = ['tiny', 'minilm-l6', 'tiny-bin', 'tiny-f16', 'tiny-3labels', 'tiny-gelu-new'];

// Models and reference answers are shared by the describe blocks below; each is computed once.
const memo = <T>(make: (key: string) => Promise<T>) => {
  const cache = new Map<string, Promise<T>>();
  return (key: string): Promise<T> => {
    if (!cache.has(key)) cache.set(key, make(key));
    return cache.get(key)!;
  };
};
/** The mutation checks (tiny): each makes the reference wrong in one way; the comparison must notice. */
const MUTATIONS: { title: string; mutation: ReferenceMutation; alsoAcrossBatches?: boolean }[] = [
  {
    // A rewrite that builds nn.LayerNorm without the config's eps. Large (5e-3 here): it must also stand
    // out of the batch-composition tolerance, or that tolerance would be vacuous.
    title: "layer-norm eps 1e-5 (nn.LayerNorm's default) instead of the config's 1e-12",
    mutation: { layer_norm_eps: 1e-5 },
    alsoAcrossBatches: true,
  },
  {
    title: 'one weight element off by 1e-3 (layer 0 output dense)',
    mutation: { weight_delta: { name: 'bert.encoder.layer.0.output.dense.weight', index: 5, delta: 1e-3 } },
  },
  {
    title: 'every logit shifted by 1e-4 (the classifier bias)',
    mutation: { weight_delta: { name: 'classifier.bias', index: 0, delta: 1e-4 } },
  },
];

const loadModel = memo((name) => CrossEncoder.fromPretrained(testModel(name as TestModelName)));
const referenceOf = memo((name) =>
  referencePredict(testModel(name as TestModelName), {
    pairs: PAIRS,
    batch_sizes: SPREAD_BATCH_SIZES,
    mutations: name === 'tiny' ? MUTATIONS.map((m) => m.mutation) : undefined,
  }),
);
/** Raw logits of every pair with the default batch size (predict's own batches), row-major. */
const logitsOf = memo(async (name) => flat(await (await loadModel(name)).predict(PAIRS, { activation: 'identity', batchSize: 32 })));
/**
 * Raw logits of our forward over the reference's batches of SAME_BATCH_SIZE (consecutive pairs in
 * input order, each batch padded to its longest pair), row-major.
 */
const sameBatchLogitsOf = memo(async (name) => {
  const model = await loadModel(name);
  const encodings = PAIRS.map(([q, d]) => model.tokenizer.encodePair(q, d, model.maxLength));
  const logits: number[] = [];
  for (let start = 0; start < encodings.length; start += SAME_BATCH_SIZE) {
    logits.push(...(await model.forward(encodings.slice(start, start + SAME_BATCH_SIZE))));
  }
  return logits;
});

/** PyTorch's own batch-composition spread: the largest move of a logit from one batch of all pairs. */
function batchSpread(reference: ReferenceAnswer): number {
  const byBatchSize = reference.logits_by_batch_size;
  if (!byBatchSize || byBatchSize.length !== SPREAD_BATCH_SIZES.length) throw new Error('the reference did not score the pairs per batch size');
  return Math.max(...byBatchSize.map((logits) => maxAbsDiff(logits.flat(), reference.logits.flat())));
}

/** The tolerance between different batch compositions: K x PyTorch's spread, never below the same-batch one. */
function batchTolerance(reference: ReferenceAnswer): number {
  return Math.max(K * batchSpread(reference), SAME_BATCH_TOLERANCE);
}

/** The reference's logits for the batches that {@link sameBatchLogitsOf} reruns. */
function sameBatchReference(reference: ReferenceAnswer): number[][] {
  return reference.logits_by_batch_size![SPREAD_BATCH_SIZES.indexOf(SAME_BATCH_SIZE)];
}

/** Flattens predict()'s result (one score per pair, or one row per pair) to row-major numbers. */
function flat(result: Float32Array | Float32Array[]): number[] {
  return result instanceof Float32Array ? Array.from(result) : result.flatMap((row) => Array.from(row));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** A reference row without its padding (the reference pads every row to the longest of the request). */
function unpadded(reference: ReferenceAnswer, row: number): { inputIds: number[]; tokenTypeIds: number[]; length: number } {
  const mask = reference.attention_mask[row];
  const length = mask.indexOf(0) === -1 ? mask.length : mask.indexOf(0);
  // Padding is right-aligned: ones, then zeros over [PAD] (id 0) with type id 0.
  expect(mask.slice(length).every((m) => m === 0)).toBe(true);
  expect(reference.input_ids[row].slice(length).every((id) => id === 0)).toBe(true);
  expect(reference.token_type_ids[row].slice(length).every((t) => t === 0)).toBe(true);
  return { inputIds: reference.input_ids[row].slice(0, length), tokenTypeIds: reference.token_type_ids[row].slice(0, length), length };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
function softmax(row: readonly number[]): number[] {
  const max = Math.max(...row);
  const exps = row.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

describe.each(MODELS)('%s', (name) => {
  let model: CrossEncoder;
  let reference: ReferenceAnswer;
  let logits: number[];
  let sameBatchLogits: number[];

  beforeAll(async () => {
    [model, reference, logits, sameBatchLogits] = await Promise.all([loadModel(name), referenceOf(name), logitsOf(name), sameBatchLogitsOf(name)]);
  });

  it('the reference answered for every pair and its logits are not degenerate', () => {
    expect(reference.logits).toHaveLength(CASES.length);
    expect(reference.logits.every((row) => row.length === model.numLabels)).toBe(true);
    for (const other of reference.logits_by_batch_size ?? []) expect(other.map((row) => row.length)).toEqual(reference.logits.map((row) => row.length));
    // Distinct O(1) logits, so that a wrong weight, mask or activation cannot go unnoticed.
    const values = reference.logits.flat();
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(0.1);
  });

  it.each(CASES.map((c, row) => ({ ...c, row })))('tokenizes $name like the reference', ({ pair, row }) => {
    const encoding = model.tokenizer.encodePair(pair[0], pair[1], model.maxLength);
    const expected = unpadded(reference, row);
    expect({ inputIds: Array.from(encoding.inputIds), tokenTypeIds: Array.from(encoding.tokenTypeIds) }).toEqual({
      inputIds: expected.inputIds,
      tokenTypeIds: expected.tokenTypeIds,
    });
  });

  it('collates the pairs into the reference padded batch (ids, type ids, attention mask)', () => {
    const batch = model.tokenizer.collate(PAIRS.map(([q, d]) => model.tokenizer.encodePair(q, d, model.maxLength)));
    expect(batch.batchSize).toBe(CASES.length);
    expect(batch.seqLength).toBe(reference.input_ids[0].length);
    expect(Array.from(batch.inputIds)).toEqual(reference.input_ids.flat());
    expect(Array.from(batch.tokenTypeIds)).toEqual(reference.token_type_ids.flat());
    expect(Array.from(batch.attentionMask)).toEqual(reference.attention_mask.flat());
  });

  it.each(CASES.map((c, row) => ({ ...c, row })))('scores $name within 1e-5 of the reference logits in the same batch', ({ row }) => {
    const n = model.numLabels;
    const diff = maxAbsDiff(sameBatchLogits.slice(row * n, (row + 1) * n), sameBatchReference(reference)[row]);
    expect(diff).toBeLessThanOrEqual(SAME_BATCH_TOLERANCE);
  });

  it("predict's own batches score every pair within PyTorch's batch-composition spread of the reference", () => {
    expect(maxAbsDiff(logits, reference.logits.flat())).toBeLessThanOrEqual(batchTolerance(reference));
  });
});

describe('hand-derived token ids (test/fixtures/bert-base-uncased/vocab.txt)', () => {
  const vocabFile = fileURLToPath(new URL('./fixtures/bert-base-uncased/vocab.txt', import.meta.url));
  // vocab.txt: one token per line, the id is the line index.
  const vocab = new Map(readFileSync(vocabFile, 'utf8').split('\n').map((token, id) => [token, id] as const));
  const ids = (tokens: string[]) =>
    tokens.map((token) => {
      const id = vocab.get(token);
      if (id === undefined) throw new Error(`${token} is not in ${vocabFile}`);
      return id;
    });
  let model: CrossEncoder;
  beforeAll(async () => {
    model = await loadModel('tiny');
  });

  it('numbers the special tokens as bert-base-uncased does', () => {
    expect(ids(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'])).toEqual([0, 100, 101, 102, 103]);
  });

  it.each([
    {
      pair: ['Hello, World!', 'unaffable'],
      tokens: ['[CLS]', 'hello', ',', 'world', '!', '[SEP]', 'una', '##ffa', '##ble', '[SEP]'],
      types: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
    },
    // Accents stripped, lowercased; a word-final capital sigma is σ, not ς; [SEP] in the text is the special token.
    {
      pair: ['Café RÉSUMÉ', 'ΟΔΥΣ a [SEP] b'],
      tokens: ['[CLS]', 'cafe', 'resume', '[SEP]', 'ο', '##δ', '##υ', '##σ', 'a', '[SEP]', 'b', '[SEP]'],
      types: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
    },
    // Each CJK ideograph is a word, U+20000 too (then [UNK]); emoji are [UNK].
    {
      pair: ['北京', 'a\u{20000}b 😀'],
      tokens: ['[CLS]', '北', '京', '[SEP]', 'a', '[UNK]', 'b', '[UNK]', '[SEP]'],
      types: [0, 0, 0, 0, 1, 1, 1, 1, 1],
    },
  ] as const)('encodes $pair', ({ pair, tokens, types }) => {
    const encoding = model.tokenizer.encodePair(pair[0], pair[1], model.maxLength);
    expect(Array.from(encoding.inputIds)).toEqual(ids([...tokens]));
    expect(Array.from(encoding.tokenTypeIds)).toEqual(types);
  });
});

describe('truncation to a shorter maxLength (tiny, maxLength 64: an odd budget of 61)', () => {
  const MAX_LENGTH = 64;
  let model: CrossEncoder;
  let reference: ReferenceAnswer;
  beforeAll(async () => {
    [model, reference] = await Promise.all([
      CrossEncoder.fromPretrained(testModel('tiny'), { maxLength: MAX_LENGTH }),
      referencePredict(testModel('tiny'), { pairs: PAIRS, max_length: MAX_LENGTH, batch_sizes: SPREAD_BATCH_SIZES }),
    ]);
  });

  it.each(CASES.map((c, row) => ({ ...c, row })))('tokenizes $name like the reference', ({ pair, row }) => {
    const encoding = model.tokenizer.encodePair(pair[0], pair[1], model.maxLength);
    const expected = unpadded(reference, row);
    expect(expected.length).toBeLessThanOrEqual(MAX_LENGTH);
    expect(Array.from(encoding.inputIds)).toEqual(expected.inputIds);
    expect(Array.from(encoding.tokenTypeIds)).toEqual(expected.tokenTypeIds);
  });

  it("scores within PyTorch's batch-composition spread of the reference", async () => {
    const scores = flat(await model.predict(PAIRS, { activation: 'identity' }));
    expect(maxAbsDiff(scores, reference.logits.flat())).toBeLessThanOrEqual(batchTolerance(reference));
  });
});

describe.each(['tiny', 'minilm-l6'] as const)('batching (%s)', (name) => {
  let model: CrossEncoder;
  let batched: number[];
  /** Our batches differ here, so PyTorch's batch-composition spread sets the tolerance. */
  let tolerance: number;
  beforeAll(async () => {
    let reference: ReferenceAnswer;
    [model, batched, reference] = await Promise.all([loadModel(name), logitsOf(name), referenceOf(name)]);
    tolerance = batchTolerance(reference);
  });

  it('scores a pair alone as inside a padded batch', async () => {
    // Short pairs sit in the same batch as 512-token ones, so they are padded by hundreds of tokens.
    const short = CASES.map((c, i) => ({ ...c, i })).filter((c) => c.name === 'short English' || c.name === 'empty document' || c.name === 'both empty');
    expect(short).toHaveLength(3);
    const batch = model.tokenizer.collate(PAIRS.map(([q, d]) => model.tokenizer.encodePair(q, d, model.maxLength)));
    expect(batch.seqLength).toBe(512);
    for (const { pair, i } of short) {
      const alone = flat(await model.predict([pair], { activation: 'identity' }));
      expect(maxAbsDiff(alone, batched.slice(i, i + 1)), `pair "${CASES[i].name}"`).toBeLessThanOrEqual(tolerance);
    }
  });

  it('gives the same scores with batchSize 1 and 32', async () => {
    const oneByOne = flat(await model.predict(PAIRS, { activation: 'identity', batchSize: 1 }));
    expect(maxAbsDiff(oneByOne, batched)).toBeLessThanOrEqual(tolerance);
  });
});

describe('input order with length-sorted batches (tiny)', () => {
  it('returns the scores of shuffled pairs in their input order', async () => {
    const [model, reference] = await Promise.all([loadModel('tiny'), referenceOf('tiny')]);
    const tolerance = batchTolerance(reference);
    const scores = flat(await model.predict(PAIRS, { activation: 'identity', batchSize: 4 }));
    // Scores far apart, so a swapped pair cannot pass within the tolerance. Pairs that truncate to
    // the same tokens ('both long, unequal' and 'both long, equal') score the same, and swapping
    // them changes nothing: one of each set of equal inputs is enough.
    const inputs = PAIRS.map(([q, d]) => Array.from(model.tokenizer.encodePair(q, d, model.maxLength).inputIds).join(','));
    const firsts = scores.filter((_, i) => inputs.indexOf(inputs[i]) === i);
    expect(firsts.length).toBeGreaterThan(PAIRS.length - 3);
    const sorted = [...firsts].sort((a, b) => a - b);
    const distinct = sorted.every((s, i) => i === 0 || s - sorted[i - 1] > Math.max(1e-4, 2 * tolerance));
    expect(distinct, `scores too close to tell pairs apart: ${sorted.join(', ')}`).toBe(true);

    // A fixed permutation that moves every pair (a seeded shuffle would be as good; this one is readable).
    const permutation = PAIRS.map((_, i) => (i * 7 + 3) % PAIRS.length);
    expect(new Set(permutation).size).toBe(PAIRS.length);
    const shuffled = permutation.map((i) => PAIRS[i]);
    const shuffledScores = flat(await model.predict(shuffled, { activation: 'identity', batchSize: 4 }));
    expect(maxAbsDiff(shuffledScores, permutation.map((i) => scores[i]))).toBeLessThanOrEqual(tolerance);
  });
});

describe('default activations', () => {
  const referenceRows = (reference: ReferenceAnswer) => SHORT_ROWS.map((row) => reference.logits[row]);

  it('tiny (one label, no stored activation) applies sigmoid', async () => {
    const [model, reference] = await Promise.all([loadModel('tiny'), referenceOf('tiny')]);
    expect(model.activation).toBe('sigmoid');
    const scores = flat(await model.predict(SHORT_PAIRS));
    // sigmoid' <= 1/4
    expect(maxAbsDiff(scores, referenceRows(reference).map(([x]) => sigmoid(x)))).toBeLessThanOrEqual(batchTolerance(reference) / 4);
  });

  it('minilm-l6 (stored torch.nn.modules.activation.Identity) returns raw logits', async () => {
    const [model, reference] = await Promise.all([loadModel('minilm-l6'), referenceOf('minilm-l6')]);
    expect(model.activation).toBe('identity');
    const scores = await model.predict(SHORT_PAIRS);
    expect(scores).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(flat(scores), referenceRows(reference).flat())).toBeLessThanOrEqual(batchTolerance(reference));
  });

  it('tiny-3labels returns one row of 3 raw logits per pair; softmax rows sum to 1', async () => {
    const [model, reference] = await Promise.all([loadModel('tiny-3labels'), referenceOf('tiny-3labels')]);
    expect(model.numLabels).toBe(3);
    expect(model.activation).toBe('identity');
    const rows = (await model.predict(SHORT_PAIRS)) as Float32Array[];
    expect(rows).toHaveLength(SHORT_PAIRS.length);
    rows.forEach((row) => expect(row).toBeInstanceOf(Float32Array));
    expect(maxAbsDiff(flat(rows), referenceRows(reference).flat())).toBeLessThanOrEqual(batchTolerance(reference));

    const probabilities = (await model.predict(SHORT_PAIRS, { activation: 'softmax' })) as Float32Array[];
    for (const [i, row] of probabilities.entries()) {
      expect(row).toHaveLength(3);
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
      // Each softmax output moves by at most 1/2 of the largest logit move.
      expect(maxAbsDiff(row, softmax(referenceRows(reference)[i]))).toBeLessThanOrEqual(batchTolerance(reference) / 2);
    }
  });
});

describe('the comparison fails on a real bug (tiny, the reference deliberately wrong)', () => {
  let reference: ReferenceAnswer;
  /** Ours, all pairs in one batch as the mutated reference ran them (cheap on the tiny model). */
  let oneBatch: number[];
  let predicted: number[];
  beforeAll(async () => {
    const model = await loadModel('tiny');
    [reference, oneBatch, predicted] = await Promise.all([
      referenceOf('tiny'),
      model.forward(PAIRS.map(([q, d]) => model.tokenizer.encodePair(q, d, model.maxLength))).then((l) => Array.from(l)),
      logitsOf('tiny'),
    ]);
  });

  it('ours and the unmutated reference agree in the very batch the mutations use', () => {
    expect(maxAbsDiff(oneBatch, reference.logits.flat())).toBeLessThanOrEqual(SAME_BATCH_TOLERANCE);
  });

  MUTATIONS.forEach(({ title, alsoAcrossBatches }, i) => {
    it(title, () => {
      const mutated = reference.logits_by_mutation![i].flat();
      expect(maxAbsDiff(oneBatch, mutated), 'same-batch comparison').toBeGreaterThan(SAME_BATCH_TOLERANCE);
      if (alsoAcrossBatches) expect(maxAbsDiff(predicted, mutated), 'batch-composition comparison').toBeGreaterThan(batchTolerance(reference));
    });
  });
});
