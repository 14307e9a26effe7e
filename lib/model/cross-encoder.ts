/**
 * CrossEncoder: a BERT sequence classifier that reads a query and a document together and
 * scores their relevance, with Sentence Transformers' API and PyTorch's numbers.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as setImmediatePromise } from 'node:timers/promises';

import { InvalidArgumentError, ModelFormatError } from '../errors.js';
import { type HubOptions, resolveModelDirectory } from '../hub/index.js';
import { MODEL_FILE, WEIGHT_FILES } from '../model-files.js';
import { NativeModel, type NativeLoadReport } from '../native.js';
import { createProgress } from '../progress.js';
import { CrossEncoderTokenizer, type PairEncoding } from '../tokenizer/tokenizer.js';

import { type Activation, ACTIVATIONS, applyActivation } from './activation.js';
import {
  type ConfigJson,
  readConfigJson,
  resolveActivation,
  resolveNumLabels,
} from './config.js';
import { modelFamily } from './families/index.js';
import type { ModelCardData } from './model-card.js';
import { savePretrained, type SavePretrainedOptions } from './save-pretrained.js';

/** The model `fromPretrained()` loads when given no name. */
export const DEFAULT_MODEL = 'cross-encoder/ms-marco-MiniLM-L6-v2';

/** A (query, document) pair. */
export type Pair = readonly [string, string];

/** Options of {@link CrossEncoder.fromPretrained}. */
export interface CrossEncoderOptions extends HubOptions {
  /** Number of output labels. Default: from config.json (1 for a base encoder without a head). */
  numLabels?: number;
  /** Maximum tokens per pair. Default: min(tokenizer `model_max_length`, `max_position_embeddings`). */
  maxLength?: number;
  /** Activation applied to logits by `predict`. Default: what the model's config stores, else sigmoid for one label, identity otherwise. */
  activation?: Activation;
}

/** Options of {@link CrossEncoder.predict}. */
export interface PredictOptions {
  /** Pairs per forward pass. Default 32. */
  batchSize?: number;
  /** Overrides the model's activation for this call. */
  activation?: Activation;
  /** Shows a progress bar (TTY) or periodic log lines. Default false. */
  showProgressBar?: boolean;
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

// Checkpoint tensors Hugging Face also drops when loading a sequence classifier: the
// position-id buffer older versions saved, and the pre-training heads of base checkpoints.
const IGNORED_UNEXPECTED = [/(^|\.)position_ids$/, /^cls\./];
// A base encoder has no classification head; like Hugging Face we initialise a new one.
const NEWLY_INITIALISED = new Set(['classifier.weight', 'classifier.bias']);
// Padded tokens per native forward. A batch of `batchSize` pairs is run in pieces of about this
// size: activations that fit the CPU caches make the same FLOPs 20-30% faster (BENCHMARKS.md);
// results differ from one large forward only by float rounding (~1e-7).
const FORWARD_TOKEN_BUDGET = Number(process.env.TORCH_CROSSENCODER_FORWARD_TOKENS ?? 1024);
// Pairs tokenised between two yields to the event loop (~10 ms of work for typical passages).
const ENCODE_SLICE = 128;

let nativeOf: (model: CrossEncoder) => NativeModel;

/**
 * @internal The native model behind a {@link CrossEncoder}, for this package's trainer; users
 * never hold it (as better-sqlite3 keeps its C++ handles private).
 */
export function nativeModelOf(model: CrossEncoder): NativeModel {
  return nativeOf(model);
}

/** A cross-encoder reranker backed by libtorch. Create one with {@link CrossEncoder.fromPretrained}. */
export class CrossEncoder {
  /** Where the model's files are. */
  readonly modelPath: string;
  /** The model's config.json, as read. */
  readonly config: ConfigJson;
  readonly numLabels: number;
  readonly maxLength: number;
  /** The activation `predict` applies unless told otherwise. */
  activation: Activation;
  readonly tokenizer: CrossEncoderTokenizer;
  /** The libtorch half: weights and forward pass (see {@link nativeModelOf}). */
  readonly #native: NativeModel;
  /** What the model card of the next save describes (base model, training run); the trainer fills it. */
  modelCardData: ModelCardData = {};

