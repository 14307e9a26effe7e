/**
 * CrossEncoder: a BERT sequence classifier that reads a query and a document together and
 * scores their relevance, with Sentence Transformers' API and PyTorch's numbers.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';

import { checkSignal, throwIfAborted } from '../abort.js';
import { recoverInterruptedSave } from '../atomic-file.js';
import { DisposedError, InvalidArgumentError, ModelFormatError } from '../errors.js';
import { type HubOptions, resolveModelDirectory } from '../hub/index.js';
import { MODEL_FILE, WEIGHT_FILES } from '../model-files.js';
import { NativeModel, type NativeLoadReport, type NativeModelConfig } from '../native.js';
import { checkOptionNames, optionNames } from '../option-names.js';
import { createProgress } from '../progress.js';
import { CrossEncoderTokenizer, type PairEncoding } from '../tokenizer/tokenizer.js';

import { type Activation, ACTIVATIONS, activationFromClassPath, applyActivation } from './activation.js';
import {
  type ConfigJson,
  readConfigJson,
  resolveActivation,
  resolveNumLabels,
} from './config.js';
import { type ModelFamily, modelFamily } from './families/index.js';
import { checkTensorNames } from './load-report.js';
import { checkLongDocumentOptions, encodeWindowedPairs, type LongDocumentOptions, maxOverWindows } from './long-documents.js';
import { readLoadedCard, type LoadedCard } from './model-card-origin.js';
import type { ModelCardData } from './model-card.js';
import { checkModelSize, resolveMaxModelBytes } from './model-size.js';
import {
  loadModularWeights,
  type ModularLayout,
  modularNativeConfig,
  modularNumLabels,
  modularParameterCount,
  readModularLayout,
} from './modular.js';
import { checkNoNul, checkPairs, type Pair } from './pairs.js';
import { scoreStream } from './predict-stream.js';
import { savePretrained, SAVE_PRETRAINED_OPTION_NAMES, type SavePretrainedOptions } from './save-pretrained.js';
import { type Score, type Scores, toScores } from './scores.js';
import { TimeSlice } from './time-slice.js';
import { WeightsLock } from './weights-lock.js';

export type { Pair } from './pairs.js';

/** The model `fromPretrained()` loads when given no name. */
export const DEFAULT_MODEL = 'cross-encoder/ms-marco-MiniLM-L6-v2';

/**
 * Options of {@link CrossEncoder.fromPretrained}. `NumLabels` is the type of `numLabels`: a
 * literal (`{ numLabels: 1 }`) types the model's `predict` results (see {@link Scores}).
 */
export interface CrossEncoderOptions<NumLabels extends number = number> extends HubOptions {
  /**
   * Number of output labels. Default: from config.json (1 for a base encoder without a head).
   * A checkpoint whose head has another size fails to load.
   */
  numLabels?: NumLabels;
  /** Maximum tokens per pair. Default: min(tokenizer `model_max_length`, `max_position_embeddings`). */
  maxLength?: number;
  /** Activation applied to logits by `predict`. Default: what the model's config stores, else sigmoid for one label, identity otherwise. */
  activation?: Activation;
  /**
   * The largest model (float32 weight bytes) a config.json may ask for; a larger one is refused
   * before anything is allocated. Default 8 GiB.
   */
  maxModelBytes?: number;
  /**
   * The arithmetic of inference. `'float32'` (the default): PyTorch's float32 numbers.
   * `'int8'`: after the float32 weights are loaded, every Linear layer (attention query, key,
   * value and output, the feed-forward layers, the pooler and the classifier head: every
   * `nn.Linear`, as PyTorch's `torch.quantization.quantize_dynamic(model, {nn.Linear},
   * dtype=torch.qint8)` converts them) runs as a dynamically quantised int8 layer on libtorch's
   * oneDNN engine: weights qint8 per tensor, symmetric, quantised once at load; each layer's
   * input quantised to quint8 over its range in that batch, so a pair's score depends slightly on
   * the other pairs of its batch. Embeddings, LayerNorms and attention stay float32. The logits
   * are those of `quantize_dynamic` on the oneDNN engine in PyTorch (test/int8.test.ts).
   * An int8 model is for inference only: training it or `savePretrained()` throws an
   * {@link InvalidArgumentError} (load the float32 model for those).
   */
  dtype?: ModelDtype;
}

