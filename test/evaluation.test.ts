import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { mulberry32, shuffledIndices } from '../lib/datasets.js';
import { CrossEncoderError, InvalidArgumentError } from '../lib/errors.js';
import { formatPythonFloat, type PairScorer, type PairScorerPredictOptions } from '../lib/evaluation/evaluator.js';
import {
  averagePrecision,
  CrossEncoderClassificationEvaluator,
  CrossEncoderRerankingEvaluator,
  f1Score,
  findBestAccuracyThreshold,
  findBestF1Threshold,
  mrrAtK,
  ndcgAtK,
  precisionRecallF1,
  rankDescending,
  type RerankingSample,
} from '../lib/evaluation/index.js';
import { CrossEncoder } from '../lib/model/cross-encoder.js';

import { testModel } from './helpers/models.js';
import { runPythonJson } from './helpers/python.js';

const LOG2_3 = Math.log2(3);

/** A model whose score for (query, document) comes from a table, recording every call. */
class FakeScorer implements PairScorer {
  readonly calls: Array<{ pairs: Array<readonly [string, string]>; options?: PairScorerPredictOptions }> = [];

  constructor(
    readonly numLabels: number,
    private readonly table: Record<string, number | number[]>,
  ) {}

  async predict(pairs: ReadonlyArray<readonly [string, string]>, options?: PairScorerPredictOptions): Promise<Float32Array | Float32Array[]> {
    this.calls.push({ pairs: [...pairs], options });
    const values = pairs.map(([query, document]) => {
      const value = this.table[`${query}|${document}`];
      if (value === undefined) throw new Error(`unexpected pair ${query}|${document}`);
      return value;
    });
    return this.numLabels === 1
      ? Float32Array.from(values as number[])
      : (values as number[][]).map((row) => Float32Array.from(row));
  }

  scoredDocuments(): string[] {
    return this.calls.flatMap((call) => call.pairs.map(([, d]) => d));
  }
}

describe('metrics, hand-worked', () => {
  it('average precision sums precision at each recall step', () => {
    expect(averagePrecision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6])).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect(averagePrecision([1, 1, 1], [0.3, 0.2, 0.1])).toBe(1);
    expect(averagePrecision([0, 1], [0.9, 0.1])).toBe(0.5);
  });

  it('average precision treats tied scores as one threshold', () => {
    // {0.5: one of two relevant} then {0.1: the other}: 0.5 * 1/2 + 0.5 * 2/3.
    expect(averagePrecision([1, 0, 1], [0.5, 0.5, 0.1])).toBeCloseTo(0.25 + 1 / 3, 12);
    expect(averagePrecision([0, 1, 1], [0.5, 0.5, 0.1])).toBeCloseTo(0.25 + 1 / 3, 12);
  });

  it('average precision is 0 without positives, as scikit-learn', () => {
    expect(averagePrecision([0, 0], [0.2, 0.1])).toBe(0);
  });

  it('NDCG@k averages gains over tied positions', () => {
    expect(ndcgAtK([1, 0], [0.5, 0.5], 1)).toBeCloseTo(0.5, 12);
    expect(ndcgAtK([1, 0], [0.5, 0.5], 2)).toBeCloseTo(0.5 * (1 + 1 / LOG2_3), 12);
    expect(ndcgAtK([0, 1], [0.9, 0.1], 10)).toBeCloseTo(1 / LOG2_3, 12);
  });

  it('NDCG@k is 0 with no positive in the top k or none at all, 1 for a perfect ranking', () => {
    expect(ndcgAtK([0, 0, 1], [0.9, 0.8, 0.1], 2)).toBe(0);
    expect(ndcgAtK([0, 0], [0.9, 0.8], 2)).toBe(0);
    expect(ndcgAtK([1, 1, 0], [0.9, 0.8, 0.1], 10)).toBeCloseTo(1, 12);
    expect(ndcgAtK([1], [0.3], 10)).toBe(1);
  });

  it('MRR@k is the reciprocal rank of the first positive within k', () => {
    expect(mrrAtK([0, 0, 1], [0.9, 0.8, 0.1], 2)).toBe(0);
    expect(mrrAtK([0, 0, 1], [0.9, 0.8, 0.1], 3)).toBeCloseTo(1 / 3, 15);
    expect(mrrAtK([1, 1, 1], [0.1, 0.2, 0.3], 1)).toBe(1);
    expect(mrrAtK([0, 1, 1], [0.9, 0.8, 0.7], 10)).toBe(0.5);
  });

  it('ranks tied scores in reverse index order, as np.argsort(...)[::-1]', () => {
    expect(rankDescending([0.5, 0.5, 0.2, 0.5])).toEqual([3, 1, 0, 2]);
    expect(mrrAtK([1, 0], [0.5, 0.5], 10)).toBe(0.5);
  });

  it('finds the best accuracy and F1 thresholds between sorted scores', () => {
    expect(findBestAccuracyThreshold([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])).toEqual({ accuracy: 1, threshold: (0.8 + 0.3) / 2 });
    expect(findBestF1Threshold([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])).toEqual({ f1: 1, precision: 1, recall: 1, threshold: (0.8 + 0.3) / 2 });
    // One positive among negatives scored above it: F1 peaks when everything but the last is taken.
    const f1 = findBestF1Threshold([0.9, 0.8, 0.7, 0.1], [0, 0, 1, 0]);
    expect(f1.f1).toBeCloseTo(0.5, 15);
    expect(f1).toMatchObject({ precision: 1 / 3, recall: 1, threshold: (0.7 + 0.1) / 2 });
    // A single pair leaves no threshold to try.
    expect(findBestAccuracyThreshold([0.4], [1])).toEqual({ accuracy: 0, threshold: -1 });
    expect(findBestF1Threshold([0.4], [1])).toEqual({ f1: 0, precision: 0, recall: 0, threshold: 0 });
  });

  it('computes midpoints of float32 scores in float32, as NumPy', () => {
    const scores = Float32Array.from([0.1, 0.7]);
    // Value printed by NumPy 1.24 for (np.float32(0.1) + np.float32(0.7)) / 2.
    expect(findBestAccuracyThreshold(scores, [0, 1]).threshold).toBe(0.4000000059604645);
    expect(findBestAccuracyThreshold([0.1, 0.7], [0, 1]).threshold).toBe((0.1 + 0.7) / 2);
  });

  it('computes macro, micro and weighted F1 over the classes seen', () => {
    const yTrue = [0, 0, 1, 2, 2, 2];
    const yPred = [0, 1, 1, 2, 2, 0];
    // Per class F1: 0 -> 1/2, 1 -> 2/3, 2 -> 4/5; supports 2, 1, 3.
    expect(f1Score(yTrue, yPred, 'macro')).toBeCloseTo((0.5 + 2 / 3 + 0.8) / 3, 12);
    expect(f1Score(yTrue, yPred, 'micro')).toBeCloseTo(4 / 6, 12);
    expect(f1Score(yTrue, yPred, 'weighted')).toBeCloseTo((0.5 * 2 + 2 / 3 + 0.8 * 3) / 6, 12);
    expect(precisionRecallF1([1, 1, 0, 0], [1, 0, 1, 0])).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5 });
    expect(precisionRecallF1([0, 0], [0, 0])).toEqual({ precision: 0, recall: 0, f1: 0 });
  });

  it('rejects bad input with InvalidArgumentError', () => {
    expect(() => averagePrecision([], [])).toThrow(InvalidArgumentError);
    expect(() => averagePrecision([1, 0], [0.1])).toThrow(/yScore has 1 values, expected 2/);
    expect(() => averagePrecision([1, 2], [0.1, 0.2])).toThrow(/yTrue\[1\] must be 0 or 1/);
    expect(() => ndcgAtK([1, 0], [0.1, Number.NaN], 2)).toThrow(/scores\[1\] must be a finite number/);
    expect(() => ndcgAtK([1, -1], [0.1, 0.2], 2)).toThrow(/relevance\[1\] must not be negative/);
    expect(() => mrrAtK([1, 0], [0.1, 0.2], 0)).toThrow(/k must be a positive integer/);
    expect(() => mrrAtK([1, 0], [0.1, 0.2], 1.5)).toThrow(/k must be a positive integer/);
    expect(() => findBestF1Threshold([0.1, 0.2], [1, 0.5])).toThrow(/labels\[1\] must be 0 or 1/);
    expect(() => f1Score([0, 1], [0, 1], 'samples' as never)).toThrow(/average must be/);
  });
});

