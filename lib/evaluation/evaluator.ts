/**
 * What every CrossEncoder evaluator shares: the model interface it scores with, the
 * `evaluate(model, { outputPath, epoch, steps })` contract of Sentence Transformers'
 * `SentenceEvaluator.__call__`, metric-name prefixing, and its results CSV.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { writeFileAtomic } from '../atomic-file.js';
import { CrossEncoderError, FileSystemError, InvalidArgumentError } from '../errors.js';
import type { Activation } from '../model/activation.js';
import { checkOptionNames, optionNames } from '../option-names.js';

/** Options of {@link PairScorer.predict}: those evaluators pass. */
export interface PairScorerPredictOptions {
  batchSize?: number;
  showProgressBar?: boolean;
  /** Omitted: the model's default (sigmoid for one label, identity for several, as Sentence Transformers). */
  activation?: Activation;
}

/** The part of a CrossEncoder that evaluators use; `CrossEncoder` satisfies it. */
export interface PairScorer {
  readonly numLabels: number;
  /** One score per pair (a `Float32Array`) for one label; one `Float32Array` of `numLabels` per pair otherwise. */
  predict(
    pairs: ReadonlyArray<readonly [string, string]>,
    options?: PairScorerPredictOptions,
  ): Promise<Float32Array | Float32Array[]>;
}

/** Options of {@link CrossEncoderEvaluator.evaluate}. */
export interface EvaluateOptions {
  /** Directory for the results CSV; nothing is written without it. */
  outputPath?: string;
  /** Epoch being evaluated, -1 (default) for a final or stand-alone evaluation. */
  epoch?: number;
  /** Training step being evaluated, -1 (default) for the end of an epoch. */
  steps?: number;
}

/** An evaluator of CrossEncoder models, as Sentence Transformers' `SentenceEvaluator`. */
export interface CrossEncoderEvaluator {
  /** Dataset name; prefixes every metric key (`{name}_{metric}`) when not empty. */
  readonly name: string;
  /** Key of the metric that selects the best checkpoint, prefixed like the results. */
  readonly primaryMetric: string;
  /** Whether a higher primary metric is better (always true for these evaluators). */
  readonly greaterIsBetter: boolean;
  /** Scores the model and returns its metrics, appending them to the CSV in `outputPath` if given. */
  evaluate(model: PairScorer, options?: EvaluateOptions): Promise<Record<string, number>>;
  /**
   * The primary metric and every metric key `evaluate` returns for a model with `numLabels`
   * labels, known before evaluating: the trainer checks `metricForBestModel` against them when
   * it is created. Optional for evaluators of your own (the check is then skipped).
   */
  expectedMetrics?(numLabels: number): ExpectedMetrics;
}

/** What {@link CrossEncoderEvaluator.expectedMetrics} returns; keys are prefixed as `evaluate`'s. */
export interface ExpectedMetrics {
  primary: string;
  keys: readonly string[];
}

/** `{name}_{key}`, or `key` when the name is empty (Sentence Transformers' `prefix_name_to_metrics`). */
export function prefixMetricName(key: string, name: string): string {
  return name ? `${name}_${key}` : key;
}

/** Applies {@link prefixMetricName} to every key, keeping their order. */
export function prefixMetricNames(metrics: Record<string, number>, name: string): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([key, value]) => [prefixMetricName(key, name), value]));
}

/** {@link EvaluateOptions} validated, with the -1 defaults filled in. */
export interface ResolvedEvaluateOptions {
  outputPath?: string;
  epoch: number;
  steps: number;
}

const EVALUATE_OPTION_NAMES = optionNames<EvaluateOptions>({ outputPath: true, epoch: true, steps: true });

