/**
 * `crossencoder serve` as a user runs it (a child process on the current source, the generated
 * MiniLM-L6-shaped model, 127.0.0.1 and a free port): it prints its URL once ready, answers the
 * Cohere SDK and the TEI shapes with the model's scores, refuses bad requests, holds 16
 * concurrent connections (autocannon) for SERVE_SOAK_SECONDS (default 10) with no error and
 * bounded RSS, and on SIGTERM answers the request in flight and exits 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import autocannon from 'autocannon';
import { CohereClientV2 } from 'cohere-ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, type Pair } from '../lib/index.js';
import { DEFAULT_LIMITS } from '../lib/serving/options.js';
import { packForward } from '../lib/serving/pack-forward.js';

import { metricValue, postJson } from './helpers/http.js';
import { testModel } from './helpers/models.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'lib/cli/index.ts');
const MODEL = testModel('minilm-l6');
const SOAK_SECONDS = Number(process.env.SERVE_SOAK_SECONDS ?? 10);
const KEY = 'test-key';
const AUTH = { authorization: `Bearer ${KEY}` };

const QUERY = 'How many people live in Berlin?';
const SENTENCE = 'Berlin is the capital and largest city of Germany, both by area and by population. ';
/** 20 documents of 1 to 4 sentences, as the benchmark sends. */
const DOCUMENTS = Array.from({ length: 20 }, (_, i) => `${SENTENCE.repeat(1 + (i % 4))}(${i})`);

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts `crossencoder serve` and resolves once it printed its URL. */
function serve(args: readonly string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', ...args], {
    cwd: ROOT,
    env: { ...process.env, HF_HUB_OFFLINE: '1', CROSSENCODER_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const url = /^(http:\/\/127\.0\.0\.1:\d+)\n/m.exec(stdout)?.[1];
      if (url) resolve({ child, url, stderr: () => stderr, exit });
    });
    void exit.then((code) => reject(new Error(`serve exited with ${code} before printing its URL: ${stderr}`)));
  });
}

/** Resident memory of a process, in MB (Linux). */
function rssMegabytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

/** Forwards one request of DOCUMENTS takes when it is alone in the queue (the server's default limits). */
function forwardsAlone(): number {
  let lengths = pairs.map(([query, document]) => model.tokenizer.encodePair(query, document, model.maxLength).inputIds.length);
  let forwards = 0;
  while (lengths.length > 0) {
    const picked = new Set(packForward(lengths, DEFAULT_LIMITS.maxBatchTokens, DEFAULT_LIMITS.batchSize));
    lengths = lengths.filter((_, i) => !picked.has(i));
    forwards++;
  }
  return forwards;
}

let model: CrossEncoder;
let served: Served;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const pairs: Pair[] = DOCUMENTS.map((document) => [QUERY, document]);

beforeAll(async () => {
  [model, served] = await Promise.all([
    CrossEncoder.fromPretrained(MODEL),
    serve(['--model', MODEL, '--port', '0', '--max-client-batch-size', '64'], { CROSSENCODER_API_KEY: KEY }),
  ]);
});

afterAll(async () => {
  if (served?.child.exitCode === null) served.child.kill('SIGKILL');
  await model?.dispose?.();
});

