/**
 * The Cohere (and Jina) rerank API: `POST /v2/rerank` and `POST /v1/rerank`, answered as Cohere
 * answers, so `CohereClientV2({ baseUrl }).v2.rerank(…)` and Cohere-speaking tools (LangChain,
 * LlamaIndex, Haystack…) work unchanged; Jina's `model` and `usage` fields are there too.
 * `relevance_score` is sigmoid(logit), in [0, 1].
 */
import { randomUUID } from 'node:crypto';

import type { FastifyInstance, FastifyReply, RouteShorthandOptions } from 'fastify';

import { bestFirst, checkClientBatch, clientGone, relevance, type ServingContext } from './context.js';
import { type CohereRerankBody, cohereRerankBody, type CohereRerankResponse, cohereRerankResponse } from './schemas.js';
import { scorePairs } from './scoring.js';

// Cohere bills one search unit per query and up to 100 documents (a long document's chunks count
// as documents); the count is reported the same way, per scored window.
const DOCUMENTS_PER_SEARCH_UNIT = 100;

/** Scores a Cohere-shaped rerank request and builds Cohere's answer. */
export async function cohereRerank(body: CohereRerankBody, reply: FastifyReply, context: ServingContext): Promise<CohereRerankResponse> {
  const { query, documents, top_n: topN, return_documents: returnDocuments = false, max_tokens_per_doc: maxTokensPerDoc } = body;
  checkClientBatch(documents.length, 'documents', context.limits);
  const texts = documents.map((document) => (typeof document === 'string' ? document : document.text));
  const scored = await scorePairs(
    context.batcher,
    texts.map((text) => [query, text] as const),
    {
      truncate: true,
      longDocuments: maxTokensPerDoc === undefined ? undefined : { maxTokensPerDoc },
      maxInputLength: context.limits.maxInputLength,
      signal: clientGone(reply),
      reranking: true,
    },
    context.metrics,
  );
  reply.header('x-compute-tokens', scored.tokens);
  const order = bestFirst(scored.logits);
  return {
    id: randomUUID(),
    // Jina's answer names the model and the tokens used; Cohere's clients ignore both.
    model: context.modelId(),
    usage: { total_tokens: scored.tokens },
    results: order
      .slice(0, topN ?? order.length)
      .map((index) =>
        returnDocuments ? { index, relevance_score: relevance(scored.logits[index]), document: { text: texts[index] } } : { index, relevance_score: relevance(scored.logits[index]) },
      ),
    meta: { api_version: { version: '2' }, billed_units: { search_units: Math.ceil(scored.encodings / DOCUMENTS_PER_SEARCH_UNIT) } },
  };
}

export function registerCohereRoutes(app: FastifyInstance, context: ServingContext, scoringHooks: RouteShorthandOptions): void {
  for (const url of ['/v2/rerank', '/v1/rerank']) {
    app.post<{ Body: CohereRerankBody }>(url, { ...scoringHooks, schema: { body: cohereRerankBody, response: cohereRerankResponse } }, (request, reply) =>
      cohereRerank(request.body, reply, context),
    );
  }
}
