/**
 * Reranking evaluation: MAP, MRR@k and NDCG@k of a CrossEncoder's ordering of each query's
 * documents, as Sentence Transformers' `CrossEncoderRerankingEvaluator`.
 */

import { InvalidArgumentError } from '../errors.js';
import { checkOptionNames, optionNames } from '../option-names.js';

import {
  appendResultsCsv,
  checkCommonOptions,
  checkEvaluateOptions,
  expectScores,
  prefixMetricName,
  prefixMetricNames,
  type CrossEncoderEvaluator,
  type EvaluateOptions,
  type ExpectedMetrics,
  type PairScorer,
} from './evaluator.js';
import { averagePrecision, mean, mrrAtK, ndcgAtK } from './metrics.js';

/** A query with its relevant documents and a list of irrelevant ones. */
export interface RerankingSampleWithNegatives {
  query: string;
  /** Relevant documents (a single string counts as a list of one; an empty list scores 0). */
  positive: string | readonly string[];
  /** Irrelevant documents. */
  negative: readonly string[];
  documents?: undefined;
}

/**
 * A query with its relevant documents and the candidate list of a first-stage retriever, best
 * first, which may or may not contain the positives. Metrics of that first-stage order are
 * reported too, as `base_*`.
 */
export interface RerankingSampleWithDocuments {
  query: string;
  /** Relevant documents (a single string counts as a list of one; an empty list scores 0). */
  positive: string | readonly string[];
  /** Retrieved documents in first-stage order (at least one); those equal to a positive are relevant. */
  documents: readonly string[];
  negative?: undefined;
}

/**
 * One evaluation query: with `negative` or with `documents`, never both. Each sample chooses for
 * itself, so one evaluation may mix the two forms.
 */
export type RerankingSample = RerankingSampleWithNegatives | RerankingSampleWithDocuments;

/** Options of {@link CrossEncoderRerankingEvaluator}. */
export interface CrossEncoderRerankingEvaluatorOptions {
  /** The queries, each with `negative` or with `documents`. */
  samples: readonly RerankingSample[];
  /** Rank cut-off of MRR and NDCG (default 10). */
  atK?: number;
  /**
   * For samples with `documents`: rerank every positive, adding those the first stage missed (true,
   * the default, so a perfect model scores 1), or rerank only `documents` as retrieved (false, the
   * realistic figure). Samples with `negative` always rerank all their positives.
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

const OPTION_NAMES = optionNames<CrossEncoderRerankingEvaluatorOptions>({
  samples: true,
  atK: true,
  alwaysRerankPositives: true,
  name: true,
  batchSize: true,
  showProgressBar: true,
  writeCsv: true,
});

/**
 * Evaluates a CrossEncoder as a reranker. For each query it scores (query, document) for the
 * positives and negatives (or documents), ranks by score and computes average precision, MRR@k
 * and NDCG@k; the results are their means over all queries:
 * `{name}_map`, `{name}_mrr@{k}`, `{name}_ndcg@{k}`, plus `{name}_base_map`,
 * `{name}_base_mrr@{k}`, `{name}_base_ndcg@{k}`, the first-stage order's metrics averaged over the
 * samples with `documents` only (without a name the keys are unprefixed). The primary metric is
 * `{name}_ndcg@{k}`.
 *
 * Semantics follow Sentence Transformers' `CrossEncoderRerankingEvaluator` exactly, including its
 * quirks:
 * - the first-stage metrics rank missing positives after all retrieved documents, while with
 *   `alwaysRerankPositives: false` the reranked metrics ignore them;
 * - a query with nothing relevant to rank (no positive, or none retrieved) scores 0 and counts in
 *   the mean;
 * - `base_*` keys are returned only when the last sample has `documents` (Sentence Transformers
 *   tests the last sample's `documents` after its loop).
 *
 * Samples Sentence Transformers fails on are refused up front, naming the sample: no `query` or
 * `positive`, both or neither of `negative` and `documents`, empty `documents`, and a ranking of a
 * single document holding a positive (scikit-learn's `ndcg_score` refuses one document).
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
  readonly #reportBase: boolean;

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
    checkOptionNames('CrossEncoderRerankingEvaluator', options, OPTION_NAMES);
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
    this.#samples = samples.map((sample, index) => this.#prepare(checkSample(sample, index), index));
    // Sentence Transformers decides after its loop, from the loop variable: the last sample's form.
    this.#reportBase = this.#samples[this.#samples.length - 1].base !== undefined;
  }

  /** `{name}_ndcg@{atK}`. */
  get primaryMetric(): string {
    return prefixMetricName(`ndcg@${this.atK}`, this.name);
  }

