/**
 * The HTTP service (`createRerankServer`) over real HTTP on 127.0.0.1 ephemeral ports: every
 * route in the shapes clients send and read (the official `cohere-ai` SDK as a client), every
 * error status, batching seen through /metrics, cancellation on disconnect, graceful shutdown,
 * hot reload under load, and serving a model fine-tuned in the same process.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { CohereClient, CohereClientV2, CohereError } from 'cohere-ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, CrossEncoderTrainer, type Pair } from '../lib/index.js';
import { createRerankServer, type RerankServer } from '../lib/serving/index.js';

import { getJson, metricValue, postJson } from './helpers/http.js';
import { testModel } from './helpers/models.js';

const QUERY = 'How many people live in Berlin?';
const DOCUMENTS = [
  'Open Settings > Users, pick the user and click "Send reset link" to reset a password.',
  'The release dashboard lists every deployment of the last 30 days.',
  'Berlin is the capital and largest city of Germany, and its most populous one.',
  'Invoices are emailed on the first working day of each month.',
  'About 3.8 million people live in Berlin, the most populous city of the European Union.',
];
const SENTENCE = 'Berlin is the capital and largest city of Germany, both by area and by population. ';
const manyDocuments = (count: number, sentences = 6) => Array.from({ length: count }, (_, i) => `${SENTENCE.repeat(1 + (i % sentences))}(${i})`);
const pairsOf = (query: string, documents: readonly string[]): Pair[] => documents.map((document) => [query, document]);

let tiny: CrossEncoder;
let gelu: CrossEncoder;
let tiny3: CrossEncoder;
let work: string;
const servers: RerankServer[] = [];

/** A server on 127.0.0.1 and an ephemeral port; closed after the suite. */
async function start(options: Parameters<typeof createRerankServer>[0]): Promise<{ server: RerankServer; url: string }> {
  const server = createRerankServer({ collectDefaultMetrics: false, ...options });
  servers.push(server);
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  return { server, url };
}

