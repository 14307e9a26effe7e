/**
 * Fills the model's card data from a training run (loss, arguments, dataset size, metrics, log
 * history), as Sentence Transformers' ModelCardCallback does; `savePretrained` writes the card.
 * The trainer always adds it.
 */
import type { CrossEncoder } from '../model/cross-encoder.js';
import { LOSS_PLOT_FILE } from '../model/loss-plot.js';

import type { CallbackEvent, TrainerCallback } from './callbacks.js';
import type { CrossEncoderLoss } from './losses.js';
import { type ResolvedTrainingArguments, resolveTrainingArguments } from './training-arguments.js';

/** What the callback reads of its trainer. */
export interface ModelCardSource {
  readonly model: CrossEncoder;
  readonly loss: CrossEncoderLoss;
  readonly trainDataset: { readonly length: number };
}

export class ModelCardCallback implements TrainerCallback {
  constructor(private readonly trainer: ModelCardSource) {}

  /** The run's summary is the last log entry by now (train_runtime, train_loss, …). */
  onTrainEnd({ args, state }: CallbackEvent): void {
    const history = state.logHistory;
    const summary = history[history.length - 1];
    const evalMetrics = [...history].reverse().find((entry) => Object.keys(entry).some((key) => key.startsWith('eval_')));
    const { model, loss, trainDataset } = this.trainer;
    const { step: _step, ...trainingMetrics } = summary ?? {};
    Object.assign(model.modelCardData, {
      lossName: loss.name,
      lossParameters: loss.parameters,
      trainingArguments: nonDefaultArguments(args),
      trainingMetrics,
      evalMetrics,
      trainDatasetSize: trainDataset.length,
      logHistory: history,
      lossPlot: LOSS_PLOT_FILE,
    });
  }
}

function nonDefaultArguments(args: ResolvedTrainingArguments): Record<string, unknown> {
  const defaults = resolveTrainingArguments({});
  return Object.fromEntries(Object.entries(args).filter(([key, value]) => defaults[key as keyof typeof defaults] !== value));
}
