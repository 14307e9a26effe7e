/** Training arguments as flags (`--learning-rate`), generated from one table. */
import {
  type CrossEncoderTrainingArguments,
  INTERVAL_STRATEGIES,
  LR_SCHEDULER_TYPES,
  MULTI_DATASET_BATCH_SAMPLERS,
  resolveTrainingArguments,
} from '../training/training-arguments.js';

import { kebabCase, type OptionSpec, type ValueKind } from './options.js';

type TrainingKey = Exclude<keyof CrossEncoderTrainingArguments, 'outputDir'>;

/** The flag kind a training argument's type calls for; a union of string literals needs its values. */
type TrainingKind<T> =
  NonNullable<T> extends boolean
    ? 'boolean'
    : NonNullable<T> extends number
      ? 'integer' | 'number'
      : string extends NonNullable<T>
        ? 'string'
        : readonly NonNullable<T>[];


/**
 * Every {@link CrossEncoderTrainingArguments} key but `outputDir` (which `--output` sets), with its
 * flag kind. The mapped type makes the compiler reject a missing, extra or mistyped entry, so the
 * flags follow the interface.
 */
const TRAINING_ARGUMENT_KINDS: { readonly [K in TrainingKey]-?: TrainingKind<CrossEncoderTrainingArguments[K]> } = {
  numTrainEpochs: 'number',
  maxSteps: 'integer',
  perDeviceTrainBatchSize: 'integer',
  perDeviceEvalBatchSize: 'integer',
  learningRate: 'number',
  weightDecay: 'number',
  adamBeta1: 'number',
  adamBeta2: 'number',
  adamEpsilon: 'number',
  lrSchedulerType: LR_SCHEDULER_TYPES,
  warmupSteps: 'integer',
  warmupRatio: 'number',
  maxGradNorm: 'number',
  gradientAccumulationSteps: 'integer',
  seed: 'integer',
  dataloaderDropLast: 'boolean',
  multiDatasetBatchSampler: MULTI_DATASET_BATCH_SAMPLERS,
  groupByLength: 'boolean',
  loggingSteps: 'integer',
  loggingFirstStep: 'boolean',
  saveStrategy: INTERVAL_STRATEGIES,
  saveSteps: 'integer',
  saveTotalLimit: 'integer',
  disableTqdm: 'boolean',
  evalStrategy: INTERVAL_STRATEGIES,
  evalSteps: 'integer',
  evalOnStart: 'boolean',
  loadBestModelAtEnd: 'boolean',
  metricForBestModel: 'string',
  greaterIsBetter: 'boolean',
};

/** Defaults that derive from other arguments or have no value, described in words for help. */
const DEFAULT_NOTES: Partial<Record<TrainingKey, string>> = {
  evalSteps: '--logging-steps',
  greaterIsBetter: 'true unless --metric-for-best-model ends in loss',
  saveTotalLimit: 'keep all',
};

const PLACEHOLDERS: Record<ValueKind, string> = { string: '<name>', integer: '<int>', number: '<num>', boolean: '' };

export const TRAINING_GROUP = 'Training arguments (CrossEncoderTrainingArguments, Hugging Face defaults)';

/** `--learning-rate` etc.: one option spec per training argument, keyed by flag name. */
export function trainingOptionSpecs(): Record<string, OptionSpec & { argument: TrainingKey }> {
  const defaults = resolveTrainingArguments({});
  return Object.fromEntries(
    (Object.entries(TRAINING_ARGUMENT_KINDS) as [TrainingKey, TrainingKind<unknown>][]).map(([argument, kind]) => {
      const choices = typeof kind === 'string' ? undefined : (kind as readonly string[]);
      const valueKind: ValueKind = choices ? 'string' : (kind as ValueKind);
      const fallback = DEFAULT_NOTES[argument] ?? defaults[argument];
      const spec = {
        argument,
        kind: valueKind,
        choices,
        value: valueKind === 'boolean' ? undefined : choices ? `<${choices.join('|')}>` : PLACEHOLDERS[valueKind],
        help: `${argument}${fallback === undefined ? '' : ` (default ${fallback})`}`,
        negatable: valueKind === 'boolean',
        group: TRAINING_GROUP,
      };
      return [kebabCase(argument), spec];
    }),
  );
}

/** The training arguments set on the command line (unset flags are left to the trainer's defaults). */
export function trainingArgumentsFrom(
  specs: Record<string, OptionSpec & { argument: TrainingKey }>,
  values: Readonly<Record<string, unknown>>,
): CrossEncoderTrainingArguments {
  const args: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (values[name] !== undefined) args[spec.argument] = values[name];
  }
  return args as CrossEncoderTrainingArguments;
}