/** The arithmetic of a model's inference: see {@link CrossEncoderOptions.dtype}. */
export type ModelDtype = 'float32' | 'int8';

/** The values {@link CrossEncoderOptions.dtype} takes. */
export const MODEL_DTYPES: readonly ModelDtype[] = ['float32', 'int8'];

/** Options of {@link CrossEncoder.predict}. */
export interface PredictOptions {
  /** Pairs per forward pass. Default 32. */
  batchSize?: number;
  /** Overrides the model's activation for this call. */
  activation?: Activation;
  /** Shows a progress bar (TTY) or periodic log lines. Default false. */
  showProgressBar?: boolean;
  /**
   * Opt-in, one-label models: a document that does not fit next to the query is scored as
   * overlapping windows and gets its best window's score, instead of being truncated
   * (lib/model/long-documents.ts). `{}` uses the defaults (4096 tokens read, stride 128).
   */
  longDocuments?: LongDocumentOptions;
  /** Stops the call between two forward passes; it then rejects with an {@link AbortError}. */
  signal?: AbortSignal;
}

/** Options of {@link CrossEncoder.predictStream}: those of `predict`, and the pairs read ahead. */
export interface PredictStreamOptions extends PredictOptions {
  /** Pairs read and scored together (one `predict` call, length-sorted into batches). Default: 8 × `batchSize` (256). */
  chunkSize?: number;
}

/** Options of {@link CrossEncoder.fromConfig}. */
export interface FromConfigOptions<NumLabels extends number = number>
  extends Omit<CrossEncoderOptions<NumLabels>, keyof HubOptions> {
  /** Seed of the random initialisation. Default 42. */
  seed?: number;
}

/** Options of {@link CrossEncoder.rank}. */
export interface RankOptions extends PredictOptions {
  /** Keep only the best `topK` documents. Default: all. */
  topK?: number;
  /** Include each document's text in the result. Default false. */
  returnDocuments?: boolean;
}

/** One ranked document. */
export interface RankResult {
  /** Index of the document in the input list. */
  corpusId: number;
  score: number;
  /** The document, when `returnDocuments` is set. */
  text?: string;
}

// Padded tokens per native forward. A batch of `batchSize` pairs is run in pieces of about this
// size: activations that fit the CPU caches make the same FLOPs 20-30% faster (BENCHMARKS.md);
// results differ from one large forward only by float rounding (~1e-7).
// An int8 model runs each batch whole: every quantised Linear re-quantises its input per call,
// and the oneDNN int8 kernels pay off on larger products (MiniLM-L6 shape, batch 32: 1.5x the
// float32 pairs/s whole, 1.07x in 1,024-token pieces).
const FORWARD_TOKEN_BUDGET = Number(process.env.TORCH_CROSSENCODER_FORWARD_TOKENS ?? 1024);

const HUB_OPTION_NAMES = optionNames<HubOptions>({
  revision: true,
  cacheDir: true,
  localFilesOnly: true,
  token: true,
  endpoint: true,
  showProgress: true,
});
const MODEL_OPTION_NAMES = optionNames<Omit<CrossEncoderOptions, keyof HubOptions>>({
  numLabels: true,
  maxLength: true,
  activation: true,
  maxModelBytes: true,
  dtype: true,
});
const FROM_PRETRAINED_OPTION_NAMES = [...MODEL_OPTION_NAMES, ...HUB_OPTION_NAMES];
const FROM_CONFIG_OPTION_NAMES = [...MODEL_OPTION_NAMES, 'seed'];
const PREDICT_OPTION_NAMES = optionNames<PredictOptions>({
  batchSize: true,
  activation: true,
  showProgressBar: true,
  longDocuments: true,
  signal: true,
});
const PREDICT_STREAM_OPTION_NAMES = [...PREDICT_OPTION_NAMES, 'chunkSize'];
const RANK_OPTION_NAMES = [...PREDICT_OPTION_NAMES, 'topK', 'returnDocuments'];

