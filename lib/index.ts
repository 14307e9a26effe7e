/**
 * torch-crossencoder: fine-tune and serve CrossEncoder rerankers from Node.js on libtorch.
 * @packageDocumentation
 */
export { CrossEncoder, DEFAULT_MODEL, predict } from './cross-encoder.js';
export type { CrossEncoderOptions, Pair, PredictOptions, RankOptions, RankResult } from './cross-encoder.js';
export type { Activation } from './activation.js';
export { downloadModel, resolveModelDirectory } from './hub.js';
export type { HubOptions } from './hub.js';
export { CrossEncoderTokenizer } from './tokenizer.js';
export type { PairEncoding, TokenizedBatch } from './tokenizer.js';
export {
  CancelledError,
  CrossEncoderError,
  FileSystemError,
  InvalidArgumentError,
  ModelFormatError,
  ModelNotFoundError,
  TorchError,
} from './errors.js';
