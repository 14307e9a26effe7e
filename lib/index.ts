/**
 * torch-crossencoder: fine-tune and serve CrossEncoder rerankers from Node.js on libtorch.
 * @packageDocumentation
 */
export { CrossEncoder, DEFAULT_MODEL, predict } from './cross-encoder.js';
export type { CrossEncoderOptions, Pair, PredictOptions, RankOptions, RankResult } from './cross-encoder.js';
export type { Activation } from './activation.js';
export type { SavePretrainedOptions } from './save-pretrained.js';
export type { ModelCardData } from './model-card.js';
export { downloadModel, hubCacheDir, resolveModelDirectory } from './hub.js';
export type { HubOptions } from './hub.js';
export { CrossEncoderTokenizer } from './tokenizer.js';
export type { PairEncoding, TokenizedBatch } from './tokenizer.js';

export { CrossEncoderTrainer, train } from './trainer.js';
export type { CrossEncoderTrainerOptions, TrainOptions, TrainOutput } from './trainer.js';
export { resolveTrainingArguments, TRAINING_ARGUMENT_NAMES } from './training-arguments.js';
export type {
  CrossEncoderTrainingArguments,
  IntervalStrategy,
  LrSchedulerType,
  ResolvedTrainingArguments,
} from './training-arguments.js';
export { BinaryCrossEntropyLoss, CrossEntropyLoss } from './losses.js';
export type { CrossEncoderLoss } from './losses.js';
export { EarlyStoppingCallback } from './callbacks.js';
export type { CallbackEvent, StepOutput, TrainerCallback, TrainerControl, TrainerState } from './callbacks.js';
export { loadCsv, loadJsonl, toPairDataset, toRerankingSamples, trainTestSplit } from './datasets.js';
export type { PairColumns, PairDataset, PairInput, PairRow, QueryGroup, TrainTestSplitOptions } from './datasets.js';
export * from './evaluation/index.js';

export {
  CancelledError,
  CrossEncoderError,
  FileSystemError,
  InvalidArgumentError,
  ModelFormatError,
  ModelNotFoundError,
  TorchError,
} from './errors.js';
