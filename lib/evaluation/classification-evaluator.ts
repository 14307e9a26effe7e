/**
 * Classification evaluation of a CrossEncoder's predictions against gold labels, as Sentence
 * Transformers' `CrossEncoderClassificationEvaluator`.
 */

import { InvalidArgumentError } from '../errors.js';
import { checkOptionNames, optionNames } from '../option-names.js';

import {
  appendResultsCsv,
  checkCommonOptions,
  checkEvaluateOptions,
  expectLogits,
  expectScores,
  prefixMetricName,
  prefixMetricNames,
  type CrossEncoderEvaluator,
  type EvaluateOptions,
  type ExpectedMetrics,
  type PairScorer,
} from './evaluator.js';
import { argmax, averagePrecision, f1Score, findBestAccuracyThreshold, findBestF1Threshold } from './metrics.js';

/** Options of {@link CrossEncoderClassificationEvaluator}. */
export interface CrossEncoderClassificationEvaluatorOptions {
  /** The (first text, second text) pairs to classify. */
  sentencePairs: ReadonlyArray<readonly [string, string]>;
  /** Gold label per pair: 0 or 1 for a one-label model, a class index below `numLabels` otherwise. */
  labels: ArrayLike<number>;
  /** Dataset name, prefixing metric keys and naming the CSV (default ''). */
  name?: string;
  /** Pairs per model call (default 32). */
  batchSize?: number;
  /** Show the model's progress bar while scoring (default false). */
  showProgressBar?: boolean;
  /** Append results to a CSV when `evaluate` gets an `outputPath` (default true). */
  writeCsv?: boolean;
}

/** Metric keys and CSV columns for one model kind, in Sentence Transformers' order. */
interface Report {
  metrics: Record<string, number>;
  headers: readonly string[];
  primary: string;
}

const BINARY_PRIMARY = 'average_precision';
const MULTICLASS_PRIMARY = 'f1_macro';
const BINARY_KEYS = ['accuracy', 'accuracy_threshold', 'f1', 'f1_threshold', 'precision', 'recall', 'average_precision'];
const MULTICLASS_KEYS = ['f1_macro', 'f1_micro', 'f1_weighted'];

const OPTION_NAMES = optionNames<CrossEncoderClassificationEvaluatorOptions>({
  sentencePairs: true,
  labels: true,
  name: true,
  batchSize: true,
  showProgressBar: true,
  writeCsv: true,
});

/**
 * Evaluates a CrossEncoder as a classifier.
 *
 * A one-label model is a binary classifier: its scores (the model's default activation, a sigmoid,
 * as Sentence Transformers uses) give `accuracy` and `f1` at their best thresholds
 * (`accuracy_threshold`, `f1_threshold`, on that sigmoid scale), the `precision` and `recall` at the
 * best-F1 threshold, and `average_precision`, the primary metric.
 *
 * A model with several labels predicts the arg-max class; it gives `f1_macro` (primary),
 * `f1_micro` and `f1_weighted`.
 *
 * Keys are prefixed `{name}_` when a name is set.
 */
export class CrossEncoderClassificationEvaluator implements CrossEncoderEvaluator {
  readonly name: string;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly greaterIsBetter = true;
  /** File name of the results CSV inside `outputPath`. */
  readonly csvFile: string;
  readonly #pairs: ReadonlyArray<readonly [string, string]>;
  readonly #labels: readonly number[];
  #primary = BINARY_PRIMARY;

  /** Validates the pairs and labels; throws {@link InvalidArgumentError} naming the bad entry. */
  constructor(options: CrossEncoderClassificationEvaluatorOptions) {
    const { sentencePairs, labels, name = '', batchSize = 32, showProgressBar = false, writeCsv = true } =
      options ?? ({} as CrossEncoderClassificationEvaluatorOptions);
    checkOptionNames('CrossEncoderClassificationEvaluator', options, OPTION_NAMES);
    checkCommonOptions({ name, batchSize });
    this.#pairs = checkPairs(sentencePairs);
    this.#labels = checkLabels(labels, this.#pairs.length);
    this.name = name;
    this.batchSize = batchSize;
    this.showProgressBar = showProgressBar;
    this.writeCsv = writeCsv;
    this.csvFile = `CrossEncoderClassificationEvaluator${name ? `_${name}` : ''}_results.csv`;
  }

