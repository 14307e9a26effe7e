/**
 * CrossEncoderTrainingArguments: Hugging Face TrainingArguments in camelCase, with the same
 * defaults, and the checks that make a typo or a nonsense value an error before training starts.
 */
import { InvalidArgumentError } from '../errors.js';
import { suggest } from '../suggest.js';

/** Learning-rate schedules (transformers' `lr_scheduler_type`) the trainer implements. */
export const LR_SCHEDULER_TYPES = ['linear', 'constant', 'constant_with_warmup', 'cosine'] as const;
export type LrSchedulerType = (typeof LR_SCHEDULER_TYPES)[number];
/** When to save checkpoints or evaluate (transformers' `IntervalStrategy`). */
export const INTERVAL_STRATEGIES = ['no', 'steps', 'epoch'] as const;
export type IntervalStrategy = (typeof INTERVAL_STRATEGIES)[number];
/** ST's `MultiDatasetBatchSamplers` values. */
export const MULTI_DATASET_BATCH_SAMPLERS = ['proportional', 'round_robin'] as const;
export type MultiDatasetBatchSampler = (typeof MULTI_DATASET_BATCH_SAMPLERS)[number];

/** Options of a training run; every field is optional and defaults as in Hugging Face's Trainer. */
export interface CrossEncoderTrainingArguments {
  /** Where checkpoints and logs go. Default `trainer_output`. */
  outputDir?: string;
  /** Default 3. */
  numTrainEpochs?: number;
  /** When > 0, the number of optimiser steps, overriding `numTrainEpochs`. Default -1. */
  maxSteps?: number;
  /** Default 8. */
  perDeviceTrainBatchSize?: number;
  /** Default 8. */
  perDeviceEvalBatchSize?: number;
  /** Peak AdamW learning rate. Default 5e-5. */
  learningRate?: number;
  /** Decoupled weight decay, not applied to biases and LayerNorm weights. Default 0. */
  weightDecay?: number;
  /** Default 0.9. */
  adamBeta1?: number;
  /** Default 0.999. */
  adamBeta2?: number;
  /** Default 1e-8. */
  adamEpsilon?: number;
  /** Default `linear`. */
  lrSchedulerType?: LrSchedulerType;
  /** Linear warmup steps; wins over `warmupRatio` when > 0. Default 0. */
  warmupSteps?: number;
  /** Warmup as a fraction of all steps. Default 0. */
  warmupRatio?: number;
  /** Global L2 gradient clipping (`clip_grad_norm_`); 0 disables. Default 1. */
  maxGradNorm?: number;
  /** Batches whose gradients are summed before each optimiser step. Default 1. */
  gradientAccumulationSteps?: number;
  /** Seeds dropout and each epoch's shuffle. Default 42. */
  seed?: number;
  /** Drop each epoch's last incomplete batch. Default false. */
  dataloaderDropLast?: boolean;
  /**
   * With several training datasets: `proportional` (default) takes every batch of every dataset,
   * larger datasets more often; `round_robin` one batch of each in turn until the smallest runs out.
   */
  multiDatasetBatchSampler?: MultiDatasetBatchSampler;
  /**
   * Batches of rows of similar token length (transformers' `group_by_length`, its
   * LengthGroupedSampler): far less padding, hence faster steps; still seeded per epoch.
   * Default false.
   */
  groupByLength?: boolean;
  /** Log every N steps. Default 500. */
  loggingSteps?: number;
  /** Also log the first step. Default false. */
  loggingFirstStep?: boolean;
  /** Default `steps`. */
  saveStrategy?: IntervalStrategy;
  /** Save every N steps with the `steps` strategy. Default 500. */
  saveSteps?: number;
  /** Keep at most this many checkpoints (oldest removed first). Default: all. */
  saveTotalLimit?: number;
  /** No progress bar or periodic progress lines. Default false. */
  disableTqdm?: boolean;
  /** Default `no`. */
  evalStrategy?: IntervalStrategy;
  /** Evaluate every N steps with the `steps` strategy. Default: `loggingSteps`. */
  evalSteps?: number;
  /** Evaluate once before the first step. Default false. */
  evalOnStart?: boolean;
  /** After training, load the checkpoint with the best `metricForBestModel`. Default false. */
  loadBestModelAtEnd?: boolean;
  /** Metric (with or without the `eval_` prefix) that picks the best checkpoint. Default `loss`. */
  metricForBestModel?: string;
  /** Default: true unless `metricForBestModel` ends in `loss`. */
  greaterIsBetter?: boolean;
}