let nativeOf: (model: CrossEncoder, what: string) => NativeModel;

/**
 * @internal The native model behind a {@link CrossEncoder}, for this package's trainer; users
 * never hold it (as better-sqlite3 keeps its C++ handles private). `what` names the caller in
 * the error thrown once the model is disposed.
 */
export function nativeModelOf(model: CrossEncoder, what = 'the trainer'): NativeModel {
  return nativeOf(model, what);
}

let weightsLockFor: (model: CrossEncoder) => WeightsLock;

/** @internal The lock a training step takes to change a model's weights (see {@link WeightsLock}). */
export function weightsLockOf(model: CrossEncoder): WeightsLock {
  return weightsLockFor(model);
}

/**
 * A cross-encoder reranker backed by libtorch. Create one with {@link CrossEncoder.fromPretrained};
 * free its native memory with {@link CrossEncoder.dispose} (or `await using`).
 *
 * `NumLabels` is the number of labels as far as TypeScript knows it: `fromPretrained(id, { numLabels: 1 })`
 * gives a `CrossEncoder<1>` whose `predict` resolves to a `Float32Array`; without `numLabels` it
 * is `number` and {@link CrossEncoder.hasOneLabel} narrows it (see {@link Scores}).
 */
export class CrossEncoder<NumLabels extends number = number> {
  /** Where the model's files are. */
  readonly modelPath: string;
  /** The model's config.json, as read. */
  readonly config: ConfigJson;
  readonly numLabels: NumLabels;
  readonly maxLength: number;
  /** The arithmetic of inference, as `fromPretrained`'s `dtype` chose it (see {@link CrossEncoderOptions.dtype}). */
  readonly dtype: ModelDtype;
  /** The activation `predict` applies unless told otherwise. */
  activation: Activation;
  readonly tokenizer: CrossEncoderTokenizer;
  /** The libtorch half: weights and forward pass (see {@link nativeModelOf}). */
  readonly #native: NativeModel;
  /** predict holds it shared for a whole call, a training step exclusively: one weight version per call. */
  readonly #weights = new WeightsLock();
  /** What the model card of the next save describes (base model, training run); the trainer fills it. */
  modelCardData: ModelCardData = {};
  /** The model card the model was loaded with, saved again while it is not trained. */
  readonly #loadedCard: LoadedCard | undefined;
  /** @internal The Sentence Transformers module chain of a modular CrossEncoder (written back on save). */
  readonly modularLayout: ModularLayout | undefined;
  /** Calls still using the native model; dispose() waits for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #disposal: Promise<void> | undefined;

  private constructor(fields: {
    modelPath: string;
    config: ConfigJson;
    numLabels: number;
    maxLength: number;
    dtype: ModelDtype;
    activation: Activation;
    tokenizer: CrossEncoderTokenizer;
    nativeModel: NativeModel;
    loadedCard?: LoadedCard;
    layout?: ModularLayout;
  }) {
    this.modelPath = fields.modelPath;
    this.config = fields.config;
    this.numLabels = fields.numLabels as NumLabels;
    this.#loadedCard = fields.loadedCard;
    this.modularLayout = fields.layout;
    this.maxLength = fields.maxLength;
    this.dtype = fields.dtype;
    this.activation = fields.activation;
    this.tokenizer = fields.tokenizer;
    this.#native = fields.nativeModel;
  }

  static {
    weightsLockFor = (model) => model.#weights;
    nativeOf = (model, what) => {
      model.#checkLive(what);
      // Every caller is the trainer (its NativeTrainer, checkpoint reloads, DDP broadcast).
      if (model.dtype === 'int8') {
        throw new InvalidArgumentError(
          `${what}: an int8 model (fromPretrained's dtype: 'int8') cannot be trained: its Linear layers run on quantised weights, which have no gradient; train the float32 model and load the result with dtype 'int8'`,
        );
      }
      return model.#native;
    };
  }

  /**
   * Loads a model from a local directory or a Hugging Face hub id (resolved in the local
   * Hugging Face cache, downloaded when missing unless offline). A local directory whose save
   * was killed between its two renames is first put back from the copy the save moved aside.
   *
   * @example
   * const model = await CrossEncoder.fromPretrained('cross-encoder/ms-marco-MiniLM-L6-v2', { numLabels: 1 });
   * const scores = await model.predict([['How many people live in Berlin?', 'Berlin has 3.5 million inhabitants.']]);
   */
  static async fromPretrained<N extends number = number>(
    nameOrPath: string = DEFAULT_MODEL,
    options: CrossEncoderOptions<N> = {},
  ): Promise<CrossEncoder<N>> {
    if (typeof nameOrPath !== 'string' || nameOrPath.length === 0) {
      throw new InvalidArgumentError('fromPretrained(nameOrPath): nameOrPath must be a non-empty string');
    }
    checkNoNul(nameOrPath, 'fromPretrained(nameOrPath): nameOrPath');
    checkOptionNames('fromPretrained()', options, FROM_PRETRAINED_OPTION_NAMES);
    // A save killed between its two renames leaves no directory and the old one aside: put it back.
    if (!(await access(nameOrPath).then(() => true, () => false))) await recoverInterruptedSave(nameOrPath);
    const modelPath = await resolveModelDirectory(nameOrPath, options);
    const configFile = path.join(modelPath, MODEL_FILE.config);
    const loadedCard = await readLoadedCard(nameOrPath, modelPath);
    const weightsFile = await findWeightsFile(modelPath);
    const layout = await readModularLayout(modelPath);
    const model = await CrossEncoder.create<N>(modelPath, await readConfigJson(modelPath), configFile, options, { loadedCard, weightsFile, layout });
    const family = modelFamily(model.config, configFile);
    try {
      if (layout) {
        await loadModularWeights(model.#native, modelPath, weightsFile, layout, family);
      } else {
        await checkLoadReport(await model.#native.loadWeights(weightsFile), weightsFile, model.#native, family);
      }
      if (model.dtype === 'int8') await model.#native.quantize();
    } catch (error) {
      await model.#native.dispose(); // the weights that could not be filled are freed now, not at GC
      throw error;
    }
    if (loadedCard.hubId !== undefined) model.modelCardData.baseModel = loadedCard.hubId;
    return model;
  }

  /**
   * A new model with random weights drawn as Hugging Face's `_init_weights` draws them (seeded),
   * from a config.json object and the tokenizer files in `tokenizerPath` — `AutoModel.from_config`.
   * Useful for tests and for training from scratch.
   */
  static async fromConfig<N extends number = number>(
    config: ConfigJson,
    tokenizerPath: string,
    options: FromConfigOptions<N> = {},
  ): Promise<CrossEncoder<N>> {
    checkOptionNames('fromConfig()', options, FROM_CONFIG_OPTION_NAMES);
    const { seed = 42, ...modelOptions } = options;
    if (!Number.isInteger(seed) || seed < 0) throw new InvalidArgumentError(`seed must be an integer ≥ 0, got ${seed}`);
    const model = await CrossEncoder.create<N>(path.resolve(tokenizerPath), config, 'fromConfig(config)', modelOptions);
    await model.#native.initWeights(seed);
    if (model.dtype === 'int8') await model.#native.quantize();
    return model;
  }

  /**
   * Everything but the weights: config, tokenizer, native model. `configFile` names the config in
   * errors; the model's size is checked against `weightsFile` (when loading one) before it is built.
   */
  private static async create<N extends number>(
    modelPath: string,
    config: ConfigJson,
    configFile: string,
    options: Omit<CrossEncoderOptions<N>, keyof HubOptions>,
    files: { loadedCard?: LoadedCard; weightsFile?: string; layout?: ModularLayout } = {},
  ): Promise<CrossEncoder<N>> {
    const { loadedCard, weightsFile, layout } = files;
    if (options.activation !== undefined) checkActivation(options.activation, 'options.activation');
    const dtype = options.dtype ?? 'float32';
    if (!MODEL_DTYPES.includes(dtype)) {
      throw new InvalidArgumentError(`options.dtype must be one of ${MODEL_DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
    }
    const maxModelBytes = resolveMaxModelBytes(options.maxModelBytes);
    const family = modelFamily(config, configFile);
    let numLabels: number;
    let nativeConfig: NativeModelConfig;
    let maxPositions: number;
    if (layout) {
      // The base model's config is config.json's; the number of scores is the last Dense's.
      numLabels = modularNumLabels(layout);
      if (options.numLabels !== undefined && options.numLabels !== numLabels) {
        throw new InvalidArgumentError(`numLabels ${options.numLabels} does not match the ${numLabels} scores the model's last module writes`);
      }
      const trunk = family.nativeConfig(config, 1, configFile);
      nativeConfig = modularNativeConfig(layout, trunk);
      maxPositions = family.maxPositions(trunk);
      await checkModelSize(modularParameterCount(layout, family, trunk), configFile, maxModelBytes, weightsFile);
    } else {
      numLabels = resolveNumLabels(config, options.numLabels);
      nativeConfig = family.nativeConfig(config, numLabels, configFile);
      maxPositions = family.maxPositions(nativeConfig);
      await checkModelSize(family.parameterCount(nativeConfig), configFile, maxModelBytes, weightsFile);
    }
    const tokenizer = await CrossEncoderTokenizer.fromDirectory(modelPath);
    const maxLength = resolveMaxLength(options.maxLength, tokenizer.modelMaxLength, maxPositions);
    const activation = options.activation ?? (await storedActivation(modelPath, config, numLabels, configFile));
    const nativeModel = new NativeModel(nativeConfig);
    return new CrossEncoder<N>({ modelPath, config, numLabels, maxLength, dtype, activation, tokenizer, nativeModel, loadedCard, layout });
  }

  /** Whether the model has one label (relevance scores); narrows `predict`'s result to a `Float32Array`. */
  hasOneLabel(): this is CrossEncoder<1> {
    return this.numLabels === 1;
  }

  /**
   * Scores (query, document) pairs. Resolves to one score per pair for a one-label model, or one
   * `Float32Array` of `numLabels` scores per pair otherwise, in input order. (The result type is
   * read from `this`, not from the class's parameter, which keeps `CrossEncoder<1>` assignable to
   * `CrossEncoder<number>` and lets `hasOneLabel()` narrow.)
   */
  predict<N extends number>(this: CrossEncoder<N>, pairs: readonly Pair[], options: PredictOptions = {}): Promise<Scores<N>> {
    return this.#track('predict()', async () => {
      checkOptionNames('predict()', options, PREDICT_OPTION_NAMES);
      return (await this.#scores(pairs, options)) as Scores<N>;
    });
  }

  async #scores(pairs: readonly Pair[], options: PredictOptions): Promise<Float32Array | Float32Array[]> {
    // All the call's forwards under one read: a training step cannot change the weights between them.
    const logits = await this.#weights.read(() => this.predictLogits(pairs, options));
    applyActivation(logits, this.numLabels, options.activation ?? this.activation);
    return toScores(logits, this.numLabels);
  }

