/**
 * `fromPretrained(dir, { dtype: 'int8' })` against PyTorch's own dynamic quantisation
 * (test/reference/int8_reference.py: bert_model.py's BERT, `torch.backends.quantized.engine =
 * 'onednn'`, `quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)`), on the same padded
 * batches, and its accuracy cost against float32 on a seeded reranking set.
 *
 * Tolerance. Dynamic quantisation rounds each Linear input to one of 256 levels of its batch-wide
 * range, so a float32 difference of one ulp anywhere before a Linear can move a value across a
 * rounding boundary and a logit by a quantisation step: PyTorch's own spread is either 0 or
 * large. Measured here: 1 vs 2 threads, 0 (tiny) and 4.8e-2 (MiniLM-L6); a pair alone vs in a
 * batch of 8, 5.6e-2 and 7.9e-2 (the activation range changes). Neither can bound a parity check
 * (the mutations below move logits by 3e-2 to 7e-2), but none is needed: on the same batch (same
 * rows, same padding) our logits were bit-identical to PyTorch's, for both BERT models in one
 * batch and pair by pair, and for the tiny model of every other family (family_reference.py). So the check is equality up to a 1e-6 floor with the reference at its default
 * thread count or at 1 or 2 threads (whichever is closest: another CPU may make our float32 parts
 * round as one of them does), and each mutation (reduce_range off; per-channel weight scales)
 * must move the logits 100x beyond that.
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, type Pair } from '../lib/index.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { mulberry32 } from '../lib/datasets.js';
import { ndcgAtK } from '../lib/evaluation/metrics.js';
import type { PairEncoding } from '../lib/tokenizer/tokenizer.js';

import { testModel } from './helpers/models.js';
import { runPythonJson } from './helpers/python.js';

/** Our int8 logits against the reference's on the very same batch: measured 0 (see above). */
const SAME_BATCH_TOLERANCE: Record<string, number> = { tiny: 1e-6, 'minilm-l6': 1e-6 };
/** The same for the other families' tiny models. */
const FAMILY_TOLERANCE = 1e-6;
/** What a mutation of the reference must move at least (a multiple of the tolerance). */
const MUTATION_FACTOR = 100;
const MUTATIONS = ['no_reduce_range', 'per_channel'] as const;

interface Int8Answer {
  logits: number[][];
  float_logits: number[][];
  logits_by_batch_size?: number[][][];
  logits_by_threads?: number[][][];
  logits_by_mutation?: number[][][];
}

const WORDS = (
  'the of and to in is was for on that with as by at from how do i migrate workspace settings new billing plan reset ' +
  'password user enable export audit logs quick brown fox jumps over lazy dog hello world document query search engine ' +
  'rerank model train berlin population city river paris france capital museum history science energy solar battery'
).split(' ');

