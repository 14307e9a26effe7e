/**
 * `npm run bench -- --serve`: `crossencoder serve` under 1, 8 and 32 concurrent clients
 * (autocannon) sending 20-document Cohere rerank requests, against the same requests scored
 * in-process by as many concurrent `rank()` callers, so the serving overhead is a measured
 * ratio. Each run is a fresh process (the server, or the in-process worker) after a warm-up;
 * its peak RSS is its own. Requests are the benchmark corpus's rank calls (bench/corpus.ts).
 *
 *     npm run bench -- --serve [--quick] [--seconds N] [--json FILE]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import autocannon from 'autocannon';

import { buildCorpus, vocabularyWords } from './corpus.js';
import { workerEnv } from './environment.js';
import { IN_PROCESS_BUNDLE, MODEL_DIR, ROOT, SERVE_BUNDLE, SERVE_REQUESTS } from './paths.js';
import { formatServeReport } from './serve-report.js';
import type { InProcessResult, ServeComparison, ServedResult, ServeRequest } from './serve-results.js';
import { bundle, runChild } from './workers.js';

const CLIENTS = [1, 8, 32];
const DOCUMENTS = 20;
const REQUESTS = 32;
const SEED = 20261202;
const FULL = { seconds: 30, warmup: 5 };
const QUICK = { seconds: 4, warmup: 1 };
// Generous: 32 clients of 20 documents each on 2 cores wait several seconds for their answer.
const TIMEOUT_SECONDS = 120;

export interface ServeBenchOptions {
  quick: boolean;
  /** Measured seconds per run (default 30, 4 with --quick). */
  seconds?: number;
  json?: string;
  machine: string;
  log: (line: string) => void;
}

interface Server {
  child: ChildProcess;
  url: string;
  exit: Promise<number | null>;
}

/** Starts the bundled `crossencoder serve` on 127.0.0.1 and a free port; resolves once it printed its URL. */
function startServer(): Promise<Server> {
  const args = [SERVE_BUNDLE, 'serve', '--model', MODEL_DIR, '--host', '127.0.0.1', '--port', '0', '--log-level', 'error', '--max-concurrent-requests', '4096'];
  const child = spawn(process.execPath, args, { env: workerEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const url = /^(http:\/\/\S+)\n/m.exec(stdout)?.[1];
      if (url) resolve({ child, url, exit });
    });
    void exit.then((code) => reject(new Error(`crossencoder serve exited with ${code} before it was ready:\n${stderr.slice(-2000)}`)));
  });
}

/** Peak RSS of a live process (Linux VmHWM), MiB. */
function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return line === undefined ? NaN : Number(/(\d+)/.exec(line)![1]) / 1024;
}

/** te_batch_next_size's sum and count: pairs and forwards so far. */
async function forwardCounts(url: string): Promise<{ pairs: number; forwards: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(text.split('\n').find((line) => line.startsWith(`${name} `))?.split(' ')[1] ?? 0);
  return { pairs: value('te_batch_next_size_sum'), forwards: value('te_batch_next_size_count') };
}

function cannon(url: string, clients: number, seconds: number, requests: readonly ServeRequest[]): Promise<autocannon.Result> {
  return autocannon({
    url,
    connections: clients,
    duration: seconds,
    timeout: TIMEOUT_SECONDS,
    requests: requests.map(({ query, documents }) => ({
      method: 'POST',
      path: '/v2/rerank',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'bench', query, documents }),
    })),
  });
}

async function measureServed(clients: number, seconds: number, warmup: number, requests: readonly ServeRequest[]): Promise<ServedResult> {
  const server = await startServer();
  try {
    await cannon(server.url, clients, warmup, requests);
    const before = await forwardCounts(server.url);
    const result = await cannon(server.url, clients, seconds, requests);
    const after = await forwardCounts(server.url);
    const maxRssMiB = peakRssMiB(server.child.pid!);
    return {
      clients,
      seconds: result.duration,
      requests: result['2xx'],
      requestsPerSecond: result['2xx'] / result.duration,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxRssMiB,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      pairsPerForward: (after.pairs - before.pairs) / Math.max(1, after.forwards - before.forwards),
    };
  } finally {
    server.child.kill('SIGTERM');
    const code = await server.exit;
    if (code !== 0) throw new Error(`crossencoder serve exited with ${code} on SIGTERM`);
  }
}

function measureInProcess(clients: number, seconds: number, warmup: number): Promise<InProcessResult> {
  const args = [IN_PROCESS_BUNDLE, SERVE_REQUESTS, MODEL_DIR, String(clients), String(seconds), String(warmup)];
  return runChild(process.execPath, args, workerEnv({})) as Promise<InProcessResult>;
}

export async function runServeBench(options: ServeBenchOptions): Promise<void> {
  const timing = options.quick ? QUICK : FULL;
  const seconds = options.seconds ?? timing.seconds;
  const corpus = buildCorpus(SEED, vocabularyWords(path.join(MODEL_DIR, 'vocab.txt')), {
    predictPairs: 0,
    rankRepeats: REQUESTS,
    rankDocuments: DOCUMENTS,
    trainSteps: 0,
    trainBatchSize: 1,
  });
  const requests: ServeRequest[] = corpus.rank;
  writeFileSync(SERVE_REQUESTS, JSON.stringify(requests));
  await bundle(path.join(ROOT, 'lib', 'cli', 'index.ts'), SERVE_BUNDLE);
  await bundle(path.join(ROOT, 'bench', 'serve-in-process.ts'), IN_PROCESS_BUNDLE);

  const rows: ServeComparison[] = [];
  for (const clients of CLIENTS) {
    options.log(`serve: ${clients} client(s), ${seconds} s after ${timing.warmup} s of warm-up…`);
    const served = await measureServed(clients, seconds, timing.warmup, requests);
    options.log(`  served: ${served.requestsPerSecond.toFixed(2)} req/s, p50 ${served.p50Ms} ms, p99 ${served.p99Ms} ms`);
    const inProcess = await measureInProcess(clients, seconds, timing.warmup);
    options.log(`  in-process: ${inProcess.requestsPerSecond.toFixed(2)} req/s, p50 ${inProcess.p50Ms.toFixed(0)} ms`);
    rows.push({ clients, served, inProcess });
  }
  console.log(formatServeReport(rows, { machine: options.machine, model: path.relative(ROOT, MODEL_DIR), documents: DOCUMENTS, seconds }));
  if (options.json) writeFileSync(options.json, JSON.stringify({ machine: options.machine, seconds, rows }, null, 2));
}
