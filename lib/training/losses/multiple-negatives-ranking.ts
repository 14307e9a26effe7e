/**
 * MultipleNegativesRankingLoss and CachedMultipleNegativesRankingLoss on `{ query, positive }` or
 * `{ query, positive, negative_1, …, negative_n }` rows (no label; one is ignored). ST v5.1
 * losses/MultipleNegativesRankingLoss.py and CachedMultipleNegativesRankingLoss.py.
 *
 * In-batch negatives are drawn in C++ as ST draws them (torch.multinomial on the default CPU
 * generator, at the same point of the step), so a seeded run takes the same negatives as Python.
 * Since any (query, candidate) pair of the batch may be drawn, a batch of B rows with C candidate
 * columns (positive + hard negatives) carries every one of its B × B·C pairs tokenised: that is
 * B·C tokenisations per row on the JS thread, and their ids in memory, per step.
 */
import type { ColumnDataset, PairInput } from '../../datasets.js';
import type { CrossEncoder } from '../../model/cross-encoder.js';
import type { NativeLossBatch } from '../../native.js';

import {
  type ActivationFn,
  activationModule,
  checkActivation,
  checkFinite,
  checkOptions,
  checkPositiveInteger,
  columnsFor,
  type CrossEncoderLoss,
  encode,
  expectString,
  type LossSamples,
  requireOneLabel,
  rowLengths,
} from './loss.js';

/** Options of {@link MultipleNegativesRankingLoss}. */
export interface MultipleNegativesRankingLossOptions {
  /** In-batch negatives drawn per query (ST `num_negatives`, default 4; null: every other row's candidates). */
  numNegatives?: number | null;
  /** Multiplies the activated scores. Default 10. */
  scale?: number;
  /** Default `sigmoid`; null applies none. */
  activationFn?: ActivationFn | null;
}

/** Options of {@link CachedMultipleNegativesRankingLoss}. */
export interface CachedMultipleNegativesRankingLossOptions extends MultipleNegativesRankingLossOptions {
  /** Pairs per forward pass (GradCache mini-batches; memory only). Default 32. */
  miniBatchSize?: number;
}

function mnrlSamples(loss: string, model: CrossEncoder, input: PairInput | ColumnDataset): LossSamples {
  const dataset = columnsFor(loss, input, '(query, positive) or (query, positive, negative_1, …, negative_n)', 2, {
    atLeast: true,
    label: 'ignored',
  });
  const columns = dataset.inputColumns.length - 1;
  const texts = Array.from({ length: dataset.length }, (_, i) => dataset.inputColumns.map((_, c) => expectString(dataset, i, c)));
  return {
    length: dataset.length,
    // The row's own pairs (its query with its positive and hard negatives); in-batch ones vary.
    lengths: () => rowLengths(dataset.length, (i) => texts[i].slice(1).map((doc) => encode(model, texts[i][0], doc))),
    batch(rows: readonly number[]): NativeLossBatch {
      const b = rows.length;
      // Pair (query i, candidate j) at i * B * C + j; candidate j is column 1 + j / B of row j % B.
      const encodings = rows.flatMap((i) =>
        Array.from({ length: b * columns }, (_, j) => encode(model, texts[i][0], texts[rows[j % b]][1 + Math.floor(j / b)])),
      );
      const total = encodings.reduce((sum, e) => sum + e.inputIds.length, 0);
      const inputIds = new Int32Array(total);
      const tokenTypeIds = new Int32Array(total);
      const offsets = new Int32Array(encodings.length + 1);
      encodings.forEach((e, k) => {
        inputIds.set(e.inputIds, offsets[k]);
        tokenTypeIds.set(e.tokenTypeIds, offsets[k]);
        offsets[k + 1] = offsets[k] + e.inputIds.length;
      });
      return { chunks: [], rows: b, candidates: { inputIds, tokenTypeIds, offsets }, columns, padTokenId: model.tokenizer.padTokenId };
    },
  };
}

/**
 * InfoNCE with in-batch negatives: each query must pick its positive among its positive, its
 * hard negatives and `numNegatives` documents drawn from the other rows of the batch.
 *
 * @example
 * new MultipleNegativesRankingLoss(model, { numNegatives: 4, scale: 10 })
 */
export class MultipleNegativesRankingLoss implements CrossEncoderLoss {
  readonly name: string = 'MultipleNegativesRankingLoss';
  readonly model: CrossEncoder;
  readonly numNegatives: number | null;
  readonly scale: number;
  readonly activationFn: ActivationFn | null;

  constructor(model: CrossEncoder, options: MultipleNegativesRankingLossOptions = {}, known = ['numNegatives', 'scale', 'activationFn']) {
    const name = new.target.name;
    requireOneLabel(name, model);
    const o = checkOptions(name, options, known);
    this.model = model;
    this.numNegatives = o.numNegatives === undefined ? 4 : ((checkPositiveInteger(name, 'numNegatives', o.numNegatives, true) ?? null) as number | null);
    this.scale = checkFinite(name, 'scale', o.scale, 10);
    this.activationFn = checkActivation(name, o.activationFn, 'sigmoid', true);
  }

  get parameters(): Record<string, unknown> {
    return { scale: this.scale, num_negatives: this.numNegatives, activation_fn: activationModule(this.activationFn) };
  }

  nativeOptions(): { loss: string; lossOptions: Record<string, number | string | null> } {
    return {
      loss: 'multiple_negatives_ranking',
      lossOptions: { numNegatives: this.numNegatives, scale: this.scale, activationFn: this.activationFn ?? 'none' },
    };
  }

  prepare(input: PairInput | ColumnDataset): LossSamples {
    return mnrlSamples(this.name, this.model, input);
  }
}

/**
 * {@link MultipleNegativesRankingLoss} with GradCache (Gao et al., 2021): the same loss and
 * gradients, computed in mini-batches of `miniBatchSize` pairs so that memory grows with the
 * mini-batch rather than the batch (every pair is forwarded twice: once without a graph, once
 * with it on backward, with the same dropout masks).
 */
export class CachedMultipleNegativesRankingLoss extends MultipleNegativesRankingLoss {
  override readonly name = 'CachedMultipleNegativesRankingLoss';
  readonly miniBatchSize: number;

  constructor(model: CrossEncoder, options: CachedMultipleNegativesRankingLossOptions = {}) {
    super(model, options, ['numNegatives', 'scale', 'activationFn', 'miniBatchSize']);
    this.miniBatchSize = options.miniBatchSize === undefined ? 32 : (checkPositiveInteger(this.name, 'miniBatchSize', options.miniBatchSize, false) as number);
  }

  override get parameters(): Record<string, unknown> {
    return { ...super.parameters, mini_batch_size: this.miniBatchSize };
  }

  override nativeOptions() {
    const base = super.nativeOptions();
    return { loss: 'cached_multiple_negatives_ranking', lossOptions: { ...base.lossOptions, miniBatchSize: this.miniBatchSize } };
  }
}