  /**
   * Scores a stream of pairs (an async iterable such as lines of a file, or any iterable), one
   * result per pair in input order: a number for a one-label model, a `Float32Array` of
   * `numLabels` otherwise. Pairs are read `chunkSize` at a time and each chunk is scored as a
   * `predict` call, so memory holds one chunk however long the stream is.
   */
  predictStream<N extends number>(
    this: CrossEncoder<N>,
    pairs: AsyncIterable<Pair> | Iterable<Pair>,
    options: PredictStreamOptions = {},
  ): AsyncGenerator<Score<N>, void, undefined> {
    this.#checkLive('predictStream()');
    checkOptionNames('predictStream()', options, PREDICT_STREAM_OPTION_NAMES);
    return scoreStream(pairs, options, (chunk, chunkOptions: PredictOptions) => this.predict(chunk, chunkOptions)) as AsyncGenerator<Score<N>, void, undefined>;
  }

  /**
   * Scores every document against the query and returns them best first.
   * Only for one-label models (relevance scores).
   */
  rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankResult[]> {
    return this.#track('rank()', () => this.#rank(query, documents, options));
  }

  async #rank(query: string, documents: readonly string[], options: RankOptions): Promise<RankResult[]> {
    checkOptionNames('rank()', options, RANK_OPTION_NAMES);
    if (this.numLabels !== 1) {
      throw new InvalidArgumentError(`rank() needs a model with one label (a relevance score); this model has ${this.numLabels}`);
    }
    if (typeof query !== 'string') throw new InvalidArgumentError('rank(query, documents): query must be a string');
    if (!Array.isArray(documents)) throw new InvalidArgumentError('rank(query, documents): documents must be an array of strings');
    for (let i = 0; i < documents.length; i++) {
      if (typeof documents[i] !== 'string') {
        throw new InvalidArgumentError(`rank(query, documents): documents[${i}] must be a string, got ${JSON.stringify(documents[i]) ?? 'nothing (a hole in the array)'}`);
      }
    }
    const { topK, returnDocuments = false, ...predictOptions } = options;
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) {
      throw new InvalidArgumentError(`rank(): topK must be a positive integer, got ${topK}`);
    }
    const scores = (await this.#scores(
      documents.map((document) => [query, document] as const),
      predictOptions,
    )) as Float32Array;
    const results: RankResult[] = Array.from(scores, (score, corpusId) =>
      returnDocuments ? { corpusId, score, text: documents[corpusId] } : { corpusId, score },
    );
    results.sort((a, b) => b.score - a.score || a.corpusId - b.corpusId);
    return topK === undefined ? results : results.slice(0, topK);
  }

  /** Raw logits, row-major [pairs.length, numLabels], in input order. */
  private async predictLogits(pairs: readonly Pair[], options: PredictOptions): Promise<Float32Array> {
    checkPairs(pairs);
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new InvalidArgumentError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    if (options.activation !== undefined) checkActivation(options.activation, 'options.activation');
    const signal = checkSignal(options.signal, 'options.signal');

    const windowed =
      options.longDocuments === undefined
        ? undefined
        : await encodeWindowedPairs(this, pairs, checkLongDocumentOptions(options.longDocuments, this.numLabels, 'options.longDocuments'), signal);
    const encodings = windowed?.encodings ?? (await this.encodePairs(pairs, signal));
    // Longest first, so batches hold similar lengths and pad little (and memory peaks early).
    const order = encodings.map((_, i) => i).sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length);
    const logits = new Float32Array(encodings.length * this.numLabels);
    const progress = createProgress({ total: encodings.length, label: 'Predicting', unit: 'pairs', enabled: options.showProgressBar === true });
    let scored = 0;
    for (let start = 0; start < order.length; start += batchSize) {
      for (const indices of splitByTokens(order.slice(start, start + batchSize), encodings, this.dtype === 'int8' ? Infinity : FORWARD_TOKEN_BUDGET)) {
        throwIfAborted(signal, () => `predict() of ${encodings.length} pairs, after ${scored}`);
        const batchLogits = await this.#native.forward(this.tokenizer.collate(indices.map((i) => encodings[i])));
        scored += indices.length;
        indices.forEach((pairIndex, row) =>
          logits.set(batchLogits.subarray(row * this.numLabels, (row + 1) * this.numLabels), pairIndex * this.numLabels),
        );
        progress.tick(indices.length);
      }
    }
    progress.finish();
    return windowed ? maxOverWindows(logits, windowed.owners, pairs.length) : logits;
  }

  /**
   * Saves the model as a Hugging Face / Sentence Transformers directory that Python's
   * `CrossEncoder(dir)` loads and scores identically. Written to a temporary directory and
   * renamed into place.
   */
  savePretrained(dir: string, options: SavePretrainedOptions = {}): Promise<void> {
    return this.#track('savePretrained()', async () => {
      checkOptionNames('savePretrained()', options, SAVE_PRETRAINED_OPTION_NAMES);
      if (this.dtype === 'int8') {
        throw new InvalidArgumentError(
          "savePretrained(): an int8 model (fromPretrained's dtype: 'int8') is not saved: its quantised weights exist only in memory; save from the float32 model, and load that with dtype 'int8'",
        );
      }
      await savePretrained(this, this.#native, dir, options, this.#loadedCard);
    });
  }

  /**
   * Frees the model's native memory (weights, and the optimiser state of trainers over it) once
   * the calls already running have finished; later calls reject with a {@link DisposedError}.
   * Calling it again returns the same Promise. `await using model = await CrossEncoder.fromPretrained(…)`
   * disposes at the end of the block.
   */
  dispose(): Promise<void> {
    this.#disposal ??= (async () => {
      await Promise.allSettled(this.#inFlight);
      await this.#native.dispose();
    })();
    return this.#disposal;
  }

  /** {@link CrossEncoder.dispose}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /** Throws a DisposedError naming `what` once dispose() was called. */
  #checkLive(what: string): void {
    if (this.#disposal) throw new DisposedError(`${what}: the model was disposed (dispose() frees its native memory)`);
  }

  /** Runs `work` as a call dispose() waits for; rejects at once when the model is disposed. */
  #track<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      this.#checkLive(what);
    } catch (error) {
      return Promise.reject(error);
    }
    const running = work();
    this.#inFlight.add(running);
    const done = () => this.#inFlight.delete(running);
    running.then(done, done);
    return running;
  }

  /**
   * Tokenises all pairs (the length sort needs every length), yielding to the event loop every
   * few milliseconds (lib/model/time-slice.ts), so a large input does not stall the process.
   */
  private async encodePairs(pairs: readonly Pair[], signal: AbortSignal | undefined): Promise<PairEncoding[]> {
    const encodings: PairEncoding[] = [];
    const slice = new TimeSlice();
    throwIfAborted(signal, () => `predict() of ${pairs.length} pairs, while tokenising`);
    for (const [query, document] of pairs) {
      if (slice.due()) {
        await slice.yieldNow();
        throwIfAborted(signal, () => `predict() of ${pairs.length} pairs, while tokenising`);
      }
      encodings.push(this.tokenizer.encodePair(query, document, this.maxLength));
    }
    return encodings;
  }

  /**
   * @internal One padded batch through the native model: logits, row-major
   * `[encodings.length, numLabels]`, in the order given. The seam under `predict` and the
   * service's batcher (lib/serving/batcher.ts), which form their own batches.
   */
  forward(encodings: readonly PairEncoding[]): Promise<Float32Array> {
    return this.#track('forward()', () => this.#weights.read(() => this.#native.forward(this.tokenizer.collate(encodings))));
  }
}