  /** `map`, `mrr@k`, `ndcg@k` (and their `base_` forms when the last sample has `documents`), prefixed by the name. */
  expectedMetrics(): ExpectedMetrics {
    const names = ['map', `mrr@${this.atK}`, `ndcg@${this.atK}`];
    const keys = this.#reportBase ? [...names, ...names.map((key) => `base_${key}`)] : names;
    return { primary: this.primaryMetric, keys: keys.map((key) => prefixMetricName(key, this.name)) };
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
    if (this.#reportBase) Object.assign(metrics, this.#summarise(this.#samples.flatMap((s) => (s.base ? [s.base] : [])), 'base_'));

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
    const { query, positive } = sample;
    const prepared = (documents: string[], isRelevant: number[], base?: QueryMetrics): PreparedSample => {
      checkRankable(isRelevant, `samples[${index}] has a single document to rerank`);
      return { query, documents, isRelevant, base };
    };
    if (!('documents' in sample)) return prepared([...positive, ...sample.negative], relevanceOf(positive.length, sample.negative.length));

    const isPositive = (doc: string) => positive.includes(doc);
    const { documents } = sample;
    const base = this.#baseMetrics(documents.map((doc) => (isPositive(doc) ? 1 : 0)), positive.length, index);
    if (this.alwaysRerankPositives) {
      const others = documents.filter((doc) => !isPositive(doc));
      return prepared([...positive, ...others], relevanceOf(positive.length, others.length), base);
    }
    return prepared([...documents], documents.map((doc) => (isPositive(doc) ? 1 : 0)), base);
  }

  /** Metrics of the first-stage order; positives it missed are ranked after everything retrieved. */
  #baseMetrics(retrievedRelevance: number[], numPositives: number, index: number): QueryMetrics {
    const found = retrievedRelevance.reduce((sum, r) => sum + r, 0);
    if (found === 0) return NO_HIT;
    // More retrieved copies than positives (duplicates) append nothing, as Python's `[1] * -n`.
    const relevance = [...retrievedRelevance, ...new Array<number>(Math.max(0, numPositives - found)).fill(1)];
    checkRankable(relevance, `samples[${index}] has a single document in its first-stage ranking`);
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

/**
 * Sentence Transformers scores every ranking holding a positive with scikit-learn's `ndcg_score`,
 * which raises on a single document; refuse such a sample here rather than mid-evaluation.
 */
function checkRankable(isRelevant: readonly number[], what: string): void {
  if (isRelevant.length === 1 && isRelevant[0] === 1) {
    throw new InvalidArgumentError(`${what} (a positive): Sentence Transformers fails on it, as scikit-learn's ndcg_score needs more than one document`);
  }
}

/** A validated sample with `positive` as a list. */
type CheckedSample =
  | { query: string; positive: readonly string[]; negative: readonly string[] }
  | { query: string; positive: readonly string[]; documents: readonly string[] };

/** Sentence Transformers' checks and reasons, plus the types it assumes without checking. */
function checkSample(sample: unknown, index: number): CheckedSample {
  const where = `samples[${index}]`;
  if (sample === null || typeof sample !== 'object' || Array.isArray(sample)) throw new InvalidArgumentError(`${where} must be an object`);
  const { query, positive, negative, documents } = sample as Record<string, unknown>;
  if (query === undefined) throw new InvalidArgumentError(`${where} requires a "query" key`);
  if (typeof query !== 'string') throw new InvalidArgumentError(`${where}.query must be a string`);
  if (positive === undefined) throw new InvalidArgumentError(`${where} requires a "positive" key`);
  const positives = typeof positive === 'string' ? [positive] : checkStrings(positive, `${where}.positive`, 'a string or an array of strings');
  if ((negative === undefined) === (documents === undefined)) {
    throw new InvalidArgumentError(`${where} requires exactly one of "negative" and "documents"`);
  }
  if (negative !== undefined) return { query, positive: positives, negative: checkStrings(negative, `${where}.negative`) };
  const retrieved = checkStrings(documents, `${where}.documents`);
  // Sentence Transformers tests `if documents:`, so an empty list falls through to the missing "negative".
  if (retrieved.length === 0) throw new InvalidArgumentError(`${where}.documents must not be empty`);
  return { query, positive: positives, documents: retrieved };
}

function checkStrings(value: unknown, where: string, expected = 'an array of strings'): string[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${where} must be ${expected}`);
  value.forEach((item, i) => {
    if (typeof item !== 'string') throw new InvalidArgumentError(`${where}[${i}] must be a string, got ${item === null ? 'null' : typeof item}`);
  });
  return value as string[];
}