describe('metrics against scikit-learn', () => {
  type Case =
    | { kind: 'ranking'; relevance: number[]; scores: number[]; k: number }
    | { kind: 'threshold'; scores: number[]; labels: number[]; float32: boolean }
    | { kind: 'labels'; y_true: number[]; y_pred: number[] };

  const random = mulberry32(20241127);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  // Half the cases draw scores from five values, so ties are common.
  const scoresOf = (n: number, tied: boolean) =>
    Array.from({ length: n }, () => (tied ? int(0, 4) / 4 : random() * 20 - 10));

  const cases: Case[] = [];
  for (let c = 0; c < 60; c++) {
    const n = int(2, 30);
    const graded = c % 10 === 9;
    const relevance = Array.from({ length: n }, () => (graded ? int(0, 3) : random() < 0.3 ? 1 : 0));
    if (c % 7 !== 6 && !relevance.some((r) => r > 0)) relevance[int(0, n - 1)] = 1; // a few cases keep no positive
    cases.push({ kind: 'ranking', relevance, scores: scoresOf(n, c % 2 === 0), k: int(1, n + 2) });
  }
  for (let c = 0; c < 50; c++) {
    const n = int(2, 40);
    const labels = Array.from({ length: n }, () => (random() < 0.4 ? 1 : 0));
    if (c % 8 !== 7) labels[0] = 1; // mostly with a positive, sometimes none at all
    const float32 = c % 2 === 1;
    const scores = scoresOf(n, c % 3 === 0).map((s) => (float32 ? Math.fround(s) : s));
    cases.push({ kind: 'threshold', scores, labels, float32 });
  }
  for (let c = 0; c < 20; c++) {
    const n = int(1, 40);
    const classes = int(2, 5);
    cases.push({
      kind: 'labels',
      y_true: Array.from({ length: n }, () => int(0, classes - 1)),
      y_pred: Array.from({ length: n }, () => int(0, classes - 1)),
    });
  }

  let reference: Array<Record<string, number>>;
  beforeAll(() => {
    const script = fileURLToPath(new URL('./reference/metrics_reference.py', import.meta.url));
    const run = spawnSync('/usr/bin/python3', [script], { input: JSON.stringify({ cases }), encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`metrics_reference.py failed (needs python3-sklearn): ${run.error?.message ?? run.stderr}`);
    reference = JSON.parse(run.stdout).results;
    expect(reference).toHaveLength(cases.length);
  });

  const close = (actual: number, expected: number, label: string) => {
    expect(Math.abs(actual - expected), `${label}: ${actual} vs scikit-learn ${expected}`).toBeLessThanOrEqual(1e-9);
  };

  it('AP, NDCG@k and MRR@k match on random rankings with ties', () => {
    cases.forEach((c, i) => {
      if (c.kind !== 'ranking') return;
      const ref = reference[i];
      close(ndcgAtK(c.relevance, c.scores, c.k), ref.ndcg, `case ${i} ndcg`);
      close(mrrAtK(c.relevance, c.scores, c.k), ref.mrr, `case ${i} mrr`);
      if (ref.ap !== undefined) close(averagePrecision(c.relevance, c.scores), ref.ap, `case ${i} ap`);
    });
  });

  it('accuracy/F1 threshold searches and AP match, in float64 and float32', () => {
    cases.forEach((c, i) => {
      if (c.kind !== 'threshold') return;
      const ref = reference[i];
      const scores = c.float32 ? Float32Array.from(c.scores) : c.scores;
      const accuracy = findBestAccuracyThreshold(scores, c.labels);
      const f1 = findBestF1Threshold(scores, c.labels);
      close(accuracy.accuracy, ref.accuracy, `case ${i} accuracy`);
      close(accuracy.threshold, ref.accuracy_threshold, `case ${i} accuracy threshold`);
      close(f1.f1, ref.f1, `case ${i} f1`);
      close(f1.precision, ref.precision, `case ${i} precision`);
      close(f1.recall, ref.recall, `case ${i} recall`);
      close(f1.threshold, ref.f1_threshold, `case ${i} f1 threshold`);
      close(averagePrecision(c.labels, scores), ref.ap, `case ${i} ap`);
    });
  });

  it('macro/micro/weighted F1 and binary precision/recall match', () => {
    cases.forEach((c, i) => {
      if (c.kind !== 'labels') return;
      const ref = reference[i];
      for (const average of ['macro', 'micro', 'weighted'] as const) {
        close(f1Score(c.y_true, c.y_pred, average), ref[average], `case ${i} f1 ${average}`);
      }
      const binary = precisionRecallF1(c.y_true, c.y_pred, 1);
      close(binary.precision, ref.precision, `case ${i} precision`);
      close(binary.recall, ref.recall, `case ${i} recall`);
      close(binary.f1, ref.f1, `case ${i} f1`);
    });
  });
});

describe('CrossEncoderRerankingEvaluator against Sentence Transformers', () => {
  // Randomised sample sets as Sentence Transformers accepts them: each sample picks `negative` or
  // `documents`; positives as a string or a list (sometimes none, sometimes repeated), first stages
  // missing some positives, repeated documents, a positive among the negatives. About one set in
  // seven also holds a sample Sentence Transformers fails on. Every ranking stays within 16
  // documents, where NumPy's default argsort is stable, so the Python side is ST's exact code.
  // Half the sets are scored by the generated tiny model, half by a table of five values (ties).
  interface RerankCase {
    kind: 'rerank';
    samples: Array<Record<string, unknown>>;
    at_k: number;
    always_rerank_positives: boolean;
    /** The pairs the TypeScript evaluator scored, in order, and their scores; null if it refused the samples. */
    pairs: Array<[string, string]> | null;
    scores: number[] | null;
  }
  interface Outcome {
    metrics?: Record<string, number>;
    error?: unknown;
  }

  const WORDS = ['reset', 'password', 'account', 'invoice', 'billing', 'export', 'audit', 'logs', 'office', 'holiday',
    'release', 'dashboard', 'admin', 'email', 'settings', 'link', 'report', 'csv', 'team', 'user'];
  const random = mulberry32(20260108);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const text = () => Array.from({ length: int(1, 4) }, () => WORDS[int(0, WORDS.length - 1)]).join(' ');

  function validSample(): Record<string, unknown> {
    const query = text();
    const pool = Array.from({ length: 10 }, text);
    const positive = pool.slice(0, random() < 0.1 ? 0 : int(1, 3));
    if (positive.length > 0 && random() < 0.15) positive.push(positive[0]);
    const negative = pool.slice(3, 3 + (random() < 0.05 ? 0 : int(1, 6)));
    if (negative.length > 0 && random() < 0.2) negative.push(negative[int(0, negative.length - 1)]);
    if (positive.length > 0 && random() < 0.1) negative.push(positive[0]);
    const given = positive.length === 1 && random() < 0.5 ? positive[0] : positive;
    if (random() < 0.5) return { query, positive: given, negative };
    const retrieved = [...positive.filter(() => random() < 0.6), ...negative];
    if (retrieved.length === 0) retrieved.push(pool[9]);
    return { query, positive: given, documents: shuffledIndices(retrieved.length, random).map((i) => retrieved[i]) };
  }

  const REFUSED: Array<() => Record<string, unknown>> = [
    () => ({ query: text(), positive: [text()], negative: [text()], documents: [text()] }),
    () => ({ query: text(), positive: [text()] }),
    () => ({ query: text(), positive: [text()], documents: [] }),
    () => ({ positive: [text()], negative: [text()] }),
    () => ({ query: text(), negative: [text()] }),
    () => ({ query: text(), positive: text(), negative: [] }),
    () => ((doc) => ({ query: text(), positive: [doc], documents: [doc] }))(text()),
  ];

  const cases: RerankCase[] = Array.from({ length: 60 }, () => {
    const samples = Array.from({ length: int(2, 7) }, validSample);
    if (random() < 0.15) samples[int(0, samples.length - 1)] = REFUSED[int(0, REFUSED.length - 1)]();
    return { kind: 'rerank', samples, at_k: [1, 3, 5, 10][int(0, 3)], always_rerank_positives: random() < 0.6, pairs: null, scores: null };
  });

  /** Passes the pairs to `inner` and records them with the scores it returns. */
  const recording = (inner: PairScorer, c: RerankCase): PairScorer => ({
    numLabels: 1,
    async predict(pairs, options) {
      const scores = (await inner.predict(pairs, options)) as Float32Array;
      c.pairs = [...(c.pairs ?? []), ...pairs.map(([q, d]) => [q, d] as [string, string])];
      c.scores = [...(c.scores ?? []), ...scores];
      return scores;
    },
  });
  const tiedScores = (): PairScorer => {
    const table = new Map<string, number>();
    return {
      numLabels: 1,
      async predict(pairs) {
        return Float32Array.from(pairs, ([q, d]) => {
          const key = JSON.stringify([q, d]);
          if (!table.has(key)) table.set(key, int(0, 4) / 4);
          return table.get(key)!;
        });
      },
    };
  };

  const outcomes: Outcome[] = [];
  let reference: Array<Record<string, number | string>>;
  beforeAll(async () => {
    const tiny = await CrossEncoder.fromPretrained(testModel('tiny'));
    for (const [i, c] of cases.entries()) {
      try {
        const evaluator = new CrossEncoderRerankingEvaluator({
          samples: c.samples as unknown as RerankingSample[],
          atK: c.at_k,
          alwaysRerankPositives: c.always_rerank_positives,
          batchSize: 16,
        });
        outcomes.push({ metrics: await evaluator.evaluate(recording(i % 2 === 0 ? tiny : tiedScores(), c)) });
      } catch (error) {
        outcomes.push({ error });
      }
    }
    reference = (await runPythonJson<{ results: typeof reference }>('metrics_reference.py', [], { cases })).results;
    expect(reference).toHaveLength(cases.length);
  });

  it('refuses exactly the sample sets Sentence Transformers fails on, naming the same sample', () => {
    cases.forEach((c, i) => {
      const { error } = outcomes[i];
      const ref = reference[i];
      if (ref.error === undefined) {
        expect(error, `case ${i}`).toBeUndefined();
        return;
      }
      expect(error, `case ${i}: Sentence Transformers raises ${ref.error}`).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message, `case ${i}: ${ref.error}`).toMatch(new RegExp(`^samples\\[${ref.index}\\]`));
    });
  });

  it('gives every metric (MAP, MRR@k, NDCG@k, base_*) within 1e-12 of Sentence Transformers', () => {
    // Both sides compute in float64 from the same float32 scores; only summation order differs.
    cases.forEach((c, i) => {
      const { metrics } = outcomes[i];
      const ref = reference[i];
      if (metrics === undefined) return;
      expect(Object.keys(metrics), `case ${i} keys`).toEqual(Object.keys(ref));
      for (const key of Object.keys(ref)) {
        const expected = ref[key] as number;
        expect(Math.abs(metrics[key] - expected), `case ${i} ${key}: ${metrics[key]} vs ${expected}`).toBeLessThanOrEqual(1e-12);
      }
    });
  });

  it('covers what it claims to: mixed forms, base metrics, refusals, both options', () => {
    const evaluated = cases.filter((_, i) => outcomes[i].metrics !== undefined);
    const uses = (c: RerankCase, key: string) => c.samples.some((s) => key in s);
    const mixed = evaluated.filter((c) => uses(c, 'negative') && uses(c, 'documents'));
    expect(mixed.length).toBeGreaterThanOrEqual(15);
    // Mixed sets with and without base_* keys (those come from the last sample's form).
    expect(mixed.some((c) => 'base_map' in outcomes[cases.indexOf(c)].metrics!)).toBe(true);
    expect(mixed.some((c) => !('base_map' in outcomes[cases.indexOf(c)].metrics!))).toBe(true);
    expect(evaluated.some((c) => c.samples.some((s) => Array.isArray(s.positive) && s.positive.length === 0))).toBe(true);
    expect(evaluated.some((c) => c.samples.some((s) => typeof s.positive === 'string'))).toBe(true);
    const missed = (s: Record<string, unknown>) =>
      Array.isArray(s.documents) && ([] as string[]).concat(s.positive as string[]).some((p) => !(s.documents as string[]).includes(p));
    expect(evaluated.some((c) => c.samples.some(missed))).toBe(true);
    for (const option of [true, false]) expect(mixed.some((c) => c.always_rerank_positives === option)).toBe(true);
    expect(outcomes.filter((o) => o.error !== undefined).length).toBeGreaterThanOrEqual(5);
  });
});

