/**
 * Losses with one score per pair: BinaryCrossEntropyLoss, CrossEntropyLoss and MSELoss on
 * (query, document, label) rows, and MarginMSELoss on (query, positive, negative_1…n, score) rows.
 * ST v5.1 losses/BinaryCrossEntropyLoss.py, CrossEntropyLoss.py, MSELoss.py, MarginMSELoss.py.
 */
import { type ColumnDataset, type PairDataset, type PairInput, toPairDataset } from '../../datasets.js';
import { InvalidArgumentError } from '../../errors.js';
import type { CrossEncoder } from '../../model/cross-encoder.js';
import type { NativeLabelledBatch, NativeLossBatch } from '../../native.js';
import type { PairEncoding } from '../../tokenizer/tokenizer.js';

import {
  type ActivationFn,
  activationModule,
  checkActivation,
  checkOptions,
  collate,
  columnsFor,
  type CrossEncoderLoss,
  describeValue,
  encode,
  expectNumber,
  expectString,
  type LossSamples,
  requireOneLabel,
  rowLengths,
} from './loss.js';

/** (query, document, label) rows, encoded once each. */
class PairSamples implements LossSamples {
  readonly #encodings: (PairEncoding | undefined)[];

  constructor(
    private readonly model: CrossEncoder,
    readonly rows: PairDataset,
  ) {
    this.#encodings = new Array(rows.length);
  }

  get length(): number {
    return this.rows.length;
  }

  batch(rows: readonly number[]): NativeLabelledBatch {
    const encodings = rows.map((i) => this.encoding(i));
    return { ...collate(this.model, encodings), labels: Float32Array.from(rows, (i) => this.rows[i].label) };
  }

  lengths(): number[] {
    return rowLengths(this.rows.length, (i) => [this.encoding(i)]);
  }

  private encoding(i: number): PairEncoding {
    return (this.#encodings[i] ??= encode(this.model, this.rows[i].query, this.rows[i].document));
  }
}

function pairRows(input: PairInput | ColumnDataset): PairDataset {
  return toPairDataset(Array.isArray(input) || !('inputColumns' in input) ? (input as PairInput) : (input as ColumnDataset).rows());
}

/**
 * `BCEWithLogitsLoss` on the model's single logit, averaged over the batch. Labels are
 * relevance in [0, 1] (usually 0 or 1). Rows `{ query, document, label }`.
 *
 * @example
 * const loss = new BinaryCrossEntropyLoss(model, { posWeight: 5 }); // up-weight rare positives
 */
export class BinaryCrossEntropyLoss implements CrossEncoderLoss {
  readonly name = 'BinaryCrossEntropyLoss';
  readonly model: CrossEncoder;
  readonly posWeight: number | undefined;

  constructor(model: CrossEncoder, options: { posWeight?: number } = {}) {
    requireOneLabel('BinaryCrossEntropyLoss', model);
    const { posWeight } = checkOptions(this.name, options, ['posWeight']) as { posWeight?: number };
    if (posWeight !== undefined && !(Number.isFinite(posWeight) && posWeight > 0)) {
      throw new InvalidArgumentError(`posWeight must be a number > 0, got ${posWeight}`);
    }
    this.model = model;
    this.posWeight = posWeight;
  }

  get parameters(): Record<string, unknown> {
    return { activation_fn: 'torch.nn.modules.linear.Identity', pos_weight: this.posWeight ?? null };
  }

  nativeOptions() {
    return { loss: 'binary_cross_entropy', lossOptions: { posWeight: this.posWeight ?? null } };
  }

  prepare(input: PairInput | ColumnDataset): LossSamples {
    const dataset = pairRows(input);
    dataset.forEach((row, i) => {
      if (!(row.label >= 0 && row.label <= 1)) {
        throw new InvalidArgumentError(`row ${i}: BinaryCrossEntropyLoss needs labels in [0, 1], got ${row.label}`);
      }
    });
    return new PairSamples(this.model, dataset);
  }
}

/** `CrossEntropyLoss` over the model's labels; each row's label is a class index. Rows `{ query, document, label }`. */
export class CrossEntropyLoss implements CrossEncoderLoss {
  readonly name = 'CrossEntropyLoss';
  readonly model: CrossEncoder;

  constructor(model: CrossEncoder) {
    if (!model || typeof model.predict !== 'function') throw new InvalidArgumentError('CrossEntropyLoss(model): model must be a CrossEncoder');
    if (model.numLabels < 2) {
      throw new InvalidArgumentError('CrossEntropyLoss needs a model with at least two labels (use BinaryCrossEntropyLoss for one)');
    }
    this.model = model;
  }

  get parameters(): Record<string, unknown> {
    return { activation_fn: 'torch.nn.modules.linear.Identity' };
  }

  nativeOptions() {
    return { loss: 'cross_entropy', lossOptions: {} };
  }

