/**
 * Trainer callbacks: hooks a training run calls at its events, with Hugging Face's state and
 * control objects, and the early-stopping callback of transformers.
 */
import { InvalidArgumentError } from '../errors.js';

import type { ResolvedTrainingArguments } from './training-arguments.js';

/** The run's progress, as transformers' TrainerState (camelCase). */
export interface TrainerState {
  /** Optimiser steps taken. */
  globalStep: number;
  maxSteps: number;
  /** Fractional epoch: 1.5 is half way through the second epoch. */
  epoch: number;
  numTrainEpochs: number;
  /** Every logged entry: training logs, evaluation metrics, the final summary. */
  logHistory: Record<string, number>[];
  /** Best value of `metricForBestModel` so far. */
  bestMetric?: number;
  /** The checkpoint saved at the best evaluation. */
  bestModelCheckpoint?: string;
}

/** Flags callbacks may set to steer the loop, as transformers' TrainerControl. */
export interface TrainerControl {
  shouldTrainingStop: boolean;
  shouldSave: boolean;
  shouldEvaluate: boolean;
  shouldLog: boolean;
}

/** What one optimiser step produced. */
export interface StepOutput {
  /** Unrounded loss of the step: the mean over its accumulation micro-batches. */
  loss: number;
  /** Total L2 gradient norm before clipping (NaN when `maxGradNorm` is 0). */
  gradNorm: number;
  /** The learning rate after the schedule stepped, as transformers logs it. */
  learningRate: number;
  /** Dataset row indices of each micro-batch of this step. */
  batchIndices: number[][];
}

/** What every hook receives. */
export interface CallbackEvent {
  args: ResolvedTrainingArguments;
  state: TrainerState;
  control: TrainerControl;
}

/** A callback hook: called with the event, and awaited when it returns a Promise. */
export type CallbackHook<Extra = object> = (event: CallbackEvent & Extra) => void | Promise<void>;

/** Hooks called by the trainer; all optional, and may be async. */
export interface TrainerCallback {
  onTrainBegin?: CallbackHook;
  onStepEnd?: CallbackHook<{ step: StepOutput }>;
  onLog?: CallbackHook<{ logs: Record<string, number> }>;
  onEvaluate?: CallbackHook<{ metrics: Record<string, number> }>;
  onSave?: CallbackHook<{ checkpointDir: string }>;
  onEpochEnd?: CallbackHook;
  onTrainEnd?: CallbackHook;
}

/** The evaluation metric key a run tracks (`eval_` prefixed, as transformers does). */
export function bestMetricKey(args: ResolvedTrainingArguments): string {
  const name = args.metricForBestModel;
  return name.startsWith('eval_') ? name : `eval_${name}`;
}

/** Whether `value` beats `best` in the direction the arguments say. */
export function isBetter(value: number, best: number | undefined, greaterIsBetter: boolean, threshold = 0): boolean {
  if (best === undefined) return true;
  return (greaterIsBetter ? value > best : value < best) && Math.abs(value - best) > threshold;
}

/**
 * Stops training when the tracked metric has not improved for `patience` evaluations, as
 * transformers' EarlyStoppingCallback: an evaluation counts as an improvement when it beats the
 * best so far by more than `threshold`. Needs `loadBestModelAtEnd` and evaluations.
 */
export class EarlyStoppingCallback implements TrainerCallback {
  readonly patience: number;
  readonly threshold: number;
  private noImprovement = 0;

  constructor(options: { patience?: number; threshold?: number } = {}) {
    this.patience = options.patience ?? 1;
    this.threshold = options.threshold ?? 0;
    if (!Number.isInteger(this.patience) || this.patience < 1) {
      throw new InvalidArgumentError(`EarlyStoppingCallback patience must be a positive integer, got ${this.patience}`);
    }
    if (!(this.threshold >= 0)) throw new InvalidArgumentError(`EarlyStoppingCallback threshold must be ≥ 0, got ${this.threshold}`);
  }

  onTrainBegin({ args }: CallbackEvent): void {
    if (!args.loadBestModelAtEnd) {
      throw new InvalidArgumentError('EarlyStoppingCallback needs loadBestModelAtEnd: true (and evaluations)');
    }
    this.noImprovement = 0;
  }

  onEvaluate({ args, state, control, metrics }: CallbackEvent & { metrics: Record<string, number> }): void {
    const key = bestMetricKey(args);
    const value = metrics[key];
    if (value === undefined) return; // the trainer itself reports a missing metric
    if (isBetter(value, state.bestMetric, args.greaterIsBetter, this.threshold)) this.noImprovement = 0;
    else this.noImprovement += 1;
    if (this.noImprovement >= this.patience) control.shouldTrainingStop = true;
  }
}

/** Calls a hook on every callback in order, awaiting each. */
export async function dispatch<K extends keyof TrainerCallback>(
  callbacks: readonly TrainerCallback[],
  hook: K,
  event: Parameters<NonNullable<TrainerCallback[K]>>[0],
): Promise<void> {
  for (const callback of callbacks) {
    const fn = callback[hook] as ((e: typeof event) => void | Promise<void>) | undefined;
    if (fn) await fn.call(callback, event);
  }
}
