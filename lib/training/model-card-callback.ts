/**
 * Fills the model's card data from a training run (loss, arguments, dataset size, metrics, log
 * history, the best checkpoint), as Sentence Transformers' ModelCardCallback does, and draws the
 * run's loss plot into the output directory; `savePretrained` writes the card. The trainer
 * always adds it.
 */
import { writeLossPlot, LOSS_PLOT_FILE } from '../model/loss-plot.js';
import type { CrossEncoder } from '../model/cross-encoder.js';

import type { CallbackEvent, StepOutput, TrainerCallback } from './callbacks.js';
import type { CrossEncoderLoss } from './losses/index.js';
import { type ResolvedTrainingArguments, resolveTrainingArguments } from './training-arguments.js';

/** What the callback reads of its trainer. */
export interface ModelCardSource {
  readonly model: CrossEncoder;
  readonly loss: CrossEncoderLoss;
  readonly trainDataset: { readonly length: number };
}

/** Fewer logged loss points than this do not make a curve: the plot then shows every step's loss. */
const MIN_LOGGED_POINTS = 5;
/** Arguments that are local details of the run, not hyperparameters (Sentence Transformers leaves them out too). */
const NOT_HYPERPARAMETERS = new Set(['outputDir', 'disableTqdm']);

export class ModelCardCallback implements TrainerCallback {
  /** Every step's loss, kept only when the run logs too few points (so at most 5 × loggingSteps). */
  private stepLosses: Array<{ step: number; loss: number }> | undefined;

  constructor(private readonly trainer: ModelCardSource) {}

  onTrainBegin({ args, state }: CallbackEvent): void {
    const logged = Math.floor(state.maxSteps / args.loggingSteps) + (args.loggingFirstStep ? 1 : 0);
    this.stepLosses = logged < MIN_LOGGED_POINTS ? [] : undefined;
  }

  onStepEnd({ state, step }: CallbackEvent & { step: StepOutput }): void {
    this.stepLosses?.push({ step: state.globalStep, loss: step.loss });
  }

  /** The run's summary is the last log entry by now (train_runtime, train_loss, …). */
  async onTrainEnd({ args, state }: CallbackEvent): Promise<void> {
    const history = state.logHistory;
    const summary = history[history.length - 1];
    const evalMetrics = [...history].reverse().find((entry) => Object.keys(entry).some((key) => key.startsWith('eval_')));
    const { model, loss, trainDataset } = this.trainer;
    const { step: _step, ...trainingMetrics } = summary ?? {};
    const bestGlobalStep = stepOfCheckpoint(state.bestModelCheckpoint);
    Object.assign(model.modelCardData, {
      lossName: loss.name,
      lossParameters: loss.parameters,
      trainingArguments: nonDefaultArguments(args),
      trainingMetrics,
      evalMetrics,
      trainDatasetSize: trainDataset.length,
      logHistory: history,
      lossPlot: LOSS_PLOT_FILE,
      stepLosses: this.stepLosses,
      loggingSteps: args.loggingSteps,
      bestGlobalStep,
    });
    await writeLossPlot(args.outputDir, history, { stepLosses: this.stepLosses, bestStep: bestGlobalStep });
  }
}

/** `out/checkpoint-40` → 40. */
function stepOfCheckpoint(dir: string | undefined): number | undefined {
  const step = dir === undefined ? NaN : Number(/checkpoint-(\d+)$/.exec(dir)?.[1]);
  return Number.isInteger(step) ? step : undefined;
}

/** The arguments that differ from the defaults, under the Python names users know (`learning_rate`). */
function nonDefaultArguments(args: ResolvedTrainingArguments): Record<string, unknown> {
  const defaults = resolveTrainingArguments({});
  return Object.fromEntries(
    Object.entries(args)
      .filter(([key, value]) => !NOT_HYPERPARAMETERS.has(key) && defaults[key as keyof typeof defaults] !== value)
      .map(([key, value]) => [snakeCase(key), value]),
  );
}

/** `perDeviceTrainBatchSize` → `per_device_train_batch_size`, `adamBeta1` → `adam_beta1`. */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