  prepare(input: PairInput | ColumnDataset): LossSamples {
    const dataset = pairRows(input);
    dataset.forEach((row, i) => {
      if (!Number.isInteger(row.label) || row.label < 0 || row.label >= this.model.numLabels) {
        throw new InvalidArgumentError(`row ${i}: CrossEntropyLoss needs a class index in [0, ${this.model.numLabels}), got ${row.label}`);
      }
    });
    return new PairSamples(this.model, dataset);
  }
}

/** Options of {@link MSELoss} and {@link MarginMSELoss}. */
export interface MSELossOptions {
  /** Applied to the logits first (ST `activation_fn`). Default `identity`. */
  activationFn?: ActivationFn;
}

/** What MSELoss and MarginMSELoss share: one label, ST's `activation_fn`, one native loss name. */
export abstract class ActivatedMSELoss implements CrossEncoderLoss {
  abstract readonly name: string;
  readonly model: CrossEncoder;
  readonly activationFn: ActivationFn;

  constructor(
    name: string,
    private readonly nativeName: string,
    model: CrossEncoder,
    options: MSELossOptions,
  ) {
    requireOneLabel(name, model);
    const o = checkOptions(name, options, ['activationFn']);
    this.model = model;
    this.activationFn = checkActivation(name, o.activationFn, 'identity')!;
  }

  get parameters(): Record<string, unknown> {
    return { activation_fn: activationModule(this.activationFn) };
  }

  nativeOptions() {
    return { loss: this.nativeName, lossOptions: { activationFn: this.activationFn } };
  }

  abstract prepare(input: PairInput | ColumnDataset): LossSamples;
}

/**
 * Mean squared error between the activated logit and a target score (distillation from a
 * teacher's scores). Rows `{ query, passage, score }`: two text columns and a label column.
 */
export class MSELoss extends ActivatedMSELoss {
  readonly name = 'MSELoss';

  constructor(model: CrossEncoder, options: MSELossOptions = {}) {
    super('MSELoss', 'mse', model, options);
  }

  prepare(input: PairInput | ColumnDataset): LossSamples {
    const dataset = columnsFor(this.name, input, '(query, passage) and a label column (label, labels, score or scores)', 2, { label: 'required' });
    const rows = Array.from({ length: dataset.length }, (_, i) => ({
      query: expectString(dataset, i, 0),
      document: expectString(dataset, i, 1),
      label: expectNumber(dataset, i, dataset.label(i), `"${dataset.labelColumn}"`),
    }));
    return new PairSamples(this.model, rows);
  }
}

/**
 * MSE between the model's margins `score(q, positive) - score(q, negative_i)` and the gold
 * margins. Rows `{ query, positive, negative, score }` (score = the margin), or
 * `{ query, positive, negative_1, …, negative_n, scores }` with `scores` the n margins or the
 * n + 1 scores `[positive, negative_1, …]` (then the margins are taken as ST takes them).
 */
export class MarginMSELoss extends ActivatedMSELoss {
  readonly name = 'MarginMSELoss';

  constructor(model: CrossEncoder, options: MSELossOptions = {}) {
    super('MarginMSELoss', 'margin_mse', model, options);
  }

  prepare(input: PairInput | ColumnDataset): LossSamples {
    const dataset = columnsFor(
      this.name,
      input,
      '(query, positive, negative_1, …, negative_n) and a label column (the margin, or a list of n margins or n + 1 scores)',
      3,
      { atLeast: true, label: 'required' },
    );
    const negatives = dataset.inputColumns.length - 2;
    const texts = Array.from({ length: dataset.length }, (_, i) => dataset.inputColumns.map((_, c) => expectString(dataset, i, c)));
    let width: number | undefined;
    const labels = Array.from({ length: dataset.length }, (_, i) => {
      const raw = dataset.label(i);
      const list = Array.isArray(raw) ? raw : [raw];
      if (list.length !== negatives && list.length !== negatives + 1) {
        throw new InvalidArgumentError(
          `${dataset.where(i)}: "${dataset.labelColumn}" must hold ${negatives} margin${negatives > 1 ? 's' : ''} or ${negatives + 1} scores for ${negatives} negative column${negatives > 1 ? 's' : ''}, got ${describeValue(raw)}`,
        );
      }
      if (width !== undefined && list.length !== width) {
        throw new InvalidArgumentError(`${dataset.where(i)}: "${dataset.labelColumn}" holds ${list.length} values, earlier rows ${width}`);
      }
      width = list.length;
      return list.map((value) => expectNumber(dataset, i, value, `"${dataset.labelColumn}"`));
    });
    const model = this.model;
    const encodings = new Map<number, PairEncoding[]>();
    const pairsOf = (i: number) => {
      let e = encodings.get(i);
      if (!e) encodings.set(i, (e = texts[i].slice(1).map((doc) => encode(model, texts[i][0], doc))));
      return e;
    };
    return {
      length: dataset.length,
      lengths: () => rowLengths(dataset.length, pairsOf),
      batch(rows: readonly number[]): NativeLossBatch {
        const encoded = rows.map(pairsOf);
        const chunks = Array.from({ length: negatives + 1 }, (_, c) => collate(model, encoded.map((e) => e[c])));
        return { chunks, rows: rows.length, labels: Float32Array.from(rows.flatMap((i) => labels[i])), labelColumns: width! };
      },
    };
  }
}
