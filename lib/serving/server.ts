/**
 * `createRerankServer`: a Fastify instance serving a CrossEncoder over HTTP with the Cohere and
 * text-embeddings-inference APIs, dynamic batching, limits, metrics and hot model reload. It is a
 * plain Fastify instance, so users add authentication schemes, CORS or routes of their own before
 * `listen()`, or mount it in their process.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteShorthandOptions } from 'fastify';
import type { Registry } from 'prom-client';

import { CrossEncoder } from '../model/cross-encoder.js';

import { registerAdminRoutes } from './admin-routes.js';
import { DynamicBatcher } from './batcher.js';
import { registerCohereRoutes } from './cohere.js';
import type { ServingContext } from './context.js';
import { errorReply, HttpError } from './errors.js';
import { ServingMetrics } from './metrics.js';
import { type RerankServerOptions, resolveServerOptions } from './options.js';
import { registerStatusRoutes } from './status-routes.js';
import { registerTeiRoutes } from './tei.js';

/** What {@link createRerankServer} adds to its Fastify instance. */
export interface RerankServerControls {
  /** The model new requests are scored with; undefined while `modelPath` loads. */
  readonly model: CrossEncoder | undefined;
  /** Resolves with the model once it is loaded (at once for `model`); rejects if loading failed. */
  modelReady(): Promise<CrossEncoder>;
  /**
   * Serves `model` from the next forward pass on: requests already queued finish on the model
   * they started with (none is dropped), new ones get `model`. Resolves with the previous model
   * once no request uses it any more, e.g. to dispose of it (it is then yours, even if the
   * server loaded it). Use it after `trainer.train()` to serve the fine-tuned model from the
   * same process.
   */
  swapModel(model: CrossEncoder): Promise<CrossEncoder | undefined>;
  /** The Prometheus registry behind `/metrics`, for metrics of your own. */
  readonly metricsRegistry: Registry;
}

/** A Fastify instance with the rerank routes (see {@link createRerankServer}). */
export type RerankServer = FastifyInstance & RerankServerControls;

/**
 * Creates the reranking service: `POST /v2/rerank`, `/v1/rerank` (Cohere, Jina), `/rerank`,
 * `/predict` (text-embeddings-inference), `GET /health`, `/info`, `/metrics`, and with
 * `adminReload` `POST /admin/reload`. Call `listen({ host, port })` to serve it, `close()` to
 * stop: in-flight requests are answered first. Models the server loads itself (`modelPath`,
 * `/admin/reload`) are disposed when replaced and on `close()`; a `model` you pass stays yours.
 *
 * @example
 * const server = createRerankServer({ modelPath: 'cross-encoder/ms-marco-MiniLM-L6-v2' });
 * await server.listen({ host: '127.0.0.1', port: 8080 });
 * await server.modelReady();
 * @throws InvalidArgumentError for an unknown option, neither or both of `model` and
 *   `modelPath`, or a limit that is not a positive integer.
 */