async function logits(model: CrossEncoder, pairs: readonly Pair[]): Promise<Float32Array> {
  return (await model.predict(pairs, { activation: 'identity' })) as Float32Array;
}
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function expectScores(actual: readonly number[], expected: readonly number[], tolerance = 1e-5): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((score, i) => expect(Math.abs(score - expected[i]), `score ${i}: ${score} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance));
}

async function metrics(url: string, headers: Record<string, string> = {}): Promise<string> {
  return (await fetch(`${url}/metrics`, { headers })).text();
}

/** Polls `condition` every 5 ms until it holds (or fails the test after `ms`). */
async function waitFor(condition: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'serving-'));
  [tiny, gelu, tiny3] = await Promise.all([
    CrossEncoder.fromPretrained(testModel('tiny')),
    CrossEncoder.fromPretrained(testModel('tiny-gelu-new')),
    CrossEncoder.fromPretrained(testModel('tiny-3labels')),
  ]);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await rm(work, { recursive: true, force: true });
});

describe('the Cohere API', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await start({ model: tiny }));
  });

  it('answers the official SDK (v2) with sigmoid(predict) scores, best first, top_n honoured', async () => {
    const client = new CohereClientV2({ token: 'unused', baseUrl: url });
    const response = await client.rerank({ model: 'any', query: QUERY, documents: DOCUMENTS, topN: 3 });
    const expected = Array.from(await logits(tiny, pairsOf(QUERY, DOCUMENTS)), sigmoid);
    const best = expected.map((_, i) => i).sort((a, b) => expected[b] - expected[a]);
    expect(response.results.map((result) => result.index)).toEqual(best.slice(0, 3));
    expectScores(response.results.map((result) => result.relevanceScore), best.slice(0, 3).map((i) => expected[i]));
    for (const result of response.results) expect(result.relevanceScore).toBeGreaterThan(0), expect(result.relevanceScore).toBeLessThan(1);
    expect(response.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.meta?.billedUnits?.searchUnits).toBe(1);
  });

  it('answers the v1 SDK, with documents as { text } objects and return_documents', async () => {
    const client = new CohereClient({ token: 'unused', baseUrl: url });
    const response = await client.rerank({ query: QUERY, documents: DOCUMENTS.map((text) => ({ text })), returnDocuments: true });
    const expected = Array.from(await logits(tiny, pairsOf(QUERY, DOCUMENTS)), sigmoid);
    expect(response.results).toHaveLength(DOCUMENTS.length);
    for (const result of response.results) {
      expect(result.document?.text).toBe(DOCUMENTS[result.index]);
      expect(Math.abs(result.relevanceScore - expected[result.index])).toBeLessThanOrEqual(1e-5);
    }
    const scores = response.results.map((result) => result.relevanceScore);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('gives the SDK our errors as its typed errors', async () => {
    const client = new CohereClientV2({ token: 'unused', baseUrl: url });
    const error = await client.rerank({ model: 'any', query: QUERY, documents: [] }, { maxRetries: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CohereError);
    expect((error as CohereError).statusCode).toBe(400);
    expect((error as CohereError).body).toEqual({ error: '`documents` cannot be empty', error_type: 'Empty' });
  });
});

describe('the text-embeddings-inference API', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await start({ model: tiny, maxInputLength: 64 }));
  });

  it('POST /rerank: sigmoid scores, raw_scores gives the logits, return_text the texts, best first', async () => {
    const expected = await logits(tiny, pairsOf(QUERY, DOCUMENTS));
    const plain = await postJson<{ index: number; score: number; text?: string }[]>(`${url}/rerank`, { query: QUERY, texts: DOCUMENTS });
    expect(plain.status).toBe(200);
    expectScores(plain.body.map((rank) => rank.score), plain.body.map((rank) => sigmoid(expected[rank.index])));
    expect(plain.body.every((rank) => rank.text === undefined)).toBe(true);
    const raw = await postJson<{ index: number; score: number; text?: string }[]>(`${url}/rerank`, { query: QUERY, texts: DOCUMENTS, raw_scores: true, return_text: true });
    expectScores(raw.body.map((rank) => rank.score), raw.body.map((rank) => expected[rank.index]));
    expect(raw.body.map((rank) => rank.text)).toEqual(raw.body.map((rank) => DOCUMENTS[rank.index]));
    expect(raw.body.map((rank) => rank.index)).toEqual(plain.body.map((rank) => rank.index));
    expect(raw.body.map((rank) => rank.score)).toEqual([...raw.body.map((rank) => rank.score)].sort((a, b) => b - a));
  });

  it('POST /rerank with documents answers in the Cohere shape (as vLLM does)', async () => {
    const reply = await postJson<{ results: { index: number; relevance_score: number }[]; model: string; usage: { total_tokens: number } }>(`${url}/rerank`, {
      query: QUERY,
      documents: DOCUMENTS,
      top_n: 2,
    });
    expect(reply.status).toBe(200);
    expect(reply.body.results).toHaveLength(2);
    // Jina's fields too.
    expect(reply.body.model).toBe(testModel('tiny'));
    const tokens = pairsOf(QUERY, DOCUMENTS).reduce((sum, [q, d]) => sum + tiny.tokenizer.encodePair(q, d, tiny.maxLength).inputIds.length, 0);
    expect(reply.body.usage.total_tokens).toBe(tokens);
    const expected = await logits(tiny, pairsOf(QUERY, DOCUMENTS));
    expectScores(reply.body.results.map((r) => r.relevance_score), reply.body.results.map((r) => sigmoid(expected[r.index])));
  });

  it('truncates at the maximum input length unless truncate is false', async () => {
    const long = SENTENCE.repeat(20);
    const truncated = await postJson<{ score: number }[]>(`${url}/rerank`, { query: QUERY, texts: [long], raw_scores: true });
    expect(truncated.status).toBe(200);
    const short = await CrossEncoder.fromPretrained(testModel('tiny'), { maxLength: 64 });
    expectScores([truncated.body[0].score], Array.from(await logits(short, [[QUERY, long]])));
    const refused = await postJson(`${url}/rerank`, { query: QUERY, texts: ['short', long], truncate: false });
    expect(refused).toMatchObject({ status: 422, body: { error_type: 'Validation' } });
    expect((refused.body as { error: string }).error).toMatch(/input 1 is longer than the maximum input length of 64 tokens/);
    expect((await postJson(`${url}/rerank`, { query: QUERY, texts: ['short'], truncate: false })).status).toBe(200);
    await short.dispose?.();
  });

  it('POST /predict: one pair or a list, every label best first, sigmoid unless raw_scores', async () => {
    const pairs = pairsOf(QUERY, DOCUMENTS.slice(0, 3));
    const expected = await logits(tiny, pairs);
    const batch = await postJson<{ score: number; label: string }[][]>(`${url}/predict`, { inputs: pairs });
    expect(batch.status).toBe(200);
    expectScores(batch.body.map((predictions) => predictions[0].score), Array.from(expected, sigmoid));
    expect(batch.body.every((predictions) => predictions.length === 1 && predictions[0].label === 'LABEL_0')).toBe(true);
    const single = await postJson<{ score: number; label: string }[]>(`${url}/predict`, { inputs: pairs[0], raw_scores: true });
    expectScores([single.body[0].score], [expected[0]]);
  });

  it('POST /predict on a 3-label model: softmax over the labels, named from config.json', async () => {
    const { url: url3 } = await start({ model: tiny3 });
    const pairs = pairsOf(QUERY, DOCUMENTS.slice(0, 2));
    const expected = (await tiny3.predict(pairs, { activation: 'softmax' })) as Float32Array[];
    const reply = await postJson<{ score: number; label: string }[][]>(`${url3}/predict`, { inputs: pairs });
    expect(reply.status).toBe(200);
    reply.body.forEach((predictions, i) => {
      expect(predictions).toHaveLength(3);
      const labels = (tiny3.config.id2label ?? {}) as Record<string, string>;
      for (const { score, label } of predictions) {
        const j = Number(Object.keys(labels).find((key) => labels[key] === label));
        expect(Math.abs(score - expected[i][j])).toBeLessThanOrEqual(1e-5);
      }
      expect(predictions.map((p) => p.score)).toEqual([...predictions.map((p) => p.score)].sort((a, b) => b - a));
    });
    // Reranking needs one relevance score.
    const rerank = await postJson(`${url3}/rerank`, { query: QUERY, texts: DOCUMENTS });
    expect(rerank).toMatchObject({ status: 422, body: { error_type: 'Validation' } });
    expect((rerank.body as { error: string }).error).toMatch(/one label.*3/);
  });
});

describe('status routes', () => {
  it('GET /health, /info and /metrics', async () => {
    const { url } = await start({ model: tiny, maxBatchTokens: 2048, modelId: 'tiny-test' });
    expect(await getJson(`${url}/health`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    const info = await getJson<Record<string, unknown>>(`${url}/info`);
    expect(info.body).toMatchObject({
      model_id: 'tiny-test',
      model_type: { reranker: { id2label: { 0: 'LABEL_0' } } },
      max_input_length: 512,
      max_batch_tokens: 2048,
      max_client_batch_size: 1000,
      max_concurrent_requests: 512,
    });
    expect(info.body.libtorch_version).toMatch(/^\d+\.\d+/);
    expect(info.body.version).toMatch(/^\d+\.\d+\.\d+/);
    await postJson(`${url}/rerank`, { query: QUERY, texts: DOCUMENTS });
    await postJson(`${url}/rerank`, { query: 5, texts: DOCUMENTS });
    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(metricValue(text, 'http_requests_total{method="POST",route="/rerank",status="200"}')).toBe(1);
    expect(metricValue(text, 'http_requests_total{method="POST",route="/rerank",status="422"}')).toBe(1);
    expect(metricValue(text, 'te_batch_next_size_sum')).toBe(DOCUMENTS.length);
    expect(metricValue(text, 'te_request_input_length_count')).toBe(DOCUMENTS.length);
    for (const name of ['te_queue_size', 'te_batch_next_tokens_count', 'te_request_duration_count', 'te_request_queue_duration_count', 'te_request_inference_duration_count', 'te_request_tokenization_duration_count']) {
      expect(text, name).toMatch(new RegExp(`^${name} \\d`, 'm'));
    }
  });

  it('GET /health is 503 until the model is loaded, and says why a load failed', async () => {
    const { server, url } = await start({ modelPath: testModel('tiny') });
    await server.modelReady();
    expect((await getJson(`${url}/health`)).status).toBe(200);
    expect(server.model).toBeInstanceOf(CrossEncoder);

    const missing = path.join(work, 'no-such-model');
    const { server: broken, url: brokenUrl } = await start({ modelPath: missing, modelOptions: { localFilesOnly: true } });
    await expect(broken.modelReady()).rejects.toThrow();
    const health = await getJson<{ error: string }>(`${brokenUrl}/health`);
    expect(health).toMatchObject({ status: 503, body: { error_type: 'Unhealthy' } });
    expect(health.body.error).toMatch(/failed to load/);
    expect(await postJson(`${brokenUrl}/rerank`, { query: QUERY, texts: DOCUMENTS })).toMatchObject({ status: 503, body: { error: 'the model is still loading' } });
  });
});

describe('errors', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await start({ model: tiny, maxClientBatchSize: 3, payloadLimit: 4000 }));
  });

  it.each([
    ['a number as query', '/v2/rerank', { query: 1, documents: ['a'] }, /body\/query must be string/],
    ['a number among documents', '/v2/rerank', { query: 'q', documents: ['a', 2] }, /body\/documents\/1/],
    ['no documents field', '/v1/rerank', { query: 'q' }, /documents/],
    ['top_n 0', '/v2/rerank', { query: 'q', documents: ['a'], top_n: 0 }, /top_n must be >= 1/],
    ['texts and documents', '/rerank', { query: 'q', texts: ['a'], documents: ['a'] }, /oneOf/],
    ['a string as inputs', '/predict', { inputs: 'just text' }, /body\/inputs/],
    ['a triple among inputs', '/predict', { inputs: [['a', 'b', 'c']] }, /body\/inputs/],
    ['a left truncation', '/rerank', { query: 'q', texts: ['a'], truncation_direction: 'left' }, /not supported/],
    ['an unknown truncation direction', '/rerank', { query: 'q', texts: ['a'], truncation_direction: 'middle' }, /truncation_direction/],
  ])('422 for %s', async (_what, route, body, pattern) => {
    const reply = await postJson<{ error: string }>(`${url}${route}`, body);
    expect(reply).toMatchObject({ status: 422, body: { error_type: 'Validation' } });
    expect(reply.body.error).toMatch(pattern);
  });

  it('400 for a body that is not JSON or an empty list, 415 for a content type without a parser', async () => {
    expect(await postJson(`${url}/v2/rerank`, '{"query": ')).toMatchObject({ status: 400, body: { error_type: 'Validation' } });
    expect(await postJson(`${url}/rerank`, { query: 'q', texts: [] })).toMatchObject({ status: 400, body: { error: '`texts` cannot be empty', error_type: 'Empty' } });
    expect(await postJson(`${url}/predict`, { inputs: [] })).toMatchObject({ status: 400, body: { error_type: 'Empty' } });
    const xml = await fetch(`${url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<q/>' });
    expect(xml.status).toBe(415);
    expect(await xml.json()).toMatchObject({ error_type: 'Validation' });
  });

  it('413 for a body over the limit or more documents than max_client_batch_size', async () => {
    expect(await postJson(`${url}/v2/rerank`, { query: 'q', documents: ['x'.repeat(5000)] })).toMatchObject({
      status: 413,
      body: { error: 'the request body is larger than the limit of 4000 bytes', error_type: 'PayloadTooLarge' },
    });
    expect(await postJson(`${url}/v2/rerank`, { query: 'q', documents: ['a', 'b', 'c', 'd'] })).toMatchObject({
      status: 413,
      body: { error: '4 documents in one request is more than the maximum of 3', error_type: 'PayloadTooLarge' },
    });
    expect((await postJson(`${url}/predict`, { inputs: [['a', 'b'], ['a', 'b'], ['a', 'b'], ['a', 'b']] })).status).toBe(413);
  });

  it('404 for an unknown route; a hostile body never takes the process down', async () => {
    expect(await postJson(`${url}/v3/rerank`, {})).toMatchObject({ status: 404, body: { error: 'no route POST /v3/rerank', error_type: 'NotFound' } });
    const hostile = [
      '{"__proto__": {"query": "x"}, "documents": ["a"]}',
      '{"constructor": {"prototype": {"polluted": true}}, "query": "q", "documents": ["a"]}',
      `${'['.repeat(1900)}${']'.repeat(1900)}`,
      '{"query": "q", "documents": ["\\ud800", "\\u0000", "x"]}',
      '{"query": "q", "documents": [{"text": null}]}',
      '{"query": "q", "texts": ["a"], "truncate": "yes"}',
    ];
    for (const body of hostile) {
      const reply = await postJson<{ error_type?: string }>(`${url}/v2/rerank`, body);
      expect([200, 400, 422], body).toContain(reply.status);
      if (reply.status !== 200) expect(typeof reply.body.error_type).toBe('string');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await getJson(`${url}/health`)).status).toBe(200);
  });

  it('401 without the API key, except on /health', async () => {
    const { url: secured } = await start({ model: tiny, apiKey: 'sesame' });
    expect(await postJson(`${secured}/v2/rerank`, { query: 'q', documents: ['a'] })).toMatchObject({ status: 401, body: { error_type: 'Unauthorized' } });
    const wrong = await postJson(`${secured}/v2/rerank`, { query: 'q', documents: ['a'] }, { authorization: 'Bearer sesam' });
    expect(wrong).toMatchObject({ status: 401, body: { error: 'wrong API key' } });
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    expect((await getJson(`${secured}/metrics`.replace('/metrics', '/info'))).status).toBe(401);
    expect((await getJson(`${secured}/health`)).status).toBe(200);
    expect((await postJson(`${secured}/v2/rerank`, { query: 'q', documents: ['a'] }, { authorization: 'Bearer sesame' })).status).toBe(200);
    const client = new CohereClientV2({ token: 'nope', baseUrl: secured });
    const error = await client.rerank({ model: 'm', query: 'q', documents: ['a'] }, { maxRetries: 0 }).catch((e: unknown) => e);
    expect((error as CohereError).statusCode).toBe(401);
    expect((await new CohereClientV2({ token: 'sesame', baseUrl: secured }).rerank({ model: 'm', query: 'q', documents: ['a'] })).results).toHaveLength(1);
  });

  it('429 when max_concurrent_requests are in flight', async () => {
    const { url: busy } = await start({ model: tiny, maxConcurrentRequests: 1, maxBatchTokens: 64, batchSize: 1 });
    const slow = postJson(`${busy}/v2/rerank`, { query: QUERY, documents: manyDocuments(400) });
    await waitFor(async () => metricValue(await metrics(busy), 'crossencoder_requests_in_flight') === 1);
    const refused = await postJson(`${busy}/v2/rerank`, { query: 'q', documents: ['a'] });
    expect(refused).toMatchObject({ status: 429, body: { error_type: 'Overloaded' } });
    expect((await slow).status).toBe(200);
    expect((await postJson(`${busy}/v2/rerank`, { query: 'q', documents: ['a'] })).status).toBe(200);
  });
});