/**
 * Scores the pairs with a model, or with the model at a path or hub id, which is loaded (with
 * the {@link CrossEncoderOptions} among `options`) and disposed afterwards.
 */
export async function predict<N extends number>(model: CrossEncoder<N>, pairs: readonly Pair[], options?: PredictOptions): Promise<Scores<N>>;
export async function predict<N extends number = number>(
  nameOrPath: string,
  pairs: readonly Pair[],
  options?: PredictOptions & CrossEncoderOptions<N>,
): Promise<Scores<N>>;
export async function predict(
  modelOrPath: CrossEncoder | string,
  pairs: readonly Pair[],
  options: PredictOptions & CrossEncoderOptions = {},
): Promise<Float32Array | Float32Array[]> {
  if (typeof modelOrPath !== 'string') return modelOrPath.predict(pairs, options);
  checkOptionNames('predict()', options, [...PREDICT_OPTION_NAMES, ...FROM_PRETRAINED_OPTION_NAMES]);
  const predictOptions: Record<string, unknown> = {};
  const modelOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    // activation belongs to both: the model's default, and this call's.
    if (PREDICT_OPTION_NAMES.includes(key)) predictOptions[key] = value;
    if (FROM_PRETRAINED_OPTION_NAMES.includes(key)) modelOptions[key] = value;
  }
  const model = await CrossEncoder.fromPretrained(modelOrPath, modelOptions);
  try {
    return await model.predict(pairs, predictOptions);
  } finally {
    await model.dispose();
  }
}