export function createRerankServer(options: RerankServerOptions): RerankServer {
  const limits = resolveServerOptions(options);
  const metrics = new ServingMetrics({ registry: options.registry, collectDefaultMetrics: options.collectDefaultMetrics ?? true });
  const batcher = new DynamicBatcher(options.model, { maxBatchTokens: limits.maxBatchTokens, batchSize: limits.batchSize, metrics });
  let modelId = options.modelId ?? options.modelPath ?? options.model?.modelCardData.baseModel ?? options.model?.modelPath ?? '';
  const context: ServingContext = { batcher, metrics, limits, modelId: () => modelId };

  // Models the server loaded itself (modelPath, /admin/reload): it disposes of them when they
  // are replaced and on close. A model handed in, or handed out by swapModel, is the caller's.
  const owned = new Set<CrossEncoder>();
  let loadError: Error | undefined;
  const ready: Promise<CrossEncoder> =
    options.model !== undefined
      ? Promise.resolve(options.model)
      : CrossEncoder.fromPretrained(options.modelPath!, options.modelOptions).then(
          async (model) => {
            owned.add(model);
            await batcher.swapModel(model);
            return model;
          },
          (error: Error) => {
            loadError = error;
            throw error;
          },
        );
  // The failure is reported by /health and modelReady(); it must not also be an unhandled rejection.
  ready.catch(() => undefined);

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: limits.payloadLimit,
    // Our onRequest hook answers requests that arrive while closing, in our error shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Strict types: a number where a string is expected is a 422, not silently converted.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // One line naming each field that failed (anyOf branches repeat the same complaint).
    schemaErrorFormatter: (errors, dataVar) => new Error([...new Set(errors.map((e) => `${dataVar}${e.instancePath} ${e.message}`))].join('; ')),
  });

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Answers written while closing end their connection: a kept-alive one would hold close() up
  // for Fastify's 72 s keep-alive timeout.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    await batcher.close();
    await Promise.all([...owned].map((model) => model.dispose()));
    owned.clear();
  });

  app.addHook('onRequest', async (request, reply) => {
    countWhenAnswered(request, reply, metrics);
    if (closing) {
      reply.header('connection', 'close');
      throw new HttpError(503, 'Unhealthy', 'the server is shutting down');
    }
    if (options.apiKey !== undefined && request.url !== '/health') checkApiKey(request, reply, options.apiKey);
  });

  // Scoring routes: bounded concurrency, checked before the body is read.
  let inFlight = 0;
  const scoringHooks: RouteShorthandOptions = {
    onRequest: async (_request, reply) => {
      if (inFlight >= limits.maxConcurrentRequests) {
        throw new HttpError(429, 'Overloaded', `${limits.maxConcurrentRequests} requests are already being scored; retry later`);
      }
      inFlight++;
      metrics.inFlight.set(inFlight);
      const started = performance.now();
      reply.raw.once('close', () => {
        inFlight--;
        metrics.inFlight.set(inFlight);
        metrics.requestDuration.observe((performance.now() - started) / 1000);
      });
    },
  };

  app.setErrorHandler((error, request, reply) => {
    const { statusCode, body, internal } = errorReply(error, limits.payloadLimit);
    if (internal) request.log.error({ err: error }, 'scoring failed');
    return reply.code(statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}`, error_type: 'NotFound' });
  });

  registerCohereRoutes(app, context, scoringHooks);
  registerTeiRoutes(app, context, scoringHooks);
  registerStatusRoutes(app, context, () => {
    if (closing) return 'the server is shutting down';
    if (loadError !== undefined) return `the model failed to load: ${loadError.message}`;
    return batcher.model === undefined ? 'the model is still loading' : undefined;
  });
  if (options.adminReload === true) {
    registerAdminRoutes(app, context, {
      defaultModel: () => options.modelPath ?? options.model?.modelPath,
      modelOptions: options.modelOptions ?? {},
      swapModel: async (model, id) => {
        owned.add(model);
        const swapped = batcher.swapModel(model);
        modelId = options.modelId ?? id;
        const previous = await swapped;
        if (previous !== undefined && owned.delete(previous)) await previous.dispose();
      },
    });
  }

  app.decorate('model', { getter: () => batcher.model });
  app.decorate('modelReady', () => ready);
  app.decorate('swapModel', async (model: CrossEncoder) => {
    const previous = await batcher.swapModel(model);
    if (previous !== undefined) owned.delete(previous);
    return previous;
  });
  app.decorate('metricsRegistry', { getter: () => metrics.registry });
  return app as unknown as RerankServer;
}

/** Counts the request in `http_requests_total` once answered (or abandoned: 499). */
function countWhenAnswered(request: FastifyRequest, reply: FastifyReply, metrics: ServingMetrics): void {
  reply.raw.once('close', () => {
    metrics.requests.inc({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.raw.writableFinished ? reply.statusCode : 499,
    });
  });
}

/** @throws HttpError 401 unless the request carries `Authorization: Bearer <key>`. */
function checkApiKey(request: FastifyRequest, reply: FastifyReply, key: string): void {
  const header = request.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
  // Compared as digests, in constant time: neither the key nor its length leaks through timing.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  if (given === undefined || !timingSafeEqual(digest(given), digest(key))) {
    reply.header('www-authenticate', 'Bearer');
    throw new HttpError(401, 'Unauthorized', given === undefined ? 'missing API key: send Authorization: Bearer <key>' : 'wrong API key');
  }
}
