/**
 * torch-crossencoder: fine-tune and serve CrossEncoder rerankers from Node.js on libtorch.
 * @packageDocumentation
 */
export { CrossEncoder, DEFAULT_MODEL, predict } from './model/cross-encoder.js';
export type {
  CrossEncoderOptions,
  ModelDtype,
  FromConfigOptions,
  Pair,
  PredictOptions,
  PredictStreamOptions,
  RankOptions,
  RankResult,
} from './model/cross-encoder.js';
export type { Score, Scores } from './model/scores.js';
export type { Activation } from './model/activation.js';
export type { ConfigJson } from './model/config.js';
export type { LongDocumentOptions } from './model/long-documents.js';
export type { SavePretrainedOptions } from './model/save-pretrained.js';
export type { ModelCardData } from './model/model-card.js';
export type { Logger } from './logger.js';
export { downloadModel, hubCacheDir, resolveModelDirectory } from './hub/index.js';
export type { HubOptions } from './hub/index.js';
export { CrossEncoderTokenizer } from './tokenizer/tokenizer.js';
export type { PairEncoding, TokenizedBatch } from './tokenizer/tokenizer.js';

export { CrossEncoderTrainer, train } from './training/trainer.js';
export type { CrossEncoderTrainerOptions, TrainOptions, TrainOutput } from './training/trainer.js';
export { resolveTrainingArguments, TRAINING_ARGUMENT_NAMES } from './training/training-arguments.js';
export type {
  CrossEncoderTrainingArguments,
  IntervalStrategy,
  LrSchedulerType,
  MultiDatasetBatchSampler,
  ResolvedTrainingArguments,
} from './training/training-arguments.js';
export {
  ADRMSELoss,
  BaseWeightingScheme,
  BinaryCrossEntropyLoss,
  CachedMultipleNegativesRankingLoss,
  createLoss,
  CrossEntropyLoss,
  LambdaLoss,
  LambdaRankScheme,
  ListMLELoss,
  ListNetLoss,
  LOSSES,
  MarginMSELoss,
  MSELoss,
  MultipleNegativesRankingLoss,
  NDCGLoss1Scheme,
  NDCGLoss2PPScheme,
  NDCGLoss2Scheme,
  NoWeightingScheme,
  PListMLELoss,
  RankNetLoss,
} from './training/losses/index.js';
export type {
  ActivatedMSELoss,
  ActivationFn,
  ADRMSELossOptions,
  CachedMultipleNegativesRankingLossOptions,
  CrossEncoderLoss,
  LambdaLossOptions,
  ListMLELossOptions,
  ListwiseLoss,
  ListwiseLossOptions,
  LossSamples,
  MSELossOptions,
  MultipleNegativesRankingLossOptions,
  PListMLELossOptions,
  RankNetLossOptions,
} from './training/losses/index.js';
export { TrainingRows } from './training/training-datasets.js';
export type { DatasetDict, NamedSamples, TrainingDataset, TrainingLoss } from './training/training-datasets.js';
export { EarlyStoppingCallback } from './training/callbacks.js';
export type { CallbackEvent, CallbackHook, StepOutput, TrainerCallback, TrainerControl, TrainerState } from './training/callbacks.js';
export { ColumnDataset, loadCsv, loadDataset, loadJsonl, toColumnDataset, toPairDataset, toRerankingSamples, trainTestSplit } from './datasets.js';
export type { PairColumns, PairDataset, PairInput, PairRow, QueryGroup, TrainTestSplitOptions } from './datasets.js';
export * from './evaluation/index.js';
export { distributedEnv, isWorldProcessZero } from './training/distributed.js';
export type { DistributedEnv } from './training/distributed.js';
export { createRerankServer } from './serving/index.js';
export type { RerankServer, RerankServerControls, RerankServerOptions, ServingErrorBody, ServingErrorType } from './serving/index.js';

export {
  AbortError,
  CancelledError,
  CrossEncoderError,
  DisposedError,
  DistributedError,
  NonFiniteLossError,
  FileSystemError,
  InvalidArgumentError,
  ModelFormatError,
  ModelNotFoundError,
  TorchError,
} from './errors.js';
