/**
 * What every training loss gives the trainer, and the helpers the loss files share. The losses
 * are Sentence Transformers' cross-encoder losses (`sentence_transformers/cross_encoder/losses/`,
 * v5.1): the same names (camelCase), options, defaults, data formats and maths. The arithmetic runs
 * in C++ with autograd (native/training/losses/); these classes hold the options, check the
 * dataset and lay its rows out in the batches the native loss takes.
 */
import { type ColumnDataset, type PairInput, toColumnDataset } from '../../datasets.js';
import { InvalidArgumentError } from '../../errors.js';
import type { CrossEncoder } from '../../model/cross-encoder.js';
import type { NativeBatch, NativeLabelledBatch, NativeLossBatch, NativeLossOptions } from '../../native.js';
import type { PairEncoding } from '../../tokenizer/tokenizer.js';

/** A dataset as a loss has checked it: its rows, ready to be batched. */
export interface LossSamples {
  readonly length: number;
  /** @internal The native micro-batch of these rows. */
  batch(rows: readonly number[]): NativeLabelledBatch | NativeLossBatch;
  /**
   * Each row's length in tokens, for `groupByLength` (transformers uses each row's `input_ids`
   * length): its pair's, or the longest of its pairs for rows of several documents.
   */
  lengths(): number[];
}

/** The token count of each row: the longest of the pairs `pairsOf(row)` encodes. */
export function rowLengths(count: number, pairsOf: (row: number) => readonly PairEncoding[]): number[] {
  return Array.from({ length: count }, (_, i) => pairsOf(i).reduce((longest, e) => Math.max(longest, e.inputIds.length), 0));
}

/** What every loss gives the trainer. */
export interface CrossEncoderLoss {
  readonly model: CrossEncoder;
  /** The class name, as in Sentence Transformers (shown in the model card). */
  readonly name: string;
  /** Its options under Sentence Transformers' names, for the model card. */
  readonly parameters: Record<string, unknown>;
  /** @internal Options of the native loss. */
  nativeOptions(): NativeLossOptions;
  /**
   * Checks that a dataset fits this loss (its columns, label types and lengths) and returns its
   * samples. Throws InvalidArgumentError naming the expected columns, or the first row and column
   * that does not fit.
   */
  prepare(dataset: PairInput | ColumnDataset): LossSamples;
}

/** ST's `activation_fn` modules this package supports. */
export type ActivationFn = 'identity' | 'sigmoid' | 'tanh';
const ACTIVATION_MODULES: Record<ActivationFn, string> = {
  identity: 'torch.nn.modules.linear.Identity',
  sigmoid: 'torch.nn.modules.activation.Sigmoid',
  tanh: 'torch.nn.modules.activation.Tanh',
};

/** Checks an `activationFn` option; `allowNull` for MNRL, whose `activation_fn=None` applies none. */
export function checkActivation(loss: string, value: unknown, fallback: ActivationFn | null, allowNull = false): ActivationFn | null {
  if (value === undefined) return fallback;
  if (value === null && allowNull) return null;
  if (typeof value !== 'string' || !(value in ACTIVATION_MODULES)) {
    throw new InvalidArgumentError(
      `${loss}: activationFn must be one of ${Object.keys(ACTIVATION_MODULES).join(', ')}${allowNull ? ' or null' : ''}, got ${JSON.stringify(value)}`,
    );
  }
  return value as ActivationFn;
}

/** The model card's name of an activation (ST's `fullname(activation_fn)`). */
export function activationModule(activation: ActivationFn | null): string | null {
  return activation === null ? null : ACTIVATION_MODULES[activation];
}

export function requireOneLabel(loss: string, model: CrossEncoder): void {
  if (!model || typeof model.predict !== 'function') throw new InvalidArgumentError(`${loss}(model): model must be a CrossEncoder`);
  if (model.numLabels !== 1) throw new InvalidArgumentError(`${loss} needs a model with one label; this one has ${model.numLabels}`);
}

/** Options must be an object with only known names. */
export function checkOptions(loss: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`${loss}(model, options): options must be an object`);
  }
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`${loss}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${known.join(', ') || 'none'}`);
  }
  return options as Record<string, unknown>;
}

/** A positive integer, or null/undefined (Python's None) when `nullable`. */
export function checkPositiveInteger(loss: string, name: string, value: unknown, nullable: boolean): number | null | undefined {
  if ((value === undefined || value === null) && nullable) return value as null | undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${loss}: ${name} must be a positive integer${nullable ? ' or null' : ''}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkFinite(loss: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidArgumentError(`${loss}: ${name} must be a finite number, got ${JSON.stringify(value)}`);
  return value;
}

/** The dataset as columns, with `count` input columns (`atLeast`: or more) and a label column if `label`. */
export function columnsFor(
  loss: string,
  input: PairInput | ColumnDataset,
  expected: string,
  count: number,
  options: { atLeast?: boolean; label: 'required' | 'ignored' },
): ColumnDataset {
  const dataset = toColumnDataset(input);
  const inputs = dataset.inputColumns;
  const fits = options.atLeast ? inputs.length >= count : inputs.length === count;
  const hasLabel = dataset.labelColumn !== undefined;
  if (!fits || (options.label === 'required' && !hasLabel)) {
    const got = [...inputs, ...(hasLabel ? [`${dataset.labelColumn} (label)`] : [])].join(', ') || 'none';
    throw new InvalidArgumentError(`${loss} expects the columns ${expected}; the dataset has ${got}`);
  }
  return dataset;
}

export function expectString(dataset: ColumnDataset, row: number, column: number): string {
  const value = dataset.input(row, column);
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`${dataset.where(row)}: "${dataset.inputColumns[column]}" must be a string, got ${describeValue(value)}`);
  }
  return value;
}

export function expectNumber(dataset: ColumnDataset, row: number, value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError(`${dataset.where(row)}: ${what} must be a finite number, got ${describeValue(value)}`);
  }
  return value;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return typeof value === 'number' ? String(value) : typeof value;
}

/** The model's pair encoding of (query, document), truncated to its maxLength. */
export function encode(model: CrossEncoder, query: string, document: string): PairEncoding {
  return model.tokenizer.encodePair(query, document, model.maxLength);
}

/** Encodings padded into one token batch. */
export function collate(model: CrossEncoder, encodings: readonly PairEncoding[]): NativeBatch {
  return model.tokenizer.collate(encodings);
}
