/**
 * The native addon, wrapped once: every method of the classes here maps the addon's errors to
 * the typed errors of errors.ts, and the addon's own objects stay private to this module (as
 * better-sqlite3 keeps its C++ handles). Everything in lib/ that talks to libtorch goes through
 * here. All tensor work runs on the addon's compute thread; the methods return Promises.
 * @internal
 */
import { createRequire } from 'node:module';

import { CrossEncoderError, fromNativeError } from './errors.js';

/**
 * The config a native model is built from: `model_type` and the config.json fields its family
 * reads (snake_case, as in the file), every one set by lib/model/families/.
 */
export type NativeModelConfig = { model_type: string } & Record<string, number | string | boolean>;

/** A padded batch of token ids, row-major `[batchSize, seqLength]` (what the tokenizer's collate returns). */
export interface NativeBatch {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  batchSize: number;
  seqLength: number;
}

/** A batch with one label per pair, as the native trainer takes it. */
export interface NativeLabelledBatch extends NativeBatch {
  labels: Float32Array;
  /** Which of the trainer's losses takes this batch (multi-dataset training). Default 0. */
  lossIndex?: number;
}

/**
 * Pairs of different lengths back to back (pair i is `offsets[i]..offsets[i + 1]`), for a loss
 * that picks its own pairs from them (MNRL's drawn negatives).
 */
export interface NativeRaggedPairs {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  offsets: Int32Array;
}

/**
 * A micro-batch in a loss's layout (native/training/labelled_batch.h): token chunks forwarded in
 * order, the labels, and what the loss family needs (documents per query, candidate pairs).
 */
export interface NativeLossBatch {
  chunks: NativeBatch[];
  /** Rows of the dataset in the batch (queries). */
  rows: number;
  labels?: Float32Array;
  labelColumns?: number;
  groupSizes?: Int32Array;
  candidates?: NativeRaggedPairs;
  columns?: number;
  padTokenId?: number;
  /** Which of the trainer's losses takes this batch (multi-dataset training). Default 0. */
  lossIndex?: number;
}

/** The loss of a native trainer: its native name and options (numbers, booleans, strings; null = None). */
export interface NativeLossOptions {
  loss: string;
  lossOptions: Record<string, number | boolean | string | null>;
}

/** Which tensors a weights file lacked and which it had in excess. */
export interface NativeLoadReport {
  missing: string[];
  unexpected: string[];
}

export interface NativeInfo {
  torchVersion: string;
  /** `openblas`, `mkl`, `blis` or `reference` (the slow fallback). */
  blas: string;
  intraOpThreads: number;
  parallelInfo: string;
  /** The OMP_WAIT_POLICY libgomp read when the addon loaded (see withThreadPolicy). */
  ompWaitPolicy: string;
}

export interface NativeTrainerOptions {
  /** One loss per training dataset; a batch's `lossIndex` (default 0) picks its own. */
  losses: NativeLossOptions[];
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

// The addon as it is; only this module sees it.
interface AddonModel {
  loadWeights(path: string, scope: string): Promise<NativeLoadReport>;
  saveWeights(path: string, metadata: Record<string, string>, scope: string): Promise<void>;
  forward(batch: NativeBatch): Promise<Float32Array>;
  initParameters(names: string[]): Promise<void>;
  initWeights(seed: number): Promise<void>;
  quantize(): Promise<void>;
  dispose(): Promise<void>;
}
interface AddonTrainer {
  step(batches: (NativeLabelledBatch | NativeLossBatch)[]): Promise<NativeStepResult>;
  evalLoss(batch: NativeLabelledBatch | NativeLossBatch): Promise<number>;
  drawLoaderSeed(): Promise<void>;
  saveState(dir: string): Promise<void>;
  loadState(dir: string): Promise<void>;
  stepsTaken(): number;
  setProcessGroup(group: AddonProcessGroup | null): void;
}
interface AddonProcessGroup {
  connect(): Promise<void>;
  broadcastModel(model: AddonModel): Promise<void>;
  allReduceMax(values: number[], what: string): Promise<number[]>;
  barrier(what: string): Promise<void>;
  saveRngStates(dir: string): Promise<void>;
  loadRngState(dir: string): Promise<void>;
  close(): Promise<void>;
}
interface Addon {
  Model: new (config: NativeModelConfig) => AddonModel;
  Trainer: new (model: AddonModel, options: NativeTrainerOptions) => AddonTrainer;
  ProcessGroup: new (options: NativeProcessGroupOptions) => AddonProcessGroup;
  randperm(n: number | number[], seed: number): Promise<Float64Array>;
  probeLoss(options: NativeLossOptions, numLabels: number, logits: Float32Array, batch: NativeLossBatch): Promise<{ loss: number; gradient: Float32Array }>;
  info(): Omit<NativeInfo, 'ompWaitPolicy'>;
  shutdown(): boolean;
}

let addon: Addon | undefined;
let waitPolicyAtLoad = 'PASSIVE';

/**
 * Runs `work` with `OMP_WAIT_POLICY=PASSIVE` in the environment unless the user set it, then
 * restores the environment. libgomp spin-waits between parallel regions by default, which costs
 * 2-3x on small machines, and reads this variable once, when it loads with libtorch (during the
 * addon's require): after that the variable is no longer needed, and the host's process.env
 * (which child processes inherit) stays as it was.
 */
function withThreadPolicy<T>(work: () => T): T {
  if (process.env.OMP_WAIT_POLICY !== undefined) {
    waitPolicyAtLoad = process.env.OMP_WAIT_POLICY;
    return work();
  }
  process.env.OMP_WAIT_POLICY = 'PASSIVE';
  try {
    return work();
  } finally {
    delete process.env.OMP_WAIT_POLICY;
  }
}

/** The addon, loaded on first use (loading libtorch costs ~0.5 s). */
function load(): Addon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  try {
    const override = process.env.TORCH_CROSSENCODER_BINARY;
    addon = withThreadPolicy(() => (override ? require(override) : require('bindings')('torch_crossencoder')) as Addon);
  } catch (error) {
    throw new CrossEncoderError(
      'torch-crossencoder: the native addon could not be loaded. It is built by `npm install` ' +
        '(scripts/install.mjs); run `npm rebuild torch-crossencoder` and read its output. ' +
        `Cause: ${(error as Error).message}`,
      'ERR_NATIVE_ADDON',
      { cause: error },
    );
  }
  // Exiting while native work runs crashes or hangs the process: cancel and await it first.
  process.on('exit', () => addon?.shutdown());
  return addon;
}

