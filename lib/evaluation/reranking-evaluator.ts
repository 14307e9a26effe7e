/**
 * Reranking evaluation: MAP, MRR@k and NDCG@k of a CrossEncoder's ordering of each query's
 * documents, as Sentence Transformers' `CrossEncoderRerankingEvaluator`.
 */

import { InvalidArgumentError } from '../errors.js';
import {
  appendResultsCsv,
  checkCommonOptions,
  checkEvaluateOptions,
  expectScores,
  prefixMetricName,
  prefixMetricNames,
  type CrossEncoderEvaluator,
  type EvaluateOptions,
  type PairScorer,
} from './evaluator.js';
import { averagePrecision, mean, mrrAtK, ndcgAtK } from './metrics.js';

/** A query with its relevant documents and a list of irrelevant ones. */
export interface RerankingSampleWithNegatives {
  query: string;
  /** Relevant documents (a single string counts as a list of one). */
  positive: string | readonly string[];
  /** Irrelevant documents. */
  negative: readonly string[];
}

/**
 * A query with its relevant documents and the candidate list of a first-stage retriever, best
 * first, which may or may not contain the positives. Metrics of that first-stage order are
 * reported too, as `base_*`.
 */
export interface RerankingSampleWithDocuments {
  query: string;
  /** Relevant documents (a single string counts as a list of one). */
  positive: string | readonly string[];
  /** Retrieved documents in first-stage order; those equal to a positive are relevant. */
  documents: readonly string[];
}

/** One evaluation query: with `negative` or with `documents`, never both. */
export type RerankingSample = RerankingSampleWithNegatives | RerankingSampleWithDocuments;

/** Options of {@link CrossEncoderRerankingEvaluator}. */
export interface CrossEncoderRerankingEvaluatorOptions {
  /** The queries; all use `negative`, or all use `documents`. */
  samples: readonly RerankingSample[];
  /** Rank cut-off of MRR and NDCG (default 10). */
  atK?: number;
  /**
   * With `documents`: rerank every positive, adding those the first stage missed (true, the default,
   * so a perfect model scores 1), or rerank only `documents` as retrieved (false, the realistic
   * figure). Without `documents` all positives are always reranked.
   */
  alwaysRerankPositives?: boolean;
  /** Dataset name, prefixing metric keys and naming the CSV (default ''). */
  name?: string;
  /** Pairs per model call (default 64). */
  batchSize?: number;
  /** Show the model's progress bar while scoring (default false). */
  showProgressBar?: boolean;
  /** Append results to a CSV when `evaluate` gets an `outputPath` (default true). */
  writeCsv?: boolean;
}

/** A sample made ready for scoring: the pairs to score and the relevance of each. */
interface PreparedSample {
  query: string;
  documents: string[];
  isRelevant: number[];
  /** Metrics of the first-stage order, for `documents` samples. */
  base?: QueryMetrics;
}

interface QueryMetrics {
  mrr: number;
  ndcg: number;
  ap: number;
}

const NO_HIT: QueryMetrics = { mrr: 0, ndcg: 0, ap: 0 };

/**
 * Evaluates a CrossEncoder as a reranker. For each query it scores (query, document) for the
 * positives and negatives (or documents), ranks by score and computes average precision, MRR@k
 * and NDCG@k; the results are their means over the queries:
 * `{name}_map`, `{name}_mrr@{k}`, `{name}_ndcg@{k}`, plus `{name}_base_map`,
 * `{name}_base_mrr@{k}`, `{name}_base_ndcg@{k}` for samples with `documents` (without a name the
 * keys are unprefixed). The primary metric is `{name}_ndcg@{k}`.
 *
 * Semantics follow Sentence Transformers exactly, including its quirks: the first-stage metrics
 * rank missing positives after all retrieved documents, while with `alwaysRerankPositives: false`
 * the reranked metrics ignore them; a query whose documents hold no positive scores 0.
 *
 * @example
 * ```ts
 * const evaluator = new CrossEncoderRerankingEvaluator({
 *   samples: [{ query: 'capital of France', positive: ['Paris is the capital of France.'], negative: ['Berlin is in Germany.'] }],
 *   name: 'dev',
 * });
 * const results = await evaluator.evaluate(model); // { 'dev_map': 1, 'dev_mrr@10': 1, 'dev_ndcg@10': 1 }
 * ```
 */
