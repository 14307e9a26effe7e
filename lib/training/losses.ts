/**
 * Training losses, named and defined as Sentence Transformers' cross-encoder losses. The
 * arithmetic runs in C++ (native/training/losses.cc); these classes hold the options and check labels
 * before any step is taken.
 */
import type { PairDataset } from '../datasets.js';
import { InvalidArgumentError } from '../errors.js';
import type { CrossEncoder } from '../model/cross-encoder.js';

/** What every loss gives the trainer. */
export interface CrossEncoderLoss {
  readonly model: CrossEncoder;
  /** The class name, as in Sentence Transformers (shown in the model card). */
  readonly name: string;
  /** Its options, for the model card. */
  readonly parameters: Record<string, unknown>;
  /** @internal Options of the native loss. */
  nativeOptions(): { loss: 'binary_cross_entropy' | 'cross_entropy'; posWeight?: number };
  /** Throws InvalidArgumentError naming the first row whose label this loss cannot take. */
  checkLabels(dataset: PairDataset): void;
}

/**
 * `BCEWithLogitsLoss` on the model's single logit, averaged over the batch. Labels are
 * relevance in [0, 1] (usually 0 or 1).
 *
 * @example
 * const loss = new BinaryCrossEntropyLoss(model, { posWeight: 5 }); // up-weight rare positives
 */
export class BinaryCrossEntropyLoss implements CrossEncoderLoss {
  readonly name = 'BinaryCrossEntropyLoss';
  readonly model: CrossEncoder;
  readonly posWeight: number | undefined;

  constructor(model: CrossEncoder, options: { posWeight?: number } = {}) {
    if (model.numLabels !== 1) {
      throw new InvalidArgumentError(`BinaryCrossEntropyLoss needs a model with one label; this one has ${model.numLabels}`);
    }
    const { posWeight } = options;
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
    return { loss: 'binary_cross_entropy' as const, posWeight: this.posWeight };
  }

  checkLabels(dataset: PairDataset): void {
    dataset.forEach((row, i) => {
      if (!(row.label >= 0 && row.label <= 1)) {
        throw new InvalidArgumentError(`row ${i}: BinaryCrossEntropyLoss needs labels in [0, 1], got ${row.label}`);
      }
    });
  }
}

/** `CrossEntropyLoss` over the model's labels; each row's label is a class index. */
export class CrossEntropyLoss implements CrossEncoderLoss {
  readonly name = 'CrossEntropyLoss';
  readonly model: CrossEncoder;

  constructor(model: CrossEncoder) {
    if (model.numLabels < 2) {
      throw new InvalidArgumentError('CrossEntropyLoss needs a model with at least two labels (use BinaryCrossEntropyLoss for one)');
    }
    this.model = model;
  }

  get parameters(): Record<string, unknown> {
    return { activation_fn: 'torch.nn.modules.linear.Identity' };
  }

  nativeOptions() {
    return { loss: 'cross_entropy' as const };
  }

  checkLabels(dataset: PairDataset): void {
    dataset.forEach((row, i) => {
      if (!Number.isInteger(row.label) || row.label < 0 || row.label >= this.model.numLabels) {
        throw new InvalidArgumentError(
          `row ${i}: CrossEntropyLoss needs a class index in [0, ${this.model.numLabels}), got ${row.label}`,
        );
      }
    });
  }
}

/** Sentence Transformers' default: BCE for one label, cross-entropy for several. */
export function defaultLoss(model: CrossEncoder): CrossEncoderLoss {
  return model.numLabels === 1 ? new BinaryCrossEntropyLoss(model) : new CrossEntropyLoss(model);
}