  private constructor(fields: {
    modelPath: string;
    config: ConfigJson;
    numLabels: number;
    maxLength: number;
    activation: Activation;
    tokenizer: CrossEncoderTokenizer;
    nativeModel: NativeModel;
  }) {
    this.modelPath = fields.modelPath;
    this.config = fields.config;
    this.numLabels = fields.numLabels;
    this.maxLength = fields.maxLength;
    this.activation = fields.activation;
    this.tokenizer = fields.tokenizer;
    this.#native = fields.nativeModel;
  }

  static {
    nativeOf = (model) => model.#native;
  }

  /**
   * Loads a model from a local directory or a Hugging Face hub id (resolved in the local
   * Hugging Face cache, downloaded when missing unless offline).
   *
   * @example
   * const model = await CrossEncoder.fromPretrained('cross-encoder/ms-marco-MiniLM-L6-v2');
   * const scores = await model.predict([['How many people live in Berlin?', 'Berlin has 3.5 million inhabitants.']]);
   */
  static async fromPretrained(nameOrPath: string = DEFAULT_MODEL, options: CrossEncoderOptions = {}): Promise<CrossEncoder> {
    if (typeof nameOrPath !== 'string' || nameOrPath.length === 0) {
      throw new InvalidArgumentError('fromPretrained(nameOrPath): nameOrPath must be a non-empty string');
    }
    const modelPath = await resolveModelDirectory(nameOrPath, options);
    const configFile = path.join(modelPath, MODEL_FILE.config);
    const model = await CrossEncoder.create(modelPath, await readConfigJson(modelPath), configFile, options);
    const weightsFile = await findWeightsFile(modelPath);
    const report = await model.#native.loadWeights(weightsFile);
    await checkLoadReport(report, weightsFile, model.#native);
    model.modelCardData.baseModel = nameOrPath;
    return model;
  }

  /**
   * A new model with random weights drawn as Hugging Face's `_init_weights` draws them (seeded),
   * from a config.json object and the tokenizer files in `tokenizerPath` — `AutoModel.from_config`.
   * Useful for tests and for training from scratch.
   */
  static async fromConfig(
    config: ConfigJson,
    tokenizerPath: string,
    options: Omit<CrossEncoderOptions, keyof HubOptions> & { seed?: number } = {},
  ): Promise<CrossEncoder> {
    const { seed = 42, ...modelOptions } = options;
    if (!Number.isInteger(seed) || seed < 0) throw new InvalidArgumentError(`seed must be an integer ≥ 0, got ${seed}`);
    const model = await CrossEncoder.create(path.resolve(tokenizerPath), config, 'fromConfig(config)', modelOptions);
    const padTokenId = typeof config.pad_token_id === 'number' ? config.pad_token_id : 0;
    await model.#native.initWeights(seed, padTokenId);
    return model;
  }

  /** Everything but the weights: config, tokenizer, native model. `configFile` names the config in errors. */
  private static async create(
    modelPath: string,
    config: ConfigJson,
    configFile: string,
    options: Omit<CrossEncoderOptions, keyof HubOptions>,
  ): Promise<CrossEncoder> {
    if (options.activation !== undefined) checkActivation(options.activation, 'options.activation');
    const numLabels = resolveNumLabels(config, options.numLabels);
    const nativeConfig = modelFamily(config, configFile).nativeConfig(config, numLabels, configFile);
    const tokenizer = await CrossEncoderTokenizer.fromDirectory(modelPath);
    const maxLength = resolveMaxLength(options.maxLength, tokenizer.modelMaxLength, nativeConfig.max_position_embeddings);
    const activation = options.activation ?? resolveActivation(config, numLabels, configFile);
    const nativeModel = new NativeModel(nativeConfig);
    return new CrossEncoder({ modelPath, config, numLabels, maxLength, activation, tokenizer, nativeModel });
  }

  /**
   * Scores (query, document) pairs. Returns one score per pair for a one-label model, or one
   * `Float32Array` of `numLabels` scores per pair otherwise, in input order.
   */
  async predict(pairs: readonly Pair[], options: PredictOptions = {}): Promise<Float32Array | Float32Array[]> {
    const logits = await this.predictLogits(pairs, options);
    const activation = options.activation ?? this.activation;
    applyActivation(logits, this.numLabels, activation);
    if (this.numLabels === 1) return logits;
    return Array.from({ length: pairs.length }, (_, i) => logits.slice(i * this.numLabels, (i + 1) * this.numLabels));
  }

  /**
   * Scores every document against the query and returns them best first.
   * Only for one-label models (relevance scores).
   */
  async rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankResult[]> {
    if (this.numLabels !== 1) {
      throw new InvalidArgumentError(`rank() needs a model with one label (a relevance score); this model has ${this.numLabels}`);
    }
    if (typeof query !== 'string') throw new InvalidArgumentError('rank(query, documents): query must be a string');
    if (!Array.isArray(documents)) throw new InvalidArgumentError('rank(query, documents): documents must be an array of strings');
    const { topK, returnDocuments = false, ...predictOptions } = options;
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) {
      throw new InvalidArgumentError(`rank(): topK must be a positive integer, got ${topK}`);
    }
    const scores = (await this.predict(
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

    const encodings = await this.encodePairs(pairs);
    // Longest first, so batches hold similar lengths and pad little (and memory peaks early).
    const order = encodings.map((_, i) => i).sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length);
    const logits = new Float32Array(pairs.length * this.numLabels);
    const progress = createProgress({ total: pairs.length, label: 'Predicting', unit: 'pairs', enabled: options.showProgressBar === true });
    for (let start = 0; start < order.length; start += batchSize) {
      for (const indices of splitByTokens(order.slice(start, start + batchSize), encodings, FORWARD_TOKEN_BUDGET)) {
        const batchLogits = await this.forward(indices.map((i) => encodings[i]));
        indices.forEach((pairIndex, row) =>
          logits.set(batchLogits.subarray(row * this.numLabels, (row + 1) * this.numLabels), pairIndex * this.numLabels),
        );
        progress.tick(indices.length);
      }
    }
    progress.finish();
    return logits;
  }

  /**
   * Saves the model as a Hugging Face / Sentence Transformers directory that Python's
   * `CrossEncoder(dir)` loads and scores identically. Written to a temporary directory and
   * renamed into place.
   */
  async savePretrained(dir: string, options: SavePretrainedOptions = {}): Promise<void> {
    await savePretrained(this, this.#native, dir, options);
  }

  /**
   * Tokenises all pairs (the length sort needs every length), a slice at a time with a yield to
   * the event loop between slices, so a large input does not stall the process.
   */
  private async encodePairs(pairs: readonly Pair[]): Promise<PairEncoding[]> {
    const encodings: PairEncoding[] = [];
    for (let start = 0; start < pairs.length; start += ENCODE_SLICE) {
      if (start > 0) await setImmediatePromise();
      for (const [query, document] of pairs.slice(start, start + ENCODE_SLICE)) {
        encodings.push(this.tokenizer.encodePair(query, document, this.maxLength));
      }
    }
    return encodings;
  }

  /** @internal One padded batch through the native model. */
  forward(encodings: readonly PairEncoding[]): Promise<Float32Array> {
    return this.#native.forward(this.tokenizer.collate(encodings));
  }
}

/** Loads a model (when given a name or path) and scores the pairs with it. */
export async function predict(
  modelOrPath: CrossEncoder | string,
  pairs: readonly Pair[],
  options: PredictOptions & CrossEncoderOptions = {},
): Promise<Float32Array | Float32Array[]> {
  const model = typeof modelOrPath === 'string' ? await CrossEncoder.fromPretrained(modelOrPath, options) : modelOrPath;
  return model.predict(pairs, options);
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

function checkPairs(pairs: readonly Pair[]): void {
  if (!Array.isArray(pairs)) throw new InvalidArgumentError('pairs must be an array of [query, document] pairs');
  pairs.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      const shown = JSON.stringify(pair)?.slice(0, 80);
      throw new InvalidArgumentError(`pairs[${i}] must be a [query, document] pair of two strings, got ${shown}`);
    }
  });
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

async function checkLoadReport(report: NativeLoadReport, file: string, model: NativeModel): Promise<void> {
  const unexpected = report.unexpected.filter((name) => !IGNORED_UNEXPECTED.some((re) => re.test(name)));
  const missing = report.missing.filter((name) => !NEWLY_INITIALISED.has(name));
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`missing tensors: ${missing.join(', ')}`);
    if (unexpected.length > 0) parts.push(`unexpected tensors: ${unexpected.join(', ')}`);
    throw new ModelFormatError(`${file} does not match config.json: ${parts.join('; ')}`);
  }
  if (report.missing.length > 0) {
    await model.initClassifier();
    process.emitWarning(
      `${file} has no classification head (${report.missing.join(', ')}); a new one was initialised and must be trained before its scores mean anything`,
      'CrossEncoderWarning',
    );
  }
}
