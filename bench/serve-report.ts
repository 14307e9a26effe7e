/** The serve benchmark's Markdown report: the service against in-process rank(), per client count. */
import type { ServeComparison } from './serve-results.js';

const fixed = (value: number, digits = 1) => value.toFixed(digits);

/**
 * One row per client count. Ratios are oriented so that > 1 means the service does better:
 * served/in-process for requests/s, in-process/served for latency and RSS.
 */
export function formatServeReport(rows: readonly ServeComparison[], header: { machine: string; model: string; documents: number; seconds: number }): string {
  const lines = [
    `## Serve benchmark`,
    '',
    `${header.machine}; model ${header.model}; requests of ${header.documents} documents; ${header.seconds} s per run after a warm-up.`,
    '',
    '| clients | served req/s | p50 ms | p99 ms | RSS MiB | pairs/forward | in-process req/s | p50 ms | p99 ms | RSS MiB | req/s ratio | p50 ratio | RSS ratio |',
    '|--------:|-------------:|-------:|-------:|--------:|--------------:|-----------------:|-------:|-------:|--------:|------------:|----------:|----------:|',
  ];
  for (const { clients, served, inProcess } of rows) {
    lines.push(
      `| ${clients} | ${fixed(served.requestsPerSecond, 2)} | ${fixed(served.p50Ms, 0)} | ${fixed(served.p99Ms, 0)} | ${fixed(served.maxRssMiB, 0)} | ${fixed(served.pairsPerForward)} | ` +
        `${fixed(inProcess.requestsPerSecond, 2)} | ${fixed(inProcess.p50Ms, 0)} | ${fixed(inProcess.p99Ms, 0)} | ${fixed(inProcess.maxRssMiB, 0)} | ` +
        `${fixed(served.requestsPerSecond / inProcess.requestsPerSecond, 2)}× | ${fixed(inProcess.p50Ms / served.p50Ms, 2)}× | ${fixed(inProcess.maxRssMiB / served.maxRssMiB, 2)}× |`,
    );
  }
  const failed = rows.filter(({ served }) => served.errors + served.timeouts + served.non2xx > 0);
  for (const { clients, served } of failed) {
    lines.push('', `**${clients} clients: ${served.errors} errors, ${served.timeouts} timeouts, ${served.non2xx} non-2xx answers: the run is not valid.**`);
  }
  return `${lines.join('\n')}\n`;
}
