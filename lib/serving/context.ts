/**
 * What every route of one server shares (the batcher, metrics, limits), and the small steps every
 * scoring route takes: the signal of a client going away, the request-size limit, the scores as
 * clients read them.
 */
import type { FastifyReply } from 'fastify';

import { CancelledError } from '../errors.js';
import { shortestFloat32 } from '../float32.js';

import type { DynamicBatcher } from './batcher.js';
import { HttpError } from './errors.js';
import type { ServingMetrics } from './metrics.js';
import type { ServingLimits } from './options.js';

export interface ServingContext {
  readonly batcher: DynamicBatcher;
  readonly metrics: ServingMetrics;
  readonly limits: ServingLimits;
  /** The name `/info` and the Cohere answers report for the model being served. */
  modelId(): string;
}

/**
 * Aborted when the client closes the connection before its answer is written, so the request's
 * waiting pairs leave the queue. (Fastify's `request.signal` also fires once the body is read,
 * which is not a disconnect.)
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new CancelledError('the client closed the connection'));
  });
  return controller.signal;
}

/**
 * @throws HttpError 400 for an empty list (TEI's `Empty`), 413 for more than
 *   `maxClientBatchSize` items.
 */
export function checkClientBatch(count: number, field: string, limits: ServingLimits): void {
  if (count === 0) throw new HttpError(400, 'Empty', `\`${field}\` cannot be empty`);
  if (count > limits.maxClientBatchSize) {
    throw new HttpError(413, 'PayloadTooLarge', `${count} ${field} in one request is more than the maximum of ${limits.maxClientBatchSize}`);
  }
}

/** sigmoid(logit) in float32, as the model's own activation would compute it, printed shortest. */
export function relevance(logit: number): number {
  return shortestFloat32(Math.fround(1 / (1 + Math.exp(-logit))));
}

/** A float32 score, printed shortest. */
export function score(value: number): number {
  return shortestFloat32(value);
}

/** Indices of `scores`, best first (ties: input order). */
export function bestFirst(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}