describe('CrossEncoderRerankingEvaluator', () => {
  const negativesSamples: RerankingSample[] = [
    { query: 'q1', positive: ['p1'], negative: ['n1', 'n2'] },
    { query: 'q2', positive: ['p2', 'p3'], negative: ['n3', 'n4'] },
  ];
  const negativesModel = () =>
    new FakeScorer(1, {
      'q1|p1': 0.9, 'q1|n1': 0.5, 'q1|n2': 0.1,
      'q2|n3': 0.9, 'q2|p2': 0.8, 'q2|n4': 0.7, 'q2|p3': 0.6,
    });
  // q2 ranks n3, p2, n4, p3.
  const q2Ndcg10 = (1 / LOG2_3 + 1 / Math.log2(5)) / (1 + 1 / LOG2_3);

  it('averages MAP, MRR@10 and NDCG@10 over queries, keys prefixed with the name', async () => {
    const evaluator = new CrossEncoderRerankingEvaluator({ samples: negativesSamples, name: 'dev' });
    const model = negativesModel();
    const results = await evaluator.evaluate(model);
    expect(Object.keys(results)).toEqual(['dev_map', 'dev_mrr@10', 'dev_ndcg@10']);
    expect(results['dev_map']).toBeCloseTo((1 + 0.5) / 2, 12);
    expect(results['dev_mrr@10']).toBeCloseTo((1 + 0.5) / 2, 12);
    expect(results['dev_ndcg@10']).toBeCloseTo((1 + q2Ndcg10) / 2, 12);
    expect(evaluator.primaryMetric).toBe('dev_ndcg@10');
    expect(evaluator.greaterIsBetter).toBe(true);
    // One batched call, positives first then negatives per query, the model's default activation.
    expect(model.calls).toHaveLength(1);
    expect(model.calls[0].pairs).toEqual([
      ['q1', 'p1'], ['q1', 'n1'], ['q1', 'n2'], ['q2', 'p2'], ['q2', 'p3'], ['q2', 'n3'], ['q2', 'n4'],
    ]);
    expect(model.calls[0].options).toEqual({ batchSize: 64, showProgressBar: false });
  });

  it('uses unprefixed keys without a name, and atK for the cut-off', async () => {
    const evaluator = new CrossEncoderRerankingEvaluator({ samples: negativesSamples, atK: 1, batchSize: 3 });
    const results = await evaluator.evaluate(negativesModel());
    expect(results).toEqual({ map: 0.75, 'mrr@1': 0.5, 'ndcg@1': 0.5 });
    expect(evaluator.primaryMetric).toBe('ndcg@1');
  });

  it('gives 1 for every metric when all documents are positive', async () => {
    const model = new FakeScorer(1, { 'q|a': 0.1, 'q|b': 0.2 });
    const evaluator = new CrossEncoderRerankingEvaluator({ samples: [{ query: 'q', positive: ['a', 'b'], negative: [] }] });
    expect(await evaluator.evaluate(model)).toEqual({ map: 1, 'mrr@10': 1, 'ndcg@10': 1 });
  });

  it('accepts a single positive string', async () => {
    const model = new FakeScorer(1, { 'q|a': 0.1, 'q|b': 0.2 });
    const evaluator = new CrossEncoderRerankingEvaluator({ samples: [{ query: 'q', positive: 'a', negative: ['b'] }] });
    const results = await evaluator.evaluate(model);
    expect(results).toMatchObject({ map: 0.5, 'mrr@10': 0.5 });
    expect(results['ndcg@10']).toBeCloseTo(1 / LOG2_3, 15);
  });

  describe('with first-stage documents', () => {
    // Query 1 retrieved x, a, y, z and missed positive b; query 2 retrieved no positive at all.
    const samples: RerankingSample[] = [
      { query: 'q1', positive: ['a', 'b'], documents: ['x', 'a', 'y', 'z'] },
      { query: 'q2', positive: ['c'], documents: ['u', 'v'] },
    ];
    const model = () =>
      new FakeScorer(1, {
        'q1|a': 0.2, 'q1|b': 0.9, 'q1|x': 0.5, 'q1|y': 0.1, 'q1|z': 0.05,
        'q2|c': 0.3, 'q2|u': 0.6, 'q2|v': 0.1,
      });
    // First stage for q1: relevance [0, 1, 0, 0] + missed b appended -> [0, 1, 0, 0, 1].
    const baseQ1 = {
      map: (1 / 2 + 2 / 5) / 2,
      mrr: 1 / 2,
      ndcg: (1 / LOG2_3 + 1 / Math.log2(6)) / (1 + 1 / LOG2_3),
    };

    it('reports base metrics of the given order and reranks all positives by default', async () => {
      const m = model();
      const results = await new CrossEncoderRerankingEvaluator({ samples, name: 'ms' }).evaluate(m);
      expect(Object.keys(results)).toEqual(['ms_map', 'ms_mrr@10', 'ms_ndcg@10', 'ms_base_map', 'ms_base_mrr@10', 'ms_base_ndcg@10']);
      // q1 reranked: b, x, a, y, z. q2 reranked: u, c, v.
      expect(results['ms_map']).toBeCloseTo(((1 + 2 / 3) / 2 + 1 / 2) / 2, 12);
      expect(results['ms_mrr@10']).toBeCloseTo((1 + 1 / 2) / 2, 12);
      const q1Ndcg = (1 + 1 / Math.log2(4)) / (1 + 1 / LOG2_3);
      expect(results['ms_ndcg@10']).toBeCloseTo((q1Ndcg + 1 / LOG2_3) / 2, 12);
      // q2's first stage found no positive and scores 0.
      expect(results['ms_base_map']).toBeCloseTo(baseQ1.map / 2, 12);
      expect(results['ms_base_mrr@10']).toBeCloseTo(baseQ1.mrr / 2, 12);
      expect(results['ms_base_ndcg@10']).toBeCloseTo(baseQ1.ndcg / 2, 12);
      expect(m.calls[0].pairs.map(([q, d]) => `${q}|${d}`)).toEqual(['q1|a', 'q1|b', 'q1|x', 'q1|y', 'q1|z', 'q2|c', 'q2|u', 'q2|v']);
    });

    it('reranks only the retrieved documents with alwaysRerankPositives: false', async () => {
      const m = model();
      const results = await new CrossEncoderRerankingEvaluator({ samples, alwaysRerankPositives: false }).evaluate(m);
      // q1 reranked x, a, y, z (b ignored); q2 has nothing relevant, scores 0 and is not sent to the model.
      expect(results['map']).toBeCloseTo(0.5 / 2, 12);
      expect(results['mrr@10']).toBeCloseTo(0.5 / 2, 12);
      expect(results['ndcg@10']).toBeCloseTo(1 / LOG2_3 / 2, 12);
      expect(results['base_map']).toBeCloseTo(baseQ1.map / 2, 12);
      expect(m.scoredDocuments()).toEqual(['x', 'a', 'y', 'z']);
    });
  });

  describe('CSV output', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tce-eval-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('writes the header once and appends a row per evaluation, as Python csv.writer', async () => {
      const evaluator = new CrossEncoderRerankingEvaluator({ samples: negativesSamples, name: 'dev' });
      await evaluator.evaluate(negativesModel(), { outputPath: dir, epoch: 1, steps: 10 });
      await evaluator.evaluate(negativesModel(), { outputPath: dir });
      const text = await readFile(join(dir, 'CrossEncoderRerankingEvaluator_dev_results_@10.csv'), 'utf8');
      const ndcg = formatPythonFloat((1 + q2Ndcg10) / 2);
      expect(text).toBe(`epoch,steps,MAP,MRR@10,NDCG@10\r\n1,10,0.75,0.75,${ndcg}\r\n-1,-1,0.75,0.75,${ndcg}\r\n`);
    });

    it('names the file without a name, and writes nothing with writeCsv: false', async () => {
      await new CrossEncoderRerankingEvaluator({ samples: negativesSamples, atK: 5 }).evaluate(negativesModel(), { outputPath: dir });
      await stat(join(dir, 'CrossEncoderRerankingEvaluator_results_@5.csv'));
      const quiet = new CrossEncoderRerankingEvaluator({ samples: negativesSamples, name: 'quiet', writeCsv: false });
      await quiet.evaluate(negativesModel(), { outputPath: dir });
      await expect(stat(join(dir, 'CrossEncoderRerankingEvaluator_quiet_results_@10.csv'))).rejects.toThrow(/ENOENT/);
    });
  });

  describe('with both forms mixed', () => {
    // q1 as in the first-stage tests (base: relevance [0, 1, 0, 0, 1]); q2 with negatives.
    const q1 = { query: 'q1', positive: ['a', 'b'], documents: ['x', 'a', 'y', 'z'] };
    const q2 = { query: 'q2', positive: 'c', negative: ['u', 'v'] };
    const model = () =>
      new FakeScorer(1, { 'q1|a': 0.2, 'q1|b': 0.9, 'q1|x': 0.5, 'q1|y': 0.1, 'q1|z': 0.05, 'q2|c': 0.3, 'q2|u': 0.6, 'q2|v': 0.1 });
    const baseQ1Map = (1 / 2 + 2 / 5) / 2;

    it('averages base metrics over the samples with documents only, the others over all', async () => {
      const results = await new CrossEncoderRerankingEvaluator({ samples: [q2, q1] }).evaluate(model());
      // q1 reranked: b, x, a, y, z; q2: u, c, v.
      expect(results['map']).toBeCloseTo(((1 + 2 / 3) / 2 + 1 / 2) / 2, 12);
      expect(results['mrr@10']).toBeCloseTo((1 + 1 / 2) / 2, 12);
      expect(results['base_map']).toBeCloseTo(baseQ1Map, 12);
      expect(results['base_mrr@10']).toBeCloseTo(1 / 2, 12);
    });

    it('reports base metrics only when the last sample has documents, as Sentence Transformers', async () => {
      const results = await new CrossEncoderRerankingEvaluator({ samples: [q1, q2] }).evaluate(model());
      expect(Object.keys(results)).toEqual(['map', 'mrr@10', 'ndcg@10']);
    });

    it('scores a sample without positives 0 and counts it in every mean', async () => {
      const none = { query: 'q3', positive: [], documents: ['w', 'y'] };
      const m = model();
      const results = await new CrossEncoderRerankingEvaluator({ samples: [q2, q1, none] }).evaluate(m);
      expect(results['map']).toBeCloseTo(((1 + 2 / 3) / 2 + 1 / 2) / 3, 12);
      expect(results['base_map']).toBeCloseTo(baseQ1Map / 2, 12);
      expect(m.scoredDocuments()).not.toContain('w');
    });
  });

  it('refuses, as Sentence Transformers does, samples it cannot evaluate, naming the sample', () => {
    const make = (samples: unknown, extra: Record<string, unknown> = {}) => () =>
      new CrossEncoderRerankingEvaluator({ samples: samples as RerankingSample[], ...extra });
    const ok = { query: 'q', positive: ['a'], negative: ['b'] };
    const refused: Array<[unknown, RegExp]> = [
      [{ positive: ['a'], negative: ['b'] }, /^samples\[1\] requires a "query" key$/],
      [{ query: 'q', negative: ['b'] }, /^samples\[1\] requires a "positive" key$/],
      [{ query: 'q', positive: ['a'], negative: ['b'], documents: ['a', 'b'] }, /^samples\[1\] requires exactly one of "negative" and "documents"$/],
      [{ query: 'q', positive: ['a'] }, /^samples\[1\] requires exactly one of "negative" and "documents"$/],
      [{ query: 'q', positive: ['a'], documents: [] }, /^samples\[1\]\.documents must not be empty$/],
      [{ query: 'q', positive: 'a', negative: [] }, /^samples\[1\] has a single document to rerank \(a positive\): .*ndcg_score needs more than one document$/],
      [{ query: 'q', positive: ['a'], documents: ['a'] }, /^samples\[1\] has a single document in its first-stage ranking \(a positive\)/],
    ];
    for (const [sample, message] of refused) {
      expect(make([ok, sample]), message.source).toThrow(InvalidArgumentError);
      expect(make([ok, sample]), message.source).toThrow(message);
    }
    // Which list is reranked depends on alwaysRerankPositives: ['a', 'b'] by default, ['a'] without.
    const missedOne = { query: 'q', positive: ['a', 'b'], documents: ['a'] };
    expect(make([missedOne])).not.toThrow();
    expect(make([missedOne], { alwaysRerankPositives: false })).toThrow(/^samples\[0\] has a single document to rerank/);
    // A lone non-positive document is never scored, so Sentence Transformers accepts it (score 0).
    expect(make([{ query: 'q', positive: ['a'], documents: ['x'] }], { alwaysRerankPositives: false })).not.toThrow();
    expect(make([{ query: 'q', positive: [], negative: [] }])).not.toThrow();
  });

  it('rejects samples of the wrong types and bad options', () => {
    const make = (samples: unknown, extra: Record<string, unknown> = {}) => () =>
      new CrossEncoderRerankingEvaluator({ samples: samples as RerankingSample[], ...extra });
    expect(make([])).toThrow(/samples must be a non-empty array/);
    expect(make({ q: { query: 'q', positive: ['a'], negative: ['b'] } })).toThrow(/samples must be a non-empty array/);
    expect(make([null])).toThrow(/^samples\[0\] must be an object$/);
    expect(make([['q', 'a', 'b']])).toThrow(/^samples\[0\] must be an object$/);
    expect(make([{ query: 1, positive: ['a'], negative: ['b'] }])).toThrow(/^samples\[0\]\.query must be a string$/);
    expect(make([{ query: 'q', positive: 7, negative: ['b'] }])).toThrow(/^samples\[0\]\.positive must be a string or an array of strings$/);
    expect(make([{ query: 'q', positive: ['a', 2], negative: ['b'] }])).toThrow(/^samples\[0\]\.positive\[1\] must be a string, got number$/);
    expect(make([{ query: 'q', positive: ['a'], negative: 'b' }])).toThrow(/^samples\[0\]\.negative must be an array of strings$/);
    expect(make([{ query: 'q', positive: ['a'], negative: ['b', 3] }])).toThrow(/^samples\[0\]\.negative\[1\] must be a string, got number$/);
    expect(make([{ query: 'q', positive: ['a'], documents: [null, 'b'] }])).toThrow(/^samples\[0\]\.documents\[0\] must be a string, got null$/);
    expect(make([{ query: 'q', positive: ['a'], documents: 'ab' }])).toThrow(/^samples\[0\]\.documents must be an array of strings$/);
    expect(make([{ query: 'q', positive: ['a'], negative: null }])).toThrow(/^samples\[0\]\.negative must be an array of strings$/);
    const ok = [{ query: 'q', positive: ['a'], negative: ['b'] }];
    expect(make(ok, { atK: 0 })).toThrow(/atK must be a positive integer/);
    expect(make(ok, { atK: 2.5 })).toThrow(/atK must be a positive integer/);
    expect(make(ok, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(make(ok, { atK: 0 })).toThrow(InvalidArgumentError);
  });

  it('rejects a model with several labels or a wrong number of scores', async () => {
    const evaluator = new CrossEncoderRerankingEvaluator({ samples: negativesSamples });
    await expect(evaluator.evaluate(new FakeScorer(3, {}))).rejects.toThrow(/one output label, this one has 3/);
    const short: PairScorer = { numLabels: 1, predict: async () => new Float32Array(2) };
    await expect(evaluator.evaluate(short)).rejects.toThrow(CrossEncoderError);
    const diverged: PairScorer = { numLabels: 1, predict: async (pairs) => new Float32Array(pairs.length).fill(Number.NaN) };
    await expect(evaluator.evaluate(diverged)).rejects.toThrow(/non-finite score \(NaN\) for pair 0/);
    await expect(evaluator.evaluate(negativesModel(), { steps: 1.5 })).rejects.toThrow(/steps must be an integer/);
  });
});

describe('CrossEncoderClassificationEvaluator', () => {
  const sentencePairs = [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4'], ['e', '5']] as Array<[string, string]>;
  const binaryModel = () =>
    new FakeScorer(1, { 'a|1': 0.9, 'b|2': 0.8, 'c|3': 0.6, 'd|4': 0.3, 'e|5': 0.1 });

  it('reports threshold metrics and average precision for a one-label model', async () => {
    const labels = [1, 0, 1, 0, 0];
    const evaluator = new CrossEncoderClassificationEvaluator({ sentencePairs, labels, name: 'cls' });
    const model = binaryModel();
    const results = await evaluator.evaluate(model);
    const scores = Float32Array.from([0.9, 0.8, 0.6, 0.3, 0.1]);
    // Best accuracy 4/5: cut after the first (0.9 | 0.8) or after the third (0.6 | 0.3); the first wins.
    const expected = {
      cls_accuracy: 0.8,
      cls_accuracy_threshold: Math.fround(scores[0] + scores[1]) / 2,
      cls_f1: 0.8,
      cls_f1_threshold: Math.fround(scores[2] + scores[3]) / 2,
      cls_precision: 2 / 3,
      cls_recall: 1,
      cls_average_precision: (1 + 2 / 3) / 2,
    };
    expect(Object.keys(results)).toEqual(Object.keys(expected));
    for (const [key, value] of Object.entries(expected)) expect(results[key], key).toBeCloseTo(value, 12);
    expect(evaluator.primaryMetric).toBe('cls_average_precision');
    expect(model.calls[0].options).toEqual({ batchSize: 32, showProgressBar: false });
  });

  it('reports macro/micro/weighted F1 of the arg-max class for several labels', async () => {
    const model = new FakeScorer(3, {
      'a|1': [2, 1, 0], 'b|2': [0, 3, 1], 'c|3': [0, 1, 5], 'd|4': [1, 1, 0], 'e|5': [0, 2, 1],
    });
    // Predicted 0, 1, 2, 0 (tie -> first), 1.
    const labels = [0, 1, 2, 1, 1];
    const evaluator = new CrossEncoderClassificationEvaluator({ sentencePairs, labels });
    const results = await evaluator.evaluate(model);
    const predicted = [0, 1, 2, 0, 1];
    expect(results).toEqual({
      f1_macro: f1Score(labels, predicted, 'macro'),
      f1_micro: 0.8,
      f1_weighted: f1Score(labels, predicted, 'weighted'),
    });
    expect(results.f1_macro).toBeCloseTo((2 / 3 + 0.8 + 1) / 3, 12);
    expect(evaluator.primaryMetric).toBe('f1_macro');
  });

  it('appends rows with the columns of Sentence Transformers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tce-eval-'));
    try {
      const evaluator = new CrossEncoderClassificationEvaluator({ sentencePairs, labels: [1, 1, 0, 0, 0] });
      await evaluator.evaluate(binaryModel(), { outputPath: dir, epoch: 2, steps: 7 });
      const text = await readFile(join(dir, 'CrossEncoderClassificationEvaluator_results.csv'), 'utf8');
      const threshold = formatPythonFloat(Math.fround(Math.fround(0.8) + Math.fround(0.6)) / 2);
      expect(text).toBe(
        'epoch,steps,Accuracy,Accuracy_Threshold,F1,F1_Threshold,Precision,Recall,Average_Precision\r\n' +
          `2,7,1.0,${threshold},1.0,${threshold},1.0,1.0,1.0\r\n`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects mismatched or out-of-range labels and bad pairs', async () => {
    expect(() => new CrossEncoderClassificationEvaluator({ sentencePairs, labels: [1, 0] })).toThrow(/same length, got 5 and 2/);
    expect(() => new CrossEncoderClassificationEvaluator({ sentencePairs: [], labels: [] })).toThrow(/non-empty/);
    expect(() => new CrossEncoderClassificationEvaluator({ sentencePairs: [['a', 2]] as never, labels: [1] })).toThrow(
      /sentencePairs\[0\] must be a pair of two strings/,
    );
    expect(() => new CrossEncoderClassificationEvaluator({ sentencePairs, labels: [1, 0, 0.5, 0, 0] })).toThrow(/labels\[2\]/);
    const binary = new CrossEncoderClassificationEvaluator({ sentencePairs, labels: [1, 0, 2, 0, 0] });
    await expect(binary.evaluate(binaryModel())).rejects.toThrow(/labels\[2\] is 2; expected 0 or 1/);
    const wrongShape: PairScorer = { numLabels: 2, predict: async () => new Float32Array(5) };
    await expect(new CrossEncoderClassificationEvaluator({ sentencePairs, labels: [1, 0, 1, 0, 0] }).evaluate(wrongShape)).rejects.toThrow(
      CrossEncoderError,
    );
  });
});

describe('formatPythonFloat', () => {
  it("prints floats as Python's repr", () => {
    // Expected strings printed by Python 3 for the same values.
    const cases: Array<[number, string]> = [
      [0.75, '0.75'], [1, '1.0'], [1e-5, '1e-05'], [1.5e-7, '1.5e-07'], [1e16, '1e+16'],
      [123456789012345.6, '123456789012345.6'], [0.0001, '0.0001'], [0, '0.0'], [0.1 + 0.2, '0.30000000000000004'],
      [-2.5, '-2.5'], [1e22, '1e+22'], [12345678901234567890, '1.2345678901234567e+19'],
      [9999999999999998, '9999999999999998.0'], [5e-324, '5e-324'], [0.00012345, '0.00012345'],
    ];
    for (const [value, text] of cases) expect(formatPythonFloat(value)).toBe(text);
  });
});