describe('batching, cancellation, shutdown', () => {
  it('batches concurrent requests together (te_batch_next_size) and gives every caller its own scores', async () => {
    const { url } = await start({ model: tiny, maxBatchTokens: 8192, batchSize: 256 });
    const requests = Array.from({ length: 12 }, (_, r) => ({ query: `${QUERY} (${r})`, documents: manyDocuments(3 + (r % 4)).map((d) => `${d} ${r}`) }));
    const replies = await Promise.all(requests.map((body) => postJson<{ index: number }[]>(`${url}/rerank`, { query: body.query, texts: body.documents, raw_scores: true })));
    for (const [r, reply] of replies.entries()) {
      const expected = await logits(tiny, pairsOf(requests[r].query, requests[r].documents));
      const body = reply.body as { index: number; score: number }[];
      expectScores(body.map((rank) => rank.score), body.map((rank) => expected[rank.index]));
    }
    const text = await metrics(url);
    const pairs = requests.reduce((sum, body) => sum + body.documents.length, 0);
    expect(metricValue(text, 'te_batch_next_size_sum')).toBe(pairs);
    // Fewer forwards than requests: pairs of several requests ran together.
    expect(metricValue(text, 'te_batch_next_size_count')).toBeLessThan(requests.length);
  });

  it('keeps answering other requests while a large request is tokenized', async () => {
    const { server, url } = await start({ model: tiny });
    // 1,000 documents of ~600 tokens, each truncated to 512: ~0.5 s of tokenization in all.
    const texts = Array.from({ length: 1000 }, (_, i) => `${i} ${'tokenization '.repeat(200)}`);
    const controller = new AbortController();
    const big = fetch(`${url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY, texts }), signal: controller.signal }).catch(
      () => undefined,
    );
    const forwards = async () => metricValue(await server.metricsRegistry.metrics(), 'te_batch_next_size_count');
    let worst = 0;
    let probes = 0;
    // Until its first forward starts, i.e. while it is read, parsed and tokenized.
    while ((await forwards()) === 0) {
      const started = performance.now();
      expect((await fetch(`${url}/health`)).status).toBe(200);
      worst = Math.max(worst, performance.now() - started);
      probes++;
    }
    controller.abort();
    await big;
    expect(probes).toBeGreaterThan(3);
    expect(worst, `slowest /health: ${worst.toFixed(0)} ms over ${probes} probes`).toBeLessThan(150);
  });

  it('drops the queued work of a client that disconnects', async () => {
    const { url } = await start({ model: tiny, maxBatchTokens: 64, batchSize: 1 });
    const controller = new AbortController();
    const request = fetch(`${url}/v2/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY, documents: manyDocuments(500) }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await waitFor(async () => metricValue(await metrics(url), 'te_batch_next_size_count') > 0);
    controller.abort();
    expect(await request).toMatchObject({ name: 'AbortError' });
    await waitFor(async () => metricValue(await metrics(url), 'te_queue_size') === 0);
    const text = await metrics(url);
    expect(metricValue(text, 'te_batch_next_size_sum')).toBeLessThan(500);
    await waitFor(async () => metricValue(await metrics(url), 'http_requests_total{method="POST",route="/v2/rerank",status="499"}') === 1);
  });

  it('close() answers every request in flight before it resolves', async () => {
    const server = createRerankServer({ model: tiny, collectDefaultMetrics: false, maxBatchTokens: 64, batchSize: 1 });
    let arrived = 0;
    server.addHook('onRequest', async () => void arrived++);
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    // One pair per forward and 40 per request: the last of them is answered after 320 forwards.
    const bodies = Array.from({ length: 8 }, (_, r) => ({ query: `${QUERY} ${r}`, texts: manyDocuments(40) }));
    const replies = bodies.map((body) => postJson<{ index: number; score: number }[]>(`${url}/rerank`, { ...body, raw_scores: true }));
    await waitFor(() => arrived === 8);
    const inFlightAtClose = await inFlight(server);
    expect(inFlightAtClose).toBeGreaterThan(1);
    await server.close();
    for (const [r, reply] of (await Promise.all(replies)).entries()) {
      expect(reply.status).toBe(200);
      const expected = await logits(tiny, pairsOf(bodies[r].query, bodies[r].texts));
      expectScores(reply.body.map((rank) => rank.score), reply.body.map((rank) => expected[rank.index]));
    }
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});

/** The in-flight gauge, read without HTTP (the server may be closing). */
async function inFlight(server: RerankServer): Promise<number> {
  const gauge = server.metricsRegistry.getSingleMetric('crossencoder_requests_in_flight');
  return (await gauge!.get()).values[0]?.value ?? 0;
}

describe('hot reload', () => {
  it('swapModel under load drops no request; each is scored wholly by one model', async () => {
    const { server, url } = await start({ model: tiny, maxBatchTokens: 256, batchSize: 8 });
    const documents = manyDocuments(6);
    const pairs = pairsOf(QUERY, documents);
    const [byTiny, byGelu] = await Promise.all([logits(tiny, pairs), logits(gelu, pairs)]);
    const matches = (scores: number[], expected: Float32Array) => scores.every((score, i) => Math.abs(score - expected[i]) <= 1e-5);
    let stop = false;
    const seen: ('tiny' | 'gelu')[] = [];
    const client = async () => {
      while (!stop) {
        const reply = await postJson<{ index: number; score: number }[]>(`${url}/rerank`, { query: QUERY, texts: documents, raw_scores: true });
        expect(reply.status).toBe(200);
        const scores = Array.from({ length: documents.length }, (_, i) => reply.body.find((rank) => rank.index === i)!.score);
        if (matches(scores, byTiny)) seen.push('tiny');
        else if (matches(scores, byGelu)) seen.push('gelu');
        else throw new Error(`scores of neither model: ${scores.join(', ')}`);
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await waitFor(() => seen.length >= 8);
    expect(await server.swapModel(gelu)).toBe(tiny);
    const atSwap = seen.length;
    await waitFor(() => seen.length >= atSwap + 12);
    stop = true;
    await Promise.all(clients);
    expect(seen.slice(0, 8).every((model) => model === 'tiny')).toBe(true);
    // Requests begun after the swap resolved are all the new model's (a few in flight at it may be either).
    expect(seen.slice(atSwap + 4).every((model) => model === 'gelu')).toBe(true);
    expect(metricValue(await metrics(url), 'crossencoder_model_swaps_total')).toBe(1);
  });

  it('serves a model fine-tuned by CrossEncoderTrainer in the same process', async () => {
    const base = await CrossEncoder.fromPretrained(testModel('tiny'));
    const { server, url } = await start({ model: tiny });
    const trainee = await CrossEncoder.fromPretrained(testModel('tiny'));
    const trainer = new CrossEncoderTrainer({
      model: trainee,
      trainDataset: DOCUMENTS.map((document, i) => ({ query: QUERY, document, label: i % 2 === 0 ? 1 : 0 })),
      args: { outputDir: path.join(work, 'trained'), maxSteps: 4, perDeviceTrainBatchSize: 2, learningRate: 5e-3, saveStrategy: 'no', disableTqdm: true, seed: 3 },
    });
    await trainer.train();
    await server.swapModel(trainee);
    const reply = await postJson<{ index: number; score: number }[]>(`${url}/rerank`, { query: QUERY, texts: DOCUMENTS, raw_scores: true });
    const [trained, before] = await Promise.all([logits(trainee, pairsOf(QUERY, DOCUMENTS)), logits(base, pairsOf(QUERY, DOCUMENTS))]);
    expectScores(reply.body.map((rank) => rank.score), reply.body.map((rank) => trained[rank.index]));
    // Training changed the scores, so the service is not still serving the base model.
    expect(Math.max(...Array.from(trained, (score, i) => Math.abs(score - before[i])))).toBeGreaterThan(1e-3);
    await base.dispose?.();
  });

  it('POST /admin/reload loads and switches to a model, only with the API key and when enabled', async () => {
    const { url } = await start({ model: tiny, apiKey: 'k', adminReload: true });
    const auth = { authorization: 'Bearer k' };
    expect((await postJson(`${url}/admin/reload`, { model: testModel('tiny-gelu-new') })).status).toBe(401);
    const reload = await postJson(`${url}/admin/reload`, { model: testModel('tiny-gelu-new') }, auth);
    expect(reload).toMatchObject({ status: 200, body: { model_id: testModel('tiny-gelu-new'), previous_model_id: testModel('tiny') } });
    const reply = await postJson<{ index: number; score: number }[]>(`${url}/rerank`, { query: QUERY, texts: DOCUMENTS, raw_scores: true }, auth);
    const expected = await logits(gelu, pairsOf(QUERY, DOCUMENTS));
    expectScores(reply.body.map((rank) => rank.score), reply.body.map((rank) => expected[rank.index]));
    expect((await getJson<{ model_id: string }>(`${url}/info`, auth)).body.model_id).toBe(testModel('tiny-gelu-new'));
    const missing = await postJson(`${url}/admin/reload`, { model: path.join(work, 'nothing-here') }, auth);
    expect(missing.status).toBeGreaterThanOrEqual(400);
    expect(missing.status).toBeLessThan(500);
    expect((await postJson(`${url}/rerank`, { query: QUERY, texts: DOCUMENTS }, auth)).status).toBe(200);

    const { url: plain } = await start({ model: tiny });
    expect((await postJson(`${plain}/admin/reload`, {})).status).toBe(404);
    expect(() => createRerankServer({ model: tiny, adminReload: true })).toThrow(/apiKey/);
  });

  it('refuses an unknown option by name, with a did-you-mean for the CLI spelling', () => {
    expect(() => createRerankServer({ model: tiny, max_batch_tokens: 64 } as never)).toThrow(
      /createRerankServer\(\): unknown option 'max_batch_tokens' \(did you mean 'maxBatchTokens'\?\)/,
    );
  });
});

describe('long documents', () => {
  it('max_tokens_per_doc scores a long document as windows, as rank() with longDocuments does', async () => {
    const short = await CrossEncoder.fromPretrained(testModel('tiny'), { maxLength: 48 });
    const { url } = await start({ model: short });
    const documents = [SENTENCE.repeat(12), 'A short one.', `${'Nothing relevant here. '.repeat(10)}${SENTENCE}`];
    const reply = await postJson<{ results: { index: number; relevance_score: number }[]; meta: { billed_units: { search_units: number } } }>(`${url}/v2/rerank`, {
      query: QUERY,
      documents,
      max_tokens_per_doc: 300,
    });
    expect(reply.status).toBe(200);
    const ranked = await short.rank(QUERY, documents, { longDocuments: { maxTokensPerDoc: 300 }, activation: 'sigmoid' });
    expect(reply.body.results.map((r) => r.index)).toEqual(ranked.map((r) => r.corpusId));
    expectScores(reply.body.results.map((r) => r.relevance_score), ranked.map((r) => r.score));
    // Truncating instead gives other scores for the long documents.
    const truncated = await postJson<{ results: { index: number; relevance_score: number }[] }>(`${url}/v2/rerank`, { query: QUERY, documents });
    const byIndex = (results: { index: number; relevance_score: number }[], i: number) => results.find((r) => r.index === i)!.relevance_score;
    expect(byIndex(truncated.body.results, 2)).not.toBeCloseTo(byIndex(reply.body.results, 2), 6);
    expect(byIndex(truncated.body.results, 1)).toBeCloseTo(byIndex(reply.body.results, 1), 6);
    await short.dispose?.();
  });
});