function mapped<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw fromNativeError(error);
  }
}

async function mappedAsync<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw fromNativeError(error);
  }
}

/** Called with the shape of every batch handed to the addon (see {@link observeNativeBatches}). */
export type NativeBatchObserver = (kind: 'forward' | 'step', batchSize: number, seqLength: number) => void;
let batchObserver: NativeBatchObserver | undefined;

/**
 * Reports the padded shape of every forward and training batch from now on (undefined stops):
 * the benchmarks count the FLOPs of the work the library actually asked for with it.
 */
export function observeNativeBatches(observer: NativeBatchObserver | undefined): void {
  batchObserver = observer;
}

let addonModelOf: (model: NativeModel) => AddonModel;

/** A cross-encoder of one of the model families in libtorch: its weights and forward pass. */
export class NativeModel {
  readonly #model: AddonModel;

  static {
    addonModelOf = (model) => model.#model;
  }

  /** A model with the config's shapes and untrained weights. */
  constructor(config: NativeModelConfig) {
    this.#model = mapped(() => new (load().Model)(config));
  }

  /**
   * Copies the tensors of a `.safetensors` or `pytorch_model.bin` file in by state-dict name.
   * With a `scope` (`'2.'`: a modular model's module "2"), the file's names are those of the
   * parameters under it, without it, and `missing` counts only those.
   */
  loadWeights(file: string, scope = ''): Promise<NativeLoadReport> {
    return mappedAsync(() => this.#model.loadWeights(file, scope));
  }

  /** Writes every parameter (or those under `scope`, named without it) to a `.safetensors` file with `metadata` as its `__metadata__`. */
  saveWeights(file: string, metadata: Record<string, string>, scope = ''): Promise<void> {
    return mappedAsync(() => this.#model.saveWeights(file, metadata, scope));
  }

  /** Logits, row-major `[batchSize, numLabels]`. */
  forward(batch: NativeBatch): Promise<Float32Array> {
    batchObserver?.('forward', batch.batchSize, batch.seqLength);
    return mappedAsync(() => this.#model.forward(batch));
  }

  /**
   * Draws the named parameters afresh, as Hugging Face's `_init_weights` does for the ones a
   * checkpoint lacks (only those: a loaded `classifier.weight` survives a missing bias).
   */
  initParameters(names: readonly string[]): Promise<void> {
    return mappedAsync(() => this.#model.initParameters([...names]));
  }

  /** The family's `_init_weights` for every parameter, drawn from `seed`. */
  initWeights(seed: number): Promise<void> {
    return mappedAsync(() => this.#model.initWeights(seed));
  }

  /**
   * Packs every Linear layer's current weights as dynamic int8 (native/models/quantize.h);
   * forward runs them from then on, as `torch.quantization.quantize_dynamic` would. Inference only.
   */
  quantize(): Promise<void> {
    return mappedAsync(() => this.#model.quantize());
  }

  /**
   * Frees the weights (and the optimiser state of trainers over this model) on the compute
   * thread, after the work queued before; every later call rejects with a DisposedError.
   */
  dispose(): Promise<void> {
    return mappedAsync(() => this.#model.dispose());
  }
}

/** The optimiser state of a training run over a {@link NativeModel}: loss, AdamW, schedule, RNG. */
export class NativeTrainer {
  readonly #trainer: AddonTrainer;

  constructor(model: NativeModel, options: NativeTrainerOptions) {
    this.#trainer = mapped(() => new (load().Trainer)(addonModelOf(model), options));
  }

  /** One optimiser step over the micro-batches (gradient accumulation). */
  step(batches: (NativeLabelledBatch | NativeLossBatch)[]): Promise<NativeStepResult> {
    for (const batch of batches) {
      for (const chunk of 'chunks' in batch ? batch.chunks : [batch]) batchObserver?.('step', chunk.batchSize, chunk.seqLength);
    }
    return mappedAsync(() => this.#trainer.step(batches));
  }

  /** The loss of one batch, without gradients. */
  evalLoss(batch: NativeLabelledBatch | NativeLossBatch): Promise<number> {
    return mappedAsync(() => this.#trainer.evalLoss(batch));
  }

  /** The draw torch's DataLoader makes from the global generator each time it is iterated. */
  drawLoaderSeed(): Promise<void> {
    return mappedAsync(() => this.#trainer.drawLoaderSeed());
  }

  /** Writes optimizer.safetensors and rng_state.safetensors into `dir`. */
  saveState(dir: string): Promise<void> {
    return mappedAsync(() => this.#trainer.saveState(dir));
  }

  loadState(dir: string): Promise<void> {
    return mappedAsync(() => this.#trainer.loadState(dir));
  }

  stepsTaken(): number {
    return mapped(() => this.#trainer.stepsTaken());
  }

  /** Later steps average their gradients over the group's ranks (null: this process alone). */
  setProcessGroup(group: NativeProcessGroup | null): void {
    mapped(() => this.#trainer.setProcessGroup(group === null ? null : addonGroupOf(group)));
  }
}

/** Where and how a process joins a data-parallel group (torchrun's environment variables). */
export interface NativeProcessGroupOptions {
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  /** Rendezvous and every collective wait at most this long for the other ranks. */
  timeoutMs: number;
  /** The network interface gloo binds (GLOO_SOCKET_IFNAME); default: the hostname's address. */
  interface?: string;
}

let addonGroupOf: (group: NativeProcessGroup) => AddonProcessGroup;

/** libtorch's c10d ProcessGroupGloo over a TCPStore rendezvous (native/distributed). */
export class NativeProcessGroup {
  readonly #group: AddonProcessGroup;

  static {
    addonGroupOf = (group) => group.#group;
  }

  constructor(options: NativeProcessGroupOptions) {
    this.#group = mapped(() => new (load().ProcessGroup)(options));
  }

  /** The rendezvous: resolves once every rank has joined. */
  connect(): Promise<void> {
    return mappedAsync(() => this.#group.connect());
  }

  /** Copies rank 0's weights into `model` on every rank. */
  broadcastModel(model: NativeModel): Promise<void> {
    return mappedAsync(() => this.#group.broadcastModel(addonModelOf(model)));
  }

  /** The element-wise largest of `values` over the ranks; `what` names it in errors. */
  allReduceMax(values: number[], what: string): Promise<number[]> {
    return mappedAsync(() => this.#group.allReduceMax(values, what));
  }

  barrier(what: string): Promise<void> {
    return mappedAsync(() => this.#group.barrier(what));
  }

  /** Collective: every rank's RNG state; rank 0 writes those of ranks >= 1 into `dir` (others pass ''). */
  saveRngStates(dir: string): Promise<void> {
    return mappedAsync(() => this.#group.saveRngStates(dir));
  }

  /** Ranks >= 1 restore their RNG state from `dir`/rng_state_<rank>.safetensors. */
  loadRngState(dir: string): Promise<void> {
    return mappedAsync(() => this.#group.loadRngState(dir));
  }

  /** Closes the connections: the other ranks' collectives fail at once instead of waiting. */
  close(): Promise<void> {
    return mappedAsync(() => this.#group.close());
  }
}

/** `torch.randperm(n, generator=torch.Generator().manual_seed(seed))`. */
export function randperm(n: number, seed: number): Promise<Float64Array> {
  return mappedAsync(() => load().randperm(n, seed));
}

/** `torch.randperm(n, generator)` for each n in turn from one `torch.Generator().manual_seed(seed)`. */
export async function randperms(sizes: readonly number[], seed: number): Promise<Float64Array[]> {
  const all = await mappedAsync(() => load().randperm([...sizes], seed));
  let start = 0;
  return sizes.map((n) => all.subarray(start, (start += n)));
}

/**
 * A loss on given logits `[rows, numLabels]` instead of a model's (the loss parity tests): each
 * pair of `batch` carries, as its first token id, the row of `logits` standing for it.
 */
export function probeLoss(
  options: NativeLossOptions,
  numLabels: number,
  logits: Float32Array,
  batch: NativeLossBatch,
): Promise<{ loss: number; gradient: Float32Array }> {
  return mappedAsync(() => load().probeLoss(options, numLabels, logits, batch));
}

/** libtorch's version, BLAS and threads. */
export function nativeInfo(): NativeInfo {
  return { ...mapped(() => load().info()), ompWaitPolicy: waitPolicyAtLoad };
}
