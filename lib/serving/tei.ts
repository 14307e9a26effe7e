/**
 * Hugging Face text-embeddings-inference's API for rerankers: `POST /rerank` (one query, many
 * texts) and `POST /predict` (pairs, every label), answered as TEI answers. Scores are sigmoid
 * (softmax for several labels) of the logits unless `raw_scores: true`, as in TEI; `truncate`
 * defaults to true, TEI's `--auto-truncate` default. `truncation_direction: "left"` is refused
 * (422): pairs are truncated at their end, as the tokenizer reproduces the Rust crate's right
 * truncation only.
 */
import type { FastifyInstance, FastifyReply, RouteShorthandOptions } from 'fastify';

import { applyActivation } from '../model/activation.js';
import type { Pair } from '../model/cross-encoder.js';

import { cohereRerank } from './cohere.js';
import { bestFirst, checkClientBatch, clientGone, relevance, score, type ServingContext } from './context.js';
import { HttpError } from './errors.js';
import {
  cohereRerankResponse,
  type TeiPredictBody,
  teiPredictBody,
  teiPredictResponse,
  type TeiPrediction,
  type TeiRank,
  type TeiRerankBody,
  teiRerankBody,
  teiRerankResponse,
} from './schemas.js';
import { scorePairs } from './scoring.js';

/** TEI's `truncate` (true unless false); `truncation_direction` must be right (see above). */
function truncation(body: { truncate?: boolean | null; truncation_direction?: string }): boolean {
  if (body.truncation_direction !== undefined && body.truncation_direction.toLowerCase() === 'left') {
    throw new HttpError(422, 'Validation', 'truncation_direction "left" is not supported: texts are truncated at their end ("right")');
  }
  return body.truncate ?? true;
}

async function teiRerank(body: TeiRerankBody, reply: FastifyReply, context: ServingContext): Promise<TeiRank[]> {
  const texts = body.texts as string[];
  checkClientBatch(texts.length, 'texts', context.limits);
  const scored = await scorePairs(
    context.batcher,
    texts.map((text) => [body.query, text] as const),
    { truncate: truncation(body), maxInputLength: context.limits.maxInputLength, signal: clientGone(reply), reranking: true },
    context.metrics,
  );
  reply.header('x-compute-tokens', scored.tokens);
  const raw = body.raw_scores === true;
  return bestFirst(scored.logits).map((index) => {
    const value = raw ? score(scored.logits[index]) : relevance(scored.logits[index]);
    return body.return_text === true ? { index, text: texts[index], score: value } : { index, score: value };
  });
}

async function teiPredict(body: TeiPredictBody, reply: FastifyReply, context: ServingContext): Promise<TeiPrediction[] | TeiPrediction[][]> {
  const single = typeof body.inputs[0] === 'string';
  const pairs = (single ? [body.inputs] : body.inputs) as Pair[];
  checkClientBatch(pairs.length, 'inputs', context.limits);
  const scored = await scorePairs(
    context.batcher,
    pairs,
    { truncate: truncation(body), maxInputLength: context.limits.maxInputLength, signal: clientGone(reply), reranking: false },
    context.metrics,
  );
  reply.header('x-compute-tokens', scored.tokens);
  const { numLabels, config } = scored.model;
  if (body.raw_scores !== true) applyActivation(scored.logits, numLabels, numLabels === 1 ? 'sigmoid' : 'softmax');
  const id2label = (config.id2label ?? {}) as Record<string, unknown>;
  const labels = Array.from({ length: numLabels }, (_, j) => (typeof id2label[j] === 'string' ? (id2label[j] as string) : `LABEL_${j}`));
  const predictions = pairs.map((_, i) => {
    const row = scored.logits.subarray(i * numLabels, (i + 1) * numLabels);
    return bestFirst(row).map((j) => ({ score: score(row[j]), label: labels[j] }));
  });
  return single ? predictions[0] : predictions;
}

export function registerTeiRoutes(app: FastifyInstance, context: ServingContext, scoringHooks: RouteShorthandOptions): void {
  app.post<{ Body: TeiRerankBody }>(
    '/rerank',
    { ...scoringHooks, schema: { body: teiRerankBody, response: { 200: { anyOf: [teiRerankResponse[200], cohereRerankResponse[200]] } } } },
    // A body with `documents` is a Cohere request sent to TEI's path: answered in Cohere's shape (as vLLM does).
    (request, reply) => (request.body.documents !== undefined ? cohereRerank({ ...request.body, documents: request.body.documents }, reply, context) : teiRerank(request.body, reply, context)),
  );
  app.post<{ Body: TeiPredictBody }>('/predict', { ...scoringHooks, schema: { body: teiPredictBody, response: teiPredictResponse } }, (request, reply) =>
    teiPredict(request.body, reply, context),
  );
}
