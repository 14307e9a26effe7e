/**
 * JSON Schemas of the routes' bodies, as the clients send and read them: Fastify validates each
 * request against its schema before the handler runs (a violation is a 422 naming the field) and
 * serialises each answer with fast-json-stringify from the response schema.
 */

const string = { type: 'string' } as const;
const boolean = { type: 'boolean' } as const;
const positiveInteger = { type: 'integer', minimum: 1 } as const;
const number = { type: 'number' } as const;

/** TEI's `truncation_direction`, in both spellings serde accepts. */
export const TRUNCATION_DIRECTIONS = ['right', 'Right', 'left', 'Left'] as const;

/** `POST /v1/rerank`, `/v2/rerank` (Cohere, Jina): documents as strings or `{ text }` objects. */
export const cohereRerankBody = {
  type: 'object',
  required: ['query', 'documents'],
  properties: {
    model: string,
    query: string,
    documents: {
      type: 'array',
      items: { anyOf: [string, { type: 'object', required: ['text'], properties: { text: string } }] },
    },
    top_n: positiveInteger,
    return_documents: boolean,
    max_tokens_per_doc: positiveInteger,
  },
} as const;

export interface CohereRerankBody {
  model?: string;
  query: string;
  documents: (string | { text: string })[];
  top_n?: number;
  return_documents?: boolean;
  max_tokens_per_doc?: number;
}

export const cohereRerankResponse = {
  200: {
    type: 'object',
    properties: {
      id: string,
      model: string,
      usage: { type: 'object', properties: { total_tokens: { type: 'integer' } } },
      results: {
        type: 'array',
        items: {
          type: 'object',
          properties: { index: { type: 'integer' }, relevance_score: number, document: { type: 'object', properties: { text: string } } },
        },
      },
      meta: {
        type: 'object',
        properties: {
          api_version: { type: 'object', properties: { version: string } },
          billed_units: { type: 'object', properties: { search_units: { type: 'integer' } } },
        },
      },
    },
  },
} as const;

export interface CohereRerankResponse {
  id: string;
  model: string;
  usage: { total_tokens: number };
  results: { index: number; relevance_score: number; document?: { text: string } }[];
  meta: { api_version: { version: string }; billed_units: { search_units: number } };
}

/**
 * `POST /rerank` (TEI). `documents` in place of `texts` is also accepted: such a body is
 * answered in Cohere's shape, as vLLM does.
 */
export const teiRerankBody = {
  type: 'object',
  required: ['query'],
  properties: {
    query: string,
    texts: { type: 'array', items: string },
    documents: cohereRerankBody.properties.documents,
    raw_scores: boolean,
    return_text: boolean,
    truncate: { type: ['boolean', 'null'] },
    truncation_direction: { enum: TRUNCATION_DIRECTIONS },
    model: string,
    top_n: positiveInteger,
    return_documents: boolean,
    max_tokens_per_doc: positiveInteger,
  },
  oneOf: [{ required: ['texts'] }, { required: ['documents'] }],
} as const;

export interface TeiRerankBody extends Partial<CohereRerankBody> {
  query: string;
  texts?: string[];
  raw_scores?: boolean;
  return_text?: boolean;
  truncate?: boolean | null;
  truncation_direction?: (typeof TRUNCATION_DIRECTIONS)[number];
}

const rank = { type: 'object', properties: { index: { type: 'integer' }, text: string, score: number } } as const;

export interface TeiRank {
  index: number;
  text?: string;
  score: number;
}

/** `POST /predict` (TEI): one `[query, document]` pair, or a list of them. */
export const teiPredictBody = {
  type: 'object',
  required: ['inputs'],
  properties: {
    inputs: {
      anyOf: [
        { type: 'array', minItems: 2, maxItems: 2, items: string },
        { type: 'array', items: { type: 'array', minItems: 2, maxItems: 2, items: string } },
      ],
    },
    raw_scores: boolean,
    truncate: { type: ['boolean', 'null'] },
    truncation_direction: { enum: TRUNCATION_DIRECTIONS },
  },
} as const;

export interface TeiPredictBody {
  inputs: [string, string] | [string, string][];
  raw_scores?: boolean;
  truncate?: boolean | null;
  truncation_direction?: (typeof TRUNCATION_DIRECTIONS)[number];
}

const prediction = { type: 'object', properties: { score: number, label: string } } as const;

export interface TeiPrediction {
  score: number;
  label: string;
}

export const teiRerankResponse = { 200: { type: 'array', items: rank } } as const;
export const teiPredictResponse = {
  200: { anyOf: [{ type: 'array', items: prediction }, { type: 'array', items: { type: 'array', items: prediction } }] },
} as const;

/** `POST /admin/reload`: the model to load, by default the one served at start. */
export const adminReloadBody = {
  anyOf: [{ type: 'object', properties: { model: { type: 'string', minLength: 1 } } }, { type: 'null' }],
} as const;