/** {@link CrossEncoderTrainingArguments} with every default filled in. */
export type ResolvedTrainingArguments = Required<Omit<CrossEncoderTrainingArguments, 'saveTotalLimit'>> & {
  saveTotalLimit: number | undefined;
};

const DEFAULTS: ResolvedTrainingArguments = {
  outputDir: 'trainer_output',
  numTrainEpochs: 3,
  maxSteps: -1,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  learningRate: 5e-5,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  lrSchedulerType: 'linear',
  warmupSteps: 0,
  warmupRatio: 0,
  maxGradNorm: 1,
  gradientAccumulationSteps: 1,
  seed: 42,
  dataloaderDropLast: false,
  multiDatasetBatchSampler: 'proportional',
  groupByLength: false,
  loggingSteps: 500,
  loggingFirstStep: false,
  saveStrategy: 'steps',
  saveSteps: 500,
  saveTotalLimit: undefined,
  disableTqdm: false,
  evalStrategy: 'no',
  evalSteps: 0, // resolved to loggingSteps
  evalOnStart: false,
  loadBestModelAtEnd: false,
  metricForBestModel: 'loss',
  greaterIsBetter: false, // resolved from metricForBestModel
};

/** The argument names, for validation and for the CLI's flags. */
export const TRAINING_ARGUMENT_NAMES = Object.keys(DEFAULTS) as (keyof CrossEncoderTrainingArguments)[];


