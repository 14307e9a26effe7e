/**
 * The serve benchmark's baseline: the same 20-document requests the HTTP clients send, scored
 * in-process with `model.rank(query, documents)` by `clients` concurrent callers for `seconds`,
 * in a process of its own (its peak RSS is its own):
 *
 *     node bench/.cache/serve-in-process.mjs <serve-requests.json> <modelDir> <clients> <seconds> <warmupSeconds>
 *
 * Prints one JSON line (an InProcessResult).
 */
import { readFile } from 'node:fs/promises';

import { CrossEncoder } from '../lib/index.js';

import type { InProcessResult, ServeRequest } from './serve-results.js';

async function main(): Promise<void> {
  const [requestsFile, modelDir, clientsArg, secondsArg, warmupArg] = process.argv.slice(2);
  const clients = Number(clientsArg);
  const seconds = Number(secondsArg);
  const warmup = Number(warmupArg);
  if (!requestsFile || !modelDir || !(clients > 0) || !(seconds > 0) || !(warmup >= 0)) {
    throw new Error('usage: serve-in-process <serve-requests.json> <modelDir> <clients> <seconds> <warmupSeconds>');
  }
  const requests = JSON.parse(await readFile(requestsFile, 'utf8')) as ServeRequest[];
  const model = await CrossEncoder.fromPretrained(modelDir);

  /** Each caller cycles through the requests from its own offset, as an autocannon connection does. */
  const run = async (until: number, latencies?: number[]) => {
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let i = client; performance.now() < until; i++) {
          const { query, documents } = requests[i % requests.length];
          const start = performance.now();
          await model.rank(query, documents);
          latencies?.push(performance.now() - start);
        }
      }),
    );
  };
  await run(performance.now() + warmup * 1000);
  const latencies: number[] = [];
  const start = performance.now();
  await run(start + seconds * 1000, latencies);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const result: InProcessResult = {
    clients,
    seconds: elapsed,
    requests: latencies.length,
    requestsPerSecond: latencies.length / elapsed,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
