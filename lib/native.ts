/**
 * Loads the native addon and declares its surface. Everything that talks to libtorch goes
 * through here; the rest of lib/ never touches the addon directly.
 * @internal
 */
import { createRequire } from 'node:module';

import { CrossEncoderError, fromNativeError } from './errors.js';

/** The Hugging Face config.json fields the native model reads (snake_case, as in the file). */
export interface NativeBertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  classifier_dropout: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range: number;
  num_labels: number;
}

export interface NativeModel {
  loadWeights(path: string): Promise<{ missing: string[]; unexpected: string[] }>;
  saveWeights(path: string, metadata: Record<string, string>): Promise<void>;
  /** Logits, row-major [batchSize, numLabels]. */
  forward(
    inputIds: Int32Array,
    tokenTypeIds: Int32Array,
    attentionMask: Int32Array,
    batchSize: number,
    seqLength: number,
  ): Promise<Float32Array>;
  initClassifier(): void;
  /** Hugging Face's _init_weights for every parameter, drawn from `seed`. */
  initWeights(seed: number, padTokenId: number): void;
  numParameters(): number;
}

export interface NativeInfo {
  torchVersion: string;
  /** `openblas`, `mkl`, `blis` or `reference` (the slow fallback). */
  blas: string;
  intraOpThreads: number;
  parallelInfo: string;
}

/** A tokenised batch with one label per pair, as the native trainer takes it. */
export interface NativeLabelledBatch {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  batchSize: number;
  seqLength: number;
  labels: Float32Array;
}

export interface NativeTrainerOptions {
  loss: 'binary_cross_entropy' | 'cross_entropy';
  posWeight?: number;
  learningRate: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  maxGradNorm: number;
  lrSchedulerType: string;
  warmupSteps: number;
  totalSteps: number;
  seed: number;
}

export interface NativeStepResult {
  loss: number;
  gradNorm: number;
  learningRate: number;
}

export interface NativeTrainer {
  /** One optimiser step over the micro-batches (gradient accumulation). */
  step(batches: NativeLabelledBatch[]): Promise<NativeStepResult>;
  evalLoss(batch: NativeLabelledBatch): Promise<number>;
  /** The draw torch's DataLoader makes from the global generator each time it is iterated. */
  drawLoaderSeed(): void;
  /** Writes optimizer.safetensors and rng_state.safetensors into dir. */
  saveState(dir: string): Promise<void>;
  loadState(dir: string): Promise<void>;
  stepsTaken(): number;
}

interface Binding {
  Model: new (config: NativeBertConfig) => NativeModel;
  Trainer: new (model: NativeModel, options: NativeTrainerOptions) => NativeTrainer;
  /** torch.randperm(n, generator=torch.Generator().manual_seed(seed)). */
  randperm(n: number, seed: number): Float64Array;
  info(): NativeInfo;
  setThreads(threads: number): void;
  shutdown(): boolean;
}

// Thread defaults, chosen by measurement (BENCHMARKS.md). libgomp spin-waits between parallel
// regions by default: with 2 intra-op threads on 2 cores, predict ran 4.5x slower (17 against
// 76 pairs/s). It reads this variable once, when libtorch loads, so it is set before the addon is
// required, unless the user set it. Thread counts are not set here: the addon leaves them to
// libtorch and OpenBLAS, and respects OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (native/threads.h).
process.env.OMP_WAIT_POLICY ??= 'PASSIVE';

function load(): Binding {
  const require = createRequire(import.meta.url);
  try {
    const override = process.env.TORCH_CROSSENCODER_BINARY;
    return (override ? require(override) : require('bindings')('torch_crossencoder')) as Binding;
  } catch (error) {
    throw new CrossEncoderError(
      'torch-crossencoder: the native addon could not be loaded. It is built by `npm install` ' +
        '(scripts/install.mjs); run `npm rebuild torch-crossencoder` and read its output. ' +
        `Cause: ${(error as Error).message}`,
      'ERR_NATIVE_ADDON',
      { cause: error },
    );
  }
}

let binding: Binding | undefined;

/** The addon, loaded on first use (loading libtorch costs ~0.5 s). */
export function native(): Binding {
  if (!binding) {
    binding = load();
    // Exiting while a worker thread is inside libtorch crashes or hangs the process:
    // cancel and await native work first.
    process.on('exit', () => binding?.shutdown());
  }
  return binding;
}

/** Calls into the addon and converts its errors into the typed errors of lib/errors.ts. */
export async function callNative<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw fromNativeError(error);
  }
}

/** Synchronous variant of {@link callNative}. */
export function callNativeSync<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw fromNativeError(error);
  }
}