/** A seeded reranking set: `queries` queries of 3-8 words, each with `documents` documents of 5-60 words. */
function rerankingSet(queries: number, documents: number, seed: number): { query: string; documents: string[] }[] {
  const random = mulberry32(seed);
  const words = (min: number, max: number) =>
    Array.from({ length: min + Math.floor(random() * (max - min + 1)) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
  return Array.from({ length: queries }, () => ({ query: words(3, 8), documents: Array.from({ length: documents }, () => words(5, 60)) }));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function ranks(values: ArrayLike<number>): number[] {
  const order = Array.from(values, (_, i) => i).sort((x, y) => values[x] - values[y]);
  const rank = new Array<number>(values.length);
  order.forEach((index, position) => (rank[index] = position));
  return rank;
}

/** Spearman's rho (no ties in float scores of distinct documents). */
function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a), rb = ranks(b);
  const n = a.length;
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += (ra[i] - rb[i]) ** 2;
  return 1 - (6 * d2) / (n * (n * n - 1));
}

function referenceInt8(modelDir: string, encodings: readonly PairEncoding[], model: CrossEncoder, extras: object, family = false): Promise<Int8Answer> {
  const batch = model.tokenizer.collate(encodings);
  const rows = (values: Int32Array) => Array.from({ length: batch.batchSize }, (_, r) => Array.from(values.subarray(r * batch.seqLength, (r + 1) * batch.seqLength)));
  return runPythonJson<Int8Answer>('int8_reference.py', ['--model', modelDir, ...(family ? ['--family'] : [])], {
    input_ids: rows(batch.inputIds),
    token_type_ids: rows(batch.tokenTypeIds),
    attention_mask: rows(batch.attentionMask),
    ...extras,
  });
}

const SHORT_PAIRS: Pair[] = [
  ['How many people live in Berlin?', 'Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.'],
  ['a', 'b'],
  ['What is the capital of France?', ''],
  ['', 'Paris is the capital and most populous city of France.'],
  ['Café crème brûlée à Paris?', 'Ünïcödé façade, naïve résumé; Ångström, Øresund, Dvořák, Łódź.'],
  ['北京有多少人口？', '北京市常住人口约为2189万人，是中国的首都。'],
  ['I love 🍕 and 🚀!', '😀😃 smile 👍🏽 family 👨‍👩‍👧 flags 🇫🇷🇩🇪'],
  ['how do i reset my password', 'Open settings, choose security, then reset the password of your workspace user. '.repeat(6)],
];

describe.each(['tiny', 'minilm-l6'] as const)('dtype int8, %s', (name) => {
  const dir = testModel(name);
  let int8: CrossEncoder;
  let float32: CrossEncoder;
  let encodings: PairEncoding[];
  let reference: Int8Answer;
  let ours: Float32Array;
  let oursAlone: number[];

  beforeAll(async () => {
    int8 = await CrossEncoder.fromPretrained(dir, { dtype: 'int8' });
    float32 = await CrossEncoder.fromPretrained(dir);
    encodings = SHORT_PAIRS.map(([q, d]) => int8.tokenizer.encodePair(q, d, int8.maxLength));
    reference = await referenceInt8(dir, encodings, int8, { batch_sizes: [1], threads: [1, 2], mutations: MUTATIONS });
    ours = await int8.forward(encodings);
    oursAlone = [];
    for (const encoding of encodings) oursAlone.push(...(await int8.forward([encoding])));
    return async () => {
      await int8.dispose();
      await float32.dispose();
    };
  });

  it('has the dtype it was loaded with', () => {
    expect(int8.dtype).toBe('int8');
    expect(float32.dtype).toBe('float32');
  });

  it("gives quantize_dynamic's logits on the same batch, and on each pair alone", () => {
    const tolerance = SAME_BATCH_TOLERANCE[name];
    const variants = [reference.logits, ...reference.logits_by_threads!];
    const batchDiff = Math.min(...variants.map((logits) => maxAbsDiff(ours, logits.flat())));
    const aloneDiff = maxAbsDiff(oursAlone, reference.logits_by_batch_size![0].flat());
    const threadSpread = maxAbsDiff(reference.logits_by_threads![0].flat(), reference.logits_by_threads![1].flat());
    const batchSpread = maxAbsDiff(reference.logits.flat(), reference.logits_by_batch_size![0].flat());
    console.log(`${name}: int8 vs PyTorch int8, same batch ${batchDiff.toExponential(2)}, each pair alone ${aloneDiff.toExponential(2)}; ` +
      `PyTorch's spread: 1 vs 2 threads ${threadSpread.toExponential(2)}, batch vs alone ${batchSpread.toExponential(2)}`);
    expect(batchDiff).toBeLessThanOrEqual(tolerance);
    expect(aloneDiff).toBeLessThanOrEqual(tolerance);
  });

  it('would notice a quantisation that is not quantize_dynamic defaults (mutations)', () => {
    const tolerance = SAME_BATCH_TOLERANCE[name];
    MUTATIONS.forEach((mutation, m) => {
      const moved = maxAbsDiff(ours, reference.logits_by_mutation![m].flat());
      console.log(`${name}: mutation ${mutation} moves the logits by ${moved.toExponential(2)}`);
      expect(moved).toBeGreaterThan(MUTATION_FACTOR * tolerance);
    });
  });

  it('costs little accuracy against float32 (same model, same inputs)', async () => {
    const set = rerankingSet(10, 30, 13);
    const pairs = set.flatMap(({ query, documents }) => documents.map((d): Pair => [query, d]));
    const [f, q] = [(await float32.predict(pairs)) as Float32Array, (await int8.predict(pairs)) as Float32Array];
    const [fLogits, qLogits] = [(await float32.predict(pairs, { activation: 'identity' })) as Float32Array, (await int8.predict(pairs, { activation: 'identity' })) as Float32Array];
    const rhos: number[] = [];
    const ndcgLoss: number[] = [];
    set.forEach(({ documents }, i) => {
      const fs = f.subarray(i * documents.length, (i + 1) * documents.length);
      const qs = q.subarray(i * documents.length, (i + 1) * documents.length);
      rhos.push(spearman(fs, qs));
      // Gains from the float32 ranking: its top 10 get 10..1, the rest 0; float32 scores NDCG 1.
      const gain = ranks(fs).map((r) => Math.max(0, r - (documents.length - 11)));
      ndcgLoss.push(ndcgAtK(gain, fs, 10) - ndcgAtK(gain, qs, 10));
    });
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    console.log(
      `${name}: int8 vs float32 over ${pairs.length} pairs: max |Δscore| ${maxAbsDiff(f, q).toExponential(2)} (sigmoid), max |Δlogit| ${maxAbsDiff(fLogits, qLogits).toExponential(2)}; ` +
        `Spearman per query mean ${mean(rhos).toFixed(4)} min ${Math.min(...rhos).toFixed(4)}; NDCG@10 loss mean ${mean(ndcgLoss).toFixed(4)} max ${Math.max(...ndcgLoss).toFixed(4)}`,
    );
    expect(Math.min(...rhos)).toBeGreaterThan(0.8);
    expect(mean(ndcgLoss)).toBeLessThan(0.1);
  });

  it('refuses training and savePretrained', async () => {
    const { CrossEncoderTrainer } = await import('../lib/index.js');
    const outputDir = path.join(os.tmpdir(), `tce-int8-${process.pid}`);
    const trainer = new CrossEncoderTrainer({
      model: int8,
      trainDataset: [{ query: 'a', document: 'b', label: 1 }, { query: 'c', document: 'd', label: 0 }],
      args: { outputDir, maxSteps: 1, perDeviceTrainBatchSize: 2, disableTqdm: true, saveStrategy: 'no' },
    });
    const training = trainer.train();
    await expect(training).rejects.toThrow(/int8 model .*cannot be trained/);
    await expect(training).rejects.toBeInstanceOf(InvalidArgumentError);
    await rm(outputDir, { recursive: true, force: true });
    await expect(int8.savePretrained('/tmp/never-written-int8')).rejects.toThrow(/int8 model .*is not saved/);
  });
});

describe('dtype option', () => {
  it('rejects an unknown dtype', async () => {
    await expect(CrossEncoder.fromPretrained(testModel('tiny'), { dtype: 'int4' as never })).rejects.toThrow(/options.dtype must be one of float32, int8, got "int4"/);
  });
});

/** The other families (family_reference.py's model code), on the same batch only. */
describe.each(['tiny-roberta', 'tiny-xlm-roberta', 'tiny-electra', 'tiny-modernbert', 'tiny-ettin'] as const)('dtype int8, %s', (name) => {
  it("gives quantize_dynamic's logits on the same batch, and a mutation would show", async () => {
    const dir = testModel(name);
    await using int8 = await CrossEncoder.fromPretrained(dir, { dtype: 'int8' });
    const encodings = SHORT_PAIRS.map(([q, d]) => int8.tokenizer.encodePair(q, d, int8.maxLength));
    const reference = await referenceInt8(dir, encodings, int8, { threads: [1, 2], mutations: MUTATIONS }, true);
    const ours = await int8.forward(encodings);
    const diff = Math.min(...[reference.logits, ...reference.logits_by_threads!].map((logits) => maxAbsDiff(ours, logits.flat())));
    const moved = reference.logits_by_mutation!.map((logits) => maxAbsDiff(ours, logits.flat()));
    console.log(`${name}: int8 vs PyTorch int8, same batch ${diff.toExponential(2)}; mutations move it by ${moved.map((m) => m.toExponential(2)).join(', ')}`);
    expect(diff).toBeLessThanOrEqual(FAMILY_TOLERANCE);
    for (const m of moved) expect(m).toBeGreaterThan(MUTATION_FACTOR * FAMILY_TOLERANCE);
  });
});