/** Fills defaults and validates; unknown names, wrong types and out-of-range values throw. */
export function resolveTrainingArguments(args: CrossEncoderTrainingArguments = {}): ResolvedTrainingArguments {
  if (typeof args !== 'object' || args === null) throw new InvalidArgumentError('training args must be an object');
  const unknown = Object.keys(args).filter((key) => !(key in DEFAULTS));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown training argument${unknown.length > 1 ? 's' : ''} ${unknown.map(describeUnknown).join(', ')}; known: ${TRAINING_ARGUMENT_NAMES.join(', ')}`,
    );
  }
  const defined = Object.fromEntries(Object.entries(args).filter(([, value]) => value !== undefined));
  const resolved: ResolvedTrainingArguments = { ...DEFAULTS, ...defined };
  for (const key of TRAINING_ARGUMENT_NAMES) {
    const value = resolved[key];
    const fallback = DEFAULTS[key];
    if (fallback !== undefined && value !== undefined && typeof value !== typeof fallback) {
      throw new InvalidArgumentError(`training argument ${key} must be a ${typeof fallback}, got ${JSON.stringify(value)}`);
    }
  }
  const r = resolved;
  const check = (ok: boolean, message: string) => {
    if (!ok) throw new InvalidArgumentError(`training argument ${message}`);
  };
  const isInt = Number.isInteger;
  check(r.outputDir.length > 0, 'outputDir must not be empty');
  check(Number.isFinite(r.numTrainEpochs) && r.numTrainEpochs >= 0, `numTrainEpochs must be ≥ 0, got ${r.numTrainEpochs}`);
  check(isInt(r.maxSteps), `maxSteps must be an integer, got ${r.maxSteps}`);
  check(r.maxSteps > 0 || r.numTrainEpochs > 0, 'maxSteps ≤ 0 with numTrainEpochs 0 leaves nothing to train');
  for (const key of ['perDeviceTrainBatchSize', 'perDeviceEvalBatchSize', 'gradientAccumulationSteps', 'loggingSteps', 'saveSteps'] as const) {
    check(isInt(r[key]) && r[key] >= 1, `${key} must be a positive integer, got ${r[key]}`);
  }
  check(Number.isFinite(r.learningRate) && r.learningRate > 0, `learningRate must be > 0, got ${r.learningRate}`);
  check(Number.isFinite(r.weightDecay) && r.weightDecay >= 0, `weightDecay must be ≥ 0, got ${r.weightDecay}`);
  check(r.adamBeta1 >= 0 && r.adamBeta1 < 1, `adamBeta1 must be in [0, 1), got ${r.adamBeta1}`);
  check(r.adamBeta2 >= 0 && r.adamBeta2 < 1, `adamBeta2 must be in [0, 1), got ${r.adamBeta2}`);
  check(r.adamEpsilon > 0, `adamEpsilon must be > 0, got ${r.adamEpsilon}`);
  check(LR_SCHEDULER_TYPES.includes(r.lrSchedulerType), `lrSchedulerType must be one of ${LR_SCHEDULER_TYPES.join(', ')}, got '${r.lrSchedulerType}'`);
  check(isInt(r.warmupSteps) && r.warmupSteps >= 0, `warmupSteps must be an integer ≥ 0, got ${r.warmupSteps}`);
  check(r.warmupRatio >= 0 && r.warmupRatio <= 1, `warmupRatio must be in [0, 1], got ${r.warmupRatio}`);
  check(Number.isFinite(r.maxGradNorm) && r.maxGradNorm >= 0, `maxGradNorm must be ≥ 0, got ${r.maxGradNorm}`);
  check(isInt(r.seed) && r.seed >= 0, `seed must be an integer ≥ 0, got ${r.seed}`);
  check(
    MULTI_DATASET_BATCH_SAMPLERS.includes(r.multiDatasetBatchSampler),
    `multiDatasetBatchSampler must be one of ${MULTI_DATASET_BATCH_SAMPLERS.join(', ')}, got '${r.multiDatasetBatchSampler}'`,
  );
  check(INTERVAL_STRATEGIES.includes(r.saveStrategy), `saveStrategy must be one of ${INTERVAL_STRATEGIES.join(', ')}, got '${r.saveStrategy}'`);
  check(INTERVAL_STRATEGIES.includes(r.evalStrategy), `evalStrategy must be one of ${INTERVAL_STRATEGIES.join(', ')}, got '${r.evalStrategy}'`);
  check(
    r.saveTotalLimit === undefined || (isInt(r.saveTotalLimit) && r.saveTotalLimit >= 1),
    `saveTotalLimit must be a positive integer, got ${r.saveTotalLimit}`,
  );
  if (args.evalSteps === undefined) r.evalSteps = r.loggingSteps;
  check(isInt(r.evalSteps) && r.evalSteps >= 1, `evalSteps must be a positive integer, got ${r.evalSteps}`);
  if (args.greaterIsBetter === undefined) r.greaterIsBetter = !r.metricForBestModel.endsWith('loss');
  if (r.loadBestModelAtEnd) {
    check(r.evalStrategy !== 'no', 'loadBestModelAtEnd needs an evalStrategy other than no');
    check(
      r.saveStrategy === r.evalStrategy,
      `loadBestModelAtEnd needs saveStrategy (${r.saveStrategy}) to match evalStrategy (${r.evalStrategy})`,
    );
    check(
      r.saveStrategy !== 'steps' || r.saveSteps % r.evalSteps === 0,
      `loadBestModelAtEnd needs saveSteps (${r.saveSteps}) to be a multiple of evalSteps (${r.evalSteps})`,
    );
  }
  return r;
}

/** `'learning_rate' (did you mean 'learningRate'?)`: Python's snake_case names are the likely mistake. */
function describeUnknown(name: string): string {
  const guess = suggest(name, TRAINING_ARGUMENT_NAMES);
  return `'${name}'${guess ? ` (did you mean '${guess}'?)` : ''}`;
}