describe('crossencoder serve', () => {
  it("answers the Cohere SDK and the TEI shapes with the model's scores", async () => {
    const expected = (await model.predict(pairs, { activation: 'identity' })) as Float32Array;
    const cohere = await new CohereClientV2({ token: KEY, baseUrl: served.url }).rerank({ model: 'minilm', query: QUERY, documents: DOCUMENTS, topN: 5 });
    expect(cohere.results).toHaveLength(5);
    for (const result of cohere.results) expect(Math.abs(result.relevanceScore - sigmoid(expected[result.index]))).toBeLessThanOrEqual(1e-5);

    const tei = await postJson<{ index: number; score: number }[]>(`${served.url}/rerank`, { query: QUERY, texts: DOCUMENTS, raw_scores: true }, AUTH);
    expect(tei.status).toBe(200);
    for (const rank of tei.body) expect(Math.abs(rank.score - expected[rank.index])).toBeLessThanOrEqual(1e-5);
    const predict = await postJson<{ score: number }[][]>(`${served.url}/predict`, { inputs: pairs.slice(0, 3) }, AUTH);
    predict.body.forEach((predictions, i) => expect(Math.abs(predictions[0].score - sigmoid(expected[i]))).toBeLessThanOrEqual(1e-5));
  });

  it('rejects bad requests with their statuses', async () => {
    expect((await postJson(`${served.url}/v2/rerank`, { query: QUERY, documents: DOCUMENTS })).status).toBe(401);
    expect(await postJson(`${served.url}/v2/rerank`, { query: QUERY, documents: 'not a list' }, AUTH)).toMatchObject({ status: 422, body: { error_type: 'Validation' } });
    expect(await postJson(`${served.url}/v2/rerank`, { query: QUERY, documents: Array(65).fill('d') }, AUTH)).toMatchObject({ status: 413 });
    expect(await postJson(`${served.url}/v2/rerank`, '{"query"', AUTH)).toMatchObject({ status: 400 });
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
  });

  it(`holds 16 concurrent connections for ${SOAK_SECONDS} s with no error and bounded RSS`, async () => {
    const pid = served.child.pid!;
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMegabytes(pid)), 250);
    const result = await autocannon({
      url: `${served.url}/v2/rerank`,
      method: 'POST',
      connections: 16,
      duration: SOAK_SECONDS,
      headers: { 'content-type': 'application/json', ...AUTH },
      body: JSON.stringify({ model: 'minilm', query: QUERY, documents: DOCUMENTS }),
    });
    clearInterval(sampler);
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(result['2xx']).toBeGreaterThan(16);
    // Bounded: the last third of the run peaks no more than 64 MB above the first third.
    const third = Math.floor(samples.length / 3);
    const early = Math.max(...samples.slice(0, third));
    const late = Math.max(...samples.slice(-third));
    expect(late - early, `RSS ${early.toFixed(0)} MB early, ${late.toFixed(0)} MB late`).toBeLessThan(64);
    const text = await (await fetch(`${served.url}/metrics`, { headers: AUTH })).text();
    expect(metricValue(text, 'http_requests_total{method="POST",route="/v2/rerank",status="200"}')).toBeGreaterThanOrEqual(result['2xx']);
    // 16 clients at once: forwards hold pairs of several requests, so there are fewer of them than
    // the requests would take one at a time.
    const requests = metricValue(text, 'te_batch_next_size_sum') / DOCUMENTS.length;
    expect(metricValue(text, 'te_batch_next_size_count')).toBeLessThan(requests * forwardsAlone());
  });

  it('on SIGTERM answers the request in flight, then exits 0', async () => {
    const many = Array.from({ length: 60 }, (_, i) => `${SENTENCE.repeat(1 + (i % 12))}(${i})`);
    const reply = postJson<{ results: unknown[] }>(`${served.url}/v2/rerank`, { query: QUERY, documents: many }, AUTH);
    const deadline = Date.now() + 10_000;
    while (metricValue(await (await fetch(`${served.url}/metrics`, { headers: AUTH })).text(), 'crossencoder_requests_in_flight') < 1) {
      if (Date.now() > deadline) throw new Error('the request never arrived');
    }
    served.child.kill('SIGTERM');
    const answered = await reply;
    expect(answered.status).toBe(200);
    expect(answered.body.results).toHaveLength(60);
    expect(await served.exit).toBe(0);
    expect(served.stderr()).toMatch(/SIGTERM: answering the requests in flight, then stopping/);
  });

  it('exits 2 on a usage error and 1 when the model cannot be loaded', async () => {
    await expect(serve(['--model', MODEL, '--port', '70000'])).rejects.toThrow(/exited with 2.*--port must be at most 65535/s);
    await expect(serve(['--model', path.join(ROOT, 'no-such-model'), '--port', '0', '--local-files-only'])).rejects.toThrow(/exited with 1/);
    await expect(serve(['--model', MODEL, '--admin-reload'])).rejects.toThrow(/exited with 2.*--admin-reload needs --api-key/s);
  });
});
