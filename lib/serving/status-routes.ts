/**
 * The routes an operator reads: `GET /health` (200 once the model is loaded, 503 before and while
 * shutting down), `GET /info` (TEI's fields: the model, its type and limits, versions) and
 * `GET /metrics` (Prometheus text).
 */
import type { FastifyInstance } from 'fastify';

import { nativeInfo } from '../native.js';
import { packageVersion } from '../package-version.js';

import type { ServingContext } from './context.js';
import { HttpError } from './errors.js';

/** Why the service cannot answer yet (or any more), or undefined when it can. */
export type Readiness = () => string | undefined;

export function registerStatusRoutes(app: FastifyInstance, context: ServingContext, readiness: Readiness): void {
  app.get('/health', async () => {
    const problem = readiness();
    if (problem !== undefined) throw new HttpError(503, 'Unhealthy', problem);
    return { status: 'ok' };
  });

  app.get('/info', async () => {
    const model = context.batcher.model;
    const { limits } = context;
    const torch = nativeInfo();
    const labels = model === undefined ? undefined : labelMaps(model.config, model.numLabels);
    return {
      model_id: context.modelId(),
      model_dtype: model?.dtype ?? 'float32',
      model_type: labels === undefined ? null : model!.numLabels === 1 ? { reranker: labels } : { classifier: labels },
      max_input_length: model === undefined ? limits.maxInputLength ?? null : Math.min(limits.maxInputLength ?? model.maxLength, model.maxLength),
      max_batch_tokens: limits.maxBatchTokens,
      max_batch_requests: limits.batchSize,
      max_client_batch_size: limits.maxClientBatchSize,
      max_concurrent_requests: limits.maxConcurrentRequests,
      payload_limit: limits.payloadLimit,
      auto_truncate: true,
      version: packageVersion(),
      libtorch_version: torch.torchVersion,
      blas: torch.blas,
    };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(context.metrics.registry.contentType);
    return context.metrics.registry.metrics();
  });
}

/** `id2label` and `label2id` as TEI reports them (from config.json, else `LABEL_i`). */
function labelMaps(config: Record<string, unknown>, numLabels: number): { id2label: Record<string, string>; label2id: Record<string, number> } {
  const stored = (config.id2label ?? {}) as Record<string, unknown>;
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < numLabels; i++) {
    const label = typeof stored[i] === 'string' ? (stored[i] as string) : `LABEL_${i}`;
    id2label[i] = label;
    label2id[label] = i;
  }
  return { id2label, label2id };
}
