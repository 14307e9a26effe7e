/**
 * The options of {@link createRerankServer}: what to serve and the service's limits, named as
 * text-embeddings-inference names its flags (in camelCase), with their defaults and checks.
 */
import type { FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';

import { InvalidArgumentError } from '../errors.js';
import { CrossEncoder, type CrossEncoderOptions } from '../model/cross-encoder.js';
import { checkOptionNames, optionNames } from '../option-names.js';

/** Options of {@link createRerankServer}. Give `model` or `modelPath`. */
export interface RerankServerOptions {
  /** A loaded model to serve. */
  model?: CrossEncoder;
  /**
   * A model directory or hub id to load in the background: the server answers `/health` with 503
   * until it is loaded (see `modelReady()`).
   */
  modelPath?: string;
  /** How `modelPath` (and `/admin/reload`) loads models: `revision`, `cacheDir`, `localFilesOnly`, `token`… */
  modelOptions?: CrossEncoderOptions;
  /** The name `/info` reports. Default: `modelPath`, else the model's hub id or directory. */
  modelId?: string;
  /** When set, every route but `/health` needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /**
   * Padded tokens (pairs × longest pair) per forward pass. Default 1024: forwards whose
   * activations stay in the CPU caches are the fastest per token (BENCHMARKS.md). A pair longer
   * than this runs alone.
   */
  maxBatchTokens?: number;
  /** Pairs per forward pass at most. Default 32 (predict's `batchSize`). */
  batchSize?: number;
  /** Documents (or pairs) one request may send; more is a 413. Default 1000. */
  maxClientBatchSize?: number;
  /** Scoring requests in flight at once; one more is a 429. Default 512 (TEI's). */
  maxConcurrentRequests?: number;
  /** Tokens per pair at most (never more than the model's `maxLength`). Default: the model's. */
  maxInputLength?: number;
  /** Largest request body in bytes; larger is a 413. Default 4 MiB. */
  payloadLimit?: number;
  /** Enables `POST /admin/reload` (needs `apiKey`). Default false. */
  adminReload?: boolean;
  /** Fastify's `logger` option (a pino configuration, or false). Default false. */
  logger?: FastifyServerOptions['logger'];
  /** The Prometheus registry `/metrics` serves. Default: a new one per server. */
  registry?: Registry;
  /** Also export Node's process metrics (RSS, event loop lag, GC), as prom-client collects them. Default true. */
  collectDefaultMetrics?: boolean;
}

/** The limits as the server applies them. */
export interface ServingLimits {
  maxBatchTokens: number;
  batchSize: number;
  maxClientBatchSize: number;
  maxConcurrentRequests: number;
  /** Undefined: each model's own `maxLength`. */
  maxInputLength: number | undefined;
  payloadLimit: number;
}

/** The limits a server gets when not told otherwise. */
export const DEFAULT_LIMITS: Readonly<Omit<ServingLimits, 'maxInputLength'>> = {
  maxBatchTokens: 1024,
  batchSize: 32,
  maxClientBatchSize: 1000,
  maxConcurrentRequests: 512,
  payloadLimit: 4 * 1024 * 1024,
};

const OPTION_NAMES = optionNames<RerankServerOptions>({
  model: true,
  modelPath: true,
  modelOptions: true,
  modelId: true,
  apiKey: true,
  maxBatchTokens: true,
  batchSize: true,
  maxClientBatchSize: true,
  maxConcurrentRequests: true,
  maxInputLength: true,
  payloadLimit: true,
  adminReload: true,
  logger: true,
  registry: true,
  collectDefaultMetrics: true,
});

function positiveInteger(options: RerankServerOptions, name: keyof ServingLimits, minimum = 1): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < minimum) {
    throw new InvalidArgumentError(`createRerankServer(): ${name} must be an integer ≥ ${minimum}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/**
 * Checks the options and fills the defaults.
 * @throws InvalidArgumentError naming the option: an unknown name, neither or both of `model` and
 *   `modelPath`, a limit that is not a positive integer, `adminReload` without `apiKey`.
 */
export function resolveServerOptions(options: RerankServerOptions): ServingLimits {
  if (options === undefined) throw new InvalidArgumentError('createRerankServer(options): options must be an object');
  checkOptionNames('createRerankServer()', options, OPTION_NAMES);
  if ((options.model === undefined) === (options.modelPath === undefined)) {
    throw new InvalidArgumentError('createRerankServer(): give exactly one of model (a CrossEncoder) and modelPath (a directory or hub id)');
  }
  if (options.model !== undefined && !(options.model instanceof CrossEncoder)) {
    throw new InvalidArgumentError('createRerankServer(): model must be a CrossEncoder (CrossEncoder.fromPretrained)');
  }
  if (options.modelPath !== undefined && (typeof options.modelPath !== 'string' || options.modelPath === '')) {
    throw new InvalidArgumentError('createRerankServer(): modelPath must be a non-empty string');
  }
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) {
    throw new InvalidArgumentError('createRerankServer(): apiKey must be a non-empty string');
  }
  if (options.adminReload === true && options.apiKey === undefined) {
    throw new InvalidArgumentError('createRerankServer(): adminReload needs an apiKey, so that only its holder can replace the model');
  }
  return {
    maxBatchTokens: positiveInteger(options, 'maxBatchTokens') ?? DEFAULT_LIMITS.maxBatchTokens,
    batchSize: positiveInteger(options, 'batchSize') ?? DEFAULT_LIMITS.batchSize,
    maxClientBatchSize: positiveInteger(options, 'maxClientBatchSize') ?? DEFAULT_LIMITS.maxClientBatchSize,
    maxConcurrentRequests: positiveInteger(options, 'maxConcurrentRequests') ?? DEFAULT_LIMITS.maxConcurrentRequests,
    maxInputLength: positiveInteger(options, 'maxInputLength', 3),
    payloadLimit: positiveInteger(options, 'payloadLimit') ?? DEFAULT_LIMITS.payloadLimit,
  };
}