export class CrossEncoderRerankingEvaluator implements CrossEncoderEvaluator {
  readonly name: string;
  readonly atK: number;
  readonly alwaysRerankPositives: boolean;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly greaterIsBetter = true;
  /** File name of the results CSV inside `outputPath`. */
  readonly csvFile: string;
  /** Column names of the results CSV. */
  readonly csvHeaders: readonly string[];
  readonly #samples: PreparedSample[];
  readonly #withDocuments: boolean;

  /** Validates and prepares the samples; throws {@link InvalidArgumentError} naming the bad sample. */
  constructor(options: CrossEncoderRerankingEvaluatorOptions) {
    const {
      samples,
      atK = 10,
      alwaysRerankPositives = true,
      name = '',
      batchSize = 64,
      showProgressBar = false,
      writeCsv = true,
    } = options ?? ({} as CrossEncoderRerankingEvaluatorOptions);
    checkCommonOptions({ name, batchSize });
    if (!Number.isInteger(atK) || atK <= 0) throw new InvalidArgumentError(`atK must be a positive integer, got ${String(atK)}`);
    if (!Array.isArray(samples) || samples.length === 0) throw new InvalidArgumentError('samples must be a non-empty array');

    this.name = name;
    this.atK = atK;
    this.alwaysRerankPositives = alwaysRerankPositives;
    this.batchSize = batchSize;
    this.showProgressBar = showProgressBar;
    this.writeCsv = writeCsv;
    this.csvFile = `CrossEncoderRerankingEvaluator${name ? `_${name}` : ''}_results_@${atK}.csv`;
    this.csvHeaders = ['epoch', 'steps', 'MAP', `MRR@${atK}`, `NDCG@${atK}`];
    const checked = samples.map(checkSample);
    this.#withDocuments = 'documents' in checked[0];
    this.#samples = checked.map((sample, index) => this.#prepare(sample, index));
  }

  /** `{name}_ndcg@{atK}`. */
  get primaryMetric(): string {
    return prefixMetricName(`ndcg@${this.atK}`, this.name);
  }

  /** Number of queries evaluated. */
  get numQueries(): number {
    return this.#samples.length;
  }