/** Validates {@link EvaluateOptions} and fills in the defaults. */
export function checkEvaluateOptions(options: EvaluateOptions = {}): ResolvedEvaluateOptions {
  checkOptionNames('evaluate()', options, EVALUATE_OPTION_NAMES);
  const { outputPath, epoch = -1, steps = -1 } = options;
  if (outputPath !== undefined && (typeof outputPath !== 'string' || outputPath === '')) {
    throw new InvalidArgumentError('outputPath must be a non-empty string');
  }
  if (typeof epoch !== 'number' || !Number.isFinite(epoch)) throw new InvalidArgumentError(`epoch must be a finite number, got ${String(epoch)}`);
  if (!Number.isInteger(steps)) throw new InvalidArgumentError(`steps must be an integer, got ${String(steps)}`);
  return { outputPath, epoch, steps };
}

/** Checks the `name` and `batchSize` options every evaluator takes. */
export function checkCommonOptions(options: { name?: unknown; batchSize?: unknown }): void {
  if (typeof options.name !== 'string') throw new InvalidArgumentError('name must be a string');
  if (!Number.isInteger(options.batchSize) || (options.batchSize as number) <= 0) {
    throw new InvalidArgumentError(`batchSize must be a positive integer, got ${String(options.batchSize)}`);
  }
}

/** Checks that a one-label model returned one finite score per pair. */
export function expectScores(result: Float32Array | Float32Array[], count: number): Float32Array {
  if (!(result instanceof Float32Array) || result.length !== count) {
    throw new CrossEncoderError(`the model returned ${describeResult(result)} for ${count} pairs; expected a Float32Array of ${count} scores`);
  }
  checkFiniteScores(result, (i) => `pair ${i}`);
  return result;
}

/** Checks that a several-label model returned `numLabels` finite scores per pair. */
export function expectLogits(result: Float32Array | Float32Array[], count: number, numLabels: number): Float32Array[] {
  if (!Array.isArray(result) || result.length !== count || result.some((row) => !(row instanceof Float32Array) || row.length !== numLabels)) {
    throw new CrossEncoderError(
      `the model returned ${describeResult(result)} for ${count} pairs; expected ${count} Float32Arrays of ${numLabels} scores`,
    );
  }
  result.forEach((row, i) => checkFiniteScores(row, (label) => `pair ${i}, label ${label}`));
  return result;
}

// A diverged model yields NaN; say so here rather than as a metric's input error.
function checkFiniteScores(scores: Float32Array, locate: (index: number) => string): void {
  const bad = scores.findIndex((score) => !Number.isFinite(score));
  if (bad >= 0) throw new CrossEncoderError(`the model returned a non-finite score (${scores[bad]}) for ${locate(bad)}`);
}

function describeResult(result: unknown): string {
  if (result instanceof Float32Array) return `a Float32Array of ${result.length}`;
  if (Array.isArray(result)) return `an array of ${result.length}`;
  return typeof result;
}

/**
 * Appends `[epoch, steps, ...values]` to `directory/fileName`, writing `headers` first if the file
 * is new, in the format of Python's `csv.writer` (CRLF line ends, minimal quoting, ints and floats
 * as Python prints them), so files match Sentence Transformers'. The file is rewritten through a
 * temporary name and renamed, so a crash never leaves half a row.
 */
export async function appendResultsCsv(
  directory: string,
  fileName: string,
  headers: readonly string[],
  epoch: number,
  steps: number,
  values: readonly number[],
): Promise<void> {
  const path = join(directory, fileName);
  const row = [formatCounter(epoch), formatCounter(steps), ...values.map(formatPythonFloat)];
  let existing: string | undefined;
  try {
    existing = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new FileSystemError(`cannot read evaluation results ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  await writeFileAtomic(path, (existing ?? csvLine(headers)) + csvLine(row));
}

function csvLine(fields: readonly string[]): string {
  return fields.map((field) => (/[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field)).join(',') + '\r\n';
}

/** Epoch and step counters are Python ints (`-1`, `3`); a fractional epoch is a float. */
function formatCounter(value: number): string {
  return Number.isInteger(value) ? String(value) : formatPythonFloat(value);
}

/** Python's `repr(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16. */
export function formatPythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${digits[0]}${fraction}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const integer = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${integer}.${fraction || '0'}`;
}