  /**
   * `{name}_average_precision` for a one-label model, `{name}_f1_macro` for several. The model is
   * known only once evaluated, so until then this assumes one label.
   */
  get primaryMetric(): string {
    return prefixMetricName(this.#primary, this.name);
  }

  /** The binary metrics for one label (primary `average_precision`), else the F1 averages (primary `f1_macro`). */
  expectedMetrics(numLabels: number): ExpectedMetrics {
    const [primary, keys] = numLabels === 1 ? [BINARY_PRIMARY, BINARY_KEYS] : [MULTICLASS_PRIMARY, MULTICLASS_KEYS];
    return { primary: prefixMetricName(primary, this.name), keys: keys.map((key) => prefixMetricName(key, this.name)) };
  }

  /** Scores the pairs with `model` and returns the metrics for its number of labels. */
  async evaluate(model: PairScorer, options?: EvaluateOptions): Promise<Record<string, number>> {
    const { outputPath, epoch, steps } = checkEvaluateOptions(options);
    const { numLabels } = model;
    if (!Number.isInteger(numLabels) || numLabels < 1) throw new InvalidArgumentError(`model.numLabels must be a positive integer, got ${String(numLabels)}`);
    this.#checkLabelRange(numLabels);
    const predictions = await model.predict(this.#pairs, { batchSize: this.batchSize, showProgressBar: this.showProgressBar });
    const report = numLabels === 1
      ? binaryReport(expectScores(predictions, this.#pairs.length), this.#labels)
      : multiclassReport(expectLogits(predictions, this.#pairs.length, numLabels), this.#labels);
    this.#primary = report.primary;

    if (outputPath !== undefined && this.writeCsv) {
      await appendResultsCsv(outputPath, this.csvFile, report.headers, epoch, steps, Object.values(report.metrics));
    }
    return prefixMetricNames(report.metrics, this.name);
  }

  #checkLabelRange(numLabels: number): void {
    const classes = numLabels === 1 ? 2 : numLabels;
    const bad = this.#labels.findIndex((label) => label >= classes);
    if (bad >= 0) {
      const expected = numLabels === 1 ? '0 or 1 for a one-label model' : `a class index below numLabels (${numLabels})`;
      throw new InvalidArgumentError(`labels[${bad}] is ${this.#labels[bad]}; expected ${expected}`);
    }
  }
}

function binaryReport(scores: Float32Array, labels: readonly number[]): Report {
  const { accuracy, threshold: accuracyThreshold } = findBestAccuracyThreshold(scores, labels);
  const { f1, precision, recall, threshold: f1Threshold } = findBestF1Threshold(scores, labels);
  return {
    metrics: {
      accuracy,
      accuracy_threshold: accuracyThreshold,
      f1,
      f1_threshold: f1Threshold,
      precision,
      recall,
      average_precision: averagePrecision(labels, scores),
    },
    headers: ['epoch', 'steps', 'Accuracy', 'Accuracy_Threshold', 'F1', 'F1_Threshold', 'Precision', 'Recall', 'Average_Precision'],
    primary: BINARY_PRIMARY,
  };
}

function multiclassReport(logits: Float32Array[], labels: readonly number[]): Report {
  const predicted = logits.map((row) => argmax(row));
  return {
    metrics: {
      f1_macro: f1Score(labels, predicted, 'macro'),
      f1_micro: f1Score(labels, predicted, 'micro'),
      f1_weighted: f1Score(labels, predicted, 'weighted'),
    },
    headers: ['epoch', 'steps', 'Macro_F1', 'Micro_F1', 'Weighted_F1'],
    primary: MULTICLASS_PRIMARY,
  };
}

function checkPairs(pairs: unknown): ReadonlyArray<readonly [string, string]> {
  if (!Array.isArray(pairs) || pairs.length === 0) throw new InvalidArgumentError('sentencePairs must be a non-empty array');
  pairs.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new InvalidArgumentError(`sentencePairs[${i}] must be a pair of two strings`);
    }
  });
  return pairs as ReadonlyArray<readonly [string, string]>;
}

function checkLabels(labels: unknown, count: number): number[] {
  if (labels === null || typeof labels !== 'object' || typeof (labels as ArrayLike<unknown>).length !== 'number') {
    throw new InvalidArgumentError('labels must be an array of numbers');
  }
  const values = Array.from(labels as ArrayLike<unknown>);
  if (values.length !== count) {
    throw new InvalidArgumentError(`sentencePairs and labels must have the same length, got ${count} and ${values.length}`);
  }
  values.forEach((label, i) => {
    if (!Number.isInteger(label) || (label as number) < 0) {
      throw new InvalidArgumentError(`labels[${i}] must be a non-negative integer class, got ${String(label)}`);
    }
  });
  return values as number[];
}