  /** Scores every query's documents with `model` (one label) and returns the mean metrics. */
  async evaluate(model: PairScorer, options?: EvaluateOptions): Promise<Record<string, number>> {
    const { outputPath, epoch, steps } = checkEvaluateOptions(options);
    if (model.numLabels !== 1) {
      throw new InvalidArgumentError(`reranking needs a model with one output label, this one has ${model.numLabels}`);
    }
    // Queries without a relevant candidate score 0 without asking the model, as in Sentence Transformers.
    const scored = this.#samples.filter(hasRelevant);
    const pairs = scored.flatMap((s) => s.documents.map((d) => [s.query, d] as const));
    const scores = pairs.length === 0
      ? new Float32Array(0)
      : expectScores(await model.predict(pairs, { batchSize: this.batchSize, showProgressBar: this.showProgressBar }), pairs.length);

    let offset = 0;
    const reranked = this.#samples.map((sample) => {
      if (!hasRelevant(sample)) return NO_HIT;
      const sampleScores = scores.subarray(offset, (offset += sample.documents.length));
      return this.#metrics(sample.isRelevant, sampleScores);
    });
    const metrics = this.#summarise(reranked, '');
    if (this.#withDocuments) Object.assign(metrics, this.#summarise(this.#samples.map((s) => s.base ?? NO_HIT), 'base_'));

    if (outputPath !== undefined && this.writeCsv) {
      const { map, [`mrr@${this.atK}`]: mrr, [`ndcg@${this.atK}`]: ndcg } = metrics;
      await appendResultsCsv(outputPath, this.csvFile, this.csvHeaders, epoch, steps, [map, mrr, ndcg]);
    }
    return prefixMetricNames(metrics, this.name);
  }

  #summarise(perQuery: QueryMetrics[], prefix: string): Record<string, number> {
    return {
      [`${prefix}map`]: mean(perQuery.map((m) => m.ap)),
      [`${prefix}mrr@${this.atK}`]: mean(perQuery.map((m) => m.mrr)),
      [`${prefix}ndcg@${this.atK}`]: mean(perQuery.map((m) => m.ndcg)),
    };
  }

  #metrics(isRelevant: readonly number[], scores: ArrayLike<number>): QueryMetrics {
    return {
      mrr: mrrAtK(isRelevant, scores, this.atK),
      ndcg: ndcgAtK(isRelevant, scores, this.atK),
      ap: averagePrecision(isRelevant, scores),
    };
  }

  #prepare(sample: CheckedSample, index: number): PreparedSample {
    if ('documents' in sample !== this.#withDocuments) {
      const form = (withDocuments: boolean) => (withDocuments ? '"documents"' : '"negative"');
      throw new InvalidArgumentError(
        `samples[${index}] uses ${form(!this.#withDocuments)} but samples[0] uses ${form(this.#withDocuments)}; use one form for all samples`,
      );
    }
    const { query, positive } = sample;
    if (!('documents' in sample)) {
      return { query, documents: [...positive, ...sample.negative], isRelevant: relevanceOf(positive.length, sample.negative.length) };
    }
    const isPositive = (doc: string) => positive.includes(doc);
    const { documents } = sample;
    const base = this.#baseMetrics(documents.map((doc) => (isPositive(doc) ? 1 : 0)), positive.length);
    if (this.alwaysRerankPositives) {
      const others = documents.filter((doc) => !isPositive(doc));
      return { query, documents: [...positive, ...others], isRelevant: relevanceOf(positive.length, others.length), base };
    }
    return { query, documents: [...documents], isRelevant: documents.map((doc) => (isPositive(doc) ? 1 : 0)), base };
  }

  /** Metrics of the first-stage order; positives it missed are ranked after everything retrieved. */
  #baseMetrics(retrievedRelevance: number[], numPositives: number): QueryMetrics {
    const found = retrievedRelevance.reduce((sum, r) => sum + r, 0);
    if (found === 0) return NO_HIT;
    const relevance = [...retrievedRelevance, ...new Array<number>(Math.max(0, numPositives - found)).fill(1)];
    // Strictly decreasing scores n..1 reproduce the given order with no ties.
    return this.#metrics(relevance, relevance.map((_, i) => relevance.length - i));
  }
}

function hasRelevant(sample: PreparedSample): boolean {
  return sample.isRelevant.includes(1);
}

function relevanceOf(positives: number, negatives: number): number[] {
  return [...new Array<number>(positives).fill(1), ...new Array<number>(negatives).fill(0)];
}

/** A validated sample with `positive` as a list. */
type CheckedSample =
  | { query: string; positive: readonly string[]; negative: readonly string[] }
  | { query: string; positive: readonly string[]; documents: readonly string[] };

function checkSample(sample: unknown, index: number): CheckedSample {
  const where = `samples[${index}]`;
  if (sample === null || typeof sample !== 'object') throw new InvalidArgumentError(`${where} must be an object`);
  const { query, positive, negative, documents } = sample as Record<string, unknown>;
  if (typeof query !== 'string') throw new InvalidArgumentError(`${where}.query must be a string`);
  const positives = typeof positive === 'string' ? [positive] : checkStrings(positive, `${where}.positive`);
  if (positives.length === 0) throw new InvalidArgumentError(`${where}.positive must hold at least one document`);
  if ((negative === undefined) === (documents === undefined)) {
    throw new InvalidArgumentError(`${where} must have exactly one of "negative" and "documents"`);
  }
  return negative !== undefined
    ? { query, positive: positives, negative: checkStrings(negative, `${where}.negative`) }
    : { query, positive: positives, documents: checkStrings(documents, `${where}.documents`) };
}

function checkStrings(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${where} must be an array of strings`);
  value.forEach((item, i) => {
    if (typeof item !== 'string') throw new InvalidArgumentError(`${where}[${i}] must be a string, got ${typeof item}`);
  });
  return value as string[];
}
