/**
 * One training dataset, or several (Sentence Transformers' DatasetDict), each with its loss: the
 * trainer sees one concatenated set of rows (torch's ConcatDataset numbering) whose batches each
 * come from one dataset and name the loss that takes them.
 */
import { ColumnDataset, type PairInput } from '../datasets.js';
import { InvalidArgumentError } from '../errors.js';
import type { CrossEncoder } from '../model/cross-encoder.js';
import type { NativeLabelledBatch, NativeLossBatch } from '../native.js';

import type { CrossEncoderLoss, LossSamples } from './losses/index.js';

/** Named datasets trained together (ST's `DatasetDict`); key order is dataset order. */
export type DatasetDict = Readonly<Record<string, PairInput | ColumnDataset>>;

/** A training or evaluation dataset: one, or several by name. */
export type TrainingDataset = PairInput | ColumnDataset | DatasetDict;

/** One loss for every dataset, or one per dataset name (ST's `loss` dict). */
export type TrainingLoss = CrossEncoderLoss | Readonly<Record<string, CrossEncoderLoss>>;

/** Rows of one dataset as its loss checked them. */
export interface NamedSamples {
  /** The dataset's name; undefined for a lone dataset. */
  readonly name: string | undefined;
  readonly loss: CrossEncoderLoss;
  readonly samples: LossSamples;
}

/**
 * A dict of datasets rather than one dataset: a plain object whose every value is a dataset
 * (rows, columns or a ColumnDataset). A column dataset's values are arrays of strings, numbers or
 * lists, never of row objects.
 */
export function isDatasetDict(value: unknown): value is DatasetDict {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof ColumnDataset) return false;
  const entries = Object.values(value);
  if (entries.length === 0) return false;
  const isRows = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((row) => row !== null && typeof row === 'object' && !Array.isArray(row));
  const isColumns = (v: unknown) => v instanceof ColumnDataset || (v !== null && typeof v === 'object' && !Array.isArray(v));
  return entries.every((v) => isRows(v) || isColumns(v));
}

function isLoss(value: unknown): value is CrossEncoderLoss {
  return value !== null && typeof value === 'object' && typeof (value as CrossEncoderLoss).prepare === 'function';
}

/**
 * Checks each dataset against its loss (as ST's trainer does: a loss dict needs a dataset dict
 * whose every name has a loss) and returns their samples in dataset order.
 */
export function prepareDatasets(model: CrossEncoder, dataset: TrainingDataset, loss: TrainingLoss, what: 'trainDataset' | 'evalDataset'): NamedSamples[] {
  const lossDict = isLoss(loss) ? undefined : (loss as Readonly<Record<string, CrossEncoderLoss>>);
  if (lossDict) {
    if (lossDict === null || typeof lossDict !== 'object' || Array.isArray(lossDict) || Object.keys(lossDict).length === 0) {
      throw new InvalidArgumentError('CrossEncoderTrainer: options.loss must be a loss or an object of losses by dataset name');
    }
    for (const [name, l] of Object.entries(lossDict)) {
      if (!isLoss(l)) throw new InvalidArgumentError(`CrossEncoderTrainer: options.loss.${name} must be a loss`);
    }
  }
  const check = (l: CrossEncoderLoss) => {
    if (l.model !== model) throw new InvalidArgumentError("the loss was built for another model than the trainer's");
    return l;
  };
  if (!isDatasetDict(dataset)) {
    if (lossDict) throw new InvalidArgumentError(`CrossEncoderTrainer: with a loss per dataset name, options.${what} must be an object of datasets by name`);
    return [{ name: undefined, loss: check(loss as CrossEncoderLoss), samples: (loss as CrossEncoderLoss).prepare(dataset as PairInput | ColumnDataset) }];
  }
  if (lossDict) {
    const missing = Object.keys(dataset).filter((name) => !(name in lossDict));
    if (missing.length > 0) {
      throw new InvalidArgumentError(
        `CrossEncoderTrainer: options.loss has no loss for the ${what} dataset${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}; it has ${Object.keys(lossDict).join(', ')}`,
      );
    }
  }
  return Object.entries(dataset).map(([name, rows]) => {
    const l = check(lossDict ? lossDict[name] : (loss as CrossEncoderLoss));
    try {
      return { name, loss: l, samples: l.prepare(rows) };
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw new InvalidArgumentError(`${what} '${name}': ${error.message}`, { cause: error });
      throw error;
    }
  });
}

/**
 * The training rows of every dataset numbered one after another, as the trainer batches them.
 * A batch takes the dataset (and loss) of its first row, as ST's collator takes the first row's
 * `dataset_name`; rows of other datasets in it (only in the wrap-around batches that fill a
 * data-parallel epoch's last round) are left out.
 */
export class TrainingRows {
  readonly sizes: number[];
  readonly length: number;
  private readonly offsets: number[];

  /** @param lossIndex The native trainer's index of each dataset's loss ({@link distinctLosses}). */
  constructor(
    readonly datasets: readonly NamedSamples[],
    private readonly lossIndex: readonly number[],
  ) {
    this.sizes = datasets.map((d) => d.samples.length);
    this.length = this.sizes.reduce((a, b) => a + b, 0);
    this.offsets = this.sizes.map((_, i) => this.sizes.slice(0, i).reduce((a, b) => a + b, 0));
  }

  /** Several named datasets (multi-dataset training). */
  get isMulti(): boolean {
    return this.datasets[0].name !== undefined;
  }

  /** The dataset a global row index belongs to. */
  datasetOf(row: number): number {
    let d = this.offsets.length - 1;
    while (d > 0 && this.offsets[d] > row) d--;
    return d;
  }

  /** @internal The native micro-batch of these (global) rows. */
  batch(rows: readonly number[]): NativeLabelledBatch | NativeLossBatch {
    const d = this.datasetOf(rows[0]);
    const local = rows.filter((r) => this.datasetOf(r) === d).map((r) => r - this.offsets[d]);
    return { ...this.datasets[d].samples.batch(local), lossIndex: this.lossIndex[d] };
  }
}

/** The distinct losses of some datasets, in first-seen order: the native trainer's loss list. */
export function distinctLosses(datasets: readonly NamedSamples[]): CrossEncoderLoss[] {
  return [...new Set(datasets.map((d) => d.loss))];
}