/** Cuts length-sorted (longest first) pair indices into runs of at most `budget` padded tokens. */
function splitByTokens(indices: readonly number[], encodings: readonly PairEncoding[], budget: number): number[][] {
  const pieces: number[][] = [];
  let piece: number[] = [];
  let longest = 0;
  for (const index of indices) {
    const length = encodings[index].inputIds.length;
    const padded = Math.max(longest, length) * (piece.length + 1);
    if (piece.length > 0 && padded > budget) {
      pieces.push(piece);
      piece = [];
      longest = 0;
    }
    piece.push(index);
    longest = Math.max(longest, length);
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

function checkActivation(activation: unknown, where: string): void {
  if (!ACTIVATIONS.includes(activation as Activation)) {
    throw new InvalidArgumentError(`${where} must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(activation)}`);
  }
}

function resolveMaxLength(requested: number | undefined, modelMaxLength: number | undefined, maxPositions: number): number {
  if (requested === undefined) return Math.min(modelMaxLength ?? maxPositions, maxPositions);
  if (!Number.isInteger(requested) || requested < 3) {
    throw new InvalidArgumentError(`maxLength must be an integer ≥ 3 ([CLS] and two [SEP]), got ${requested}`);
  }
  if (requested > maxPositions) {
    throw new InvalidArgumentError(
      `maxLength ${requested} is larger than the model's max_position_embeddings (${maxPositions})`,
    );
  }
  return requested;
}

/**
 * The activation the model was saved with: Sentence Transformers ≥ 5.4 reads it from
 * config_sentence_transformers.json, older versions from config.json (see resolveActivation).
 */
async function storedActivation(dir: string, config: ConfigJson, numLabels: number, configFile: string): Promise<Activation> {
  const file = path.join(dir, MODEL_FILE.stConfig);
  const stConfig = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as { activation_fn?: unknown },
    () => undefined,
  );
  if (typeof stConfig?.activation_fn === 'string') return activationFromClassPath(stConfig.activation_fn, file);
  return resolveActivation(config, numLabels, configFile);
}

async function findWeightsFile(dir: string): Promise<string> {
  for (const name of WEIGHT_FILES) {
    const file = path.join(dir, name);
    try {
      await access(file);
      return file;
    } catch {
      // try the next format
    }
  }
  throw new ModelFormatError(`${dir} has no weights: looked for ${WEIGHT_FILES.join(', ')}`);
}

async function checkLoadReport(report: NativeLoadReport, file: string, model: NativeModel, family: ModelFamily): Promise<void> {
  const unexpected = report.unexpected.filter((name) => !family.ignoredTensors.some((re) => re.test(name)));
  // A base encoder has no classification head; like Hugging Face we initialise a new one.
  const missing = report.missing.filter((name) => !family.headParameters.includes(name));
  checkTensorNames(file, MODEL_FILE.config, missing, unexpected);
  if (report.missing.length > 0) {
    await model.initParameters(report.missing);
    process.emitWarning(
      `${file} has no classification head (${report.missing.join(', ')}); a new one was initialised and must be trained before its scores mean anything`,
      'CrossEncoderWarning',
    );
  }
}
