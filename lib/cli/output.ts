/** Writing the commands' output: stdout with back-pressure, JSON lines, tables, short floats. */
import { once } from 'node:events';

// Shared with the HTTP service, which prints scores the same way.
export { shortestFloat32 } from '../float32.js';

/** Writes to stdout, waiting when the pipe is full so a slow reader bounds our memory. */
export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

export function jsonLines(values: readonly unknown[]): string {
  return values.map((value) => `${JSON.stringify(value)}\n`).join('');
}

/** Aligned two-column table of metric values. */
export function formatMetricsTable(metrics: Readonly<Record<string, number>>): string {
  const rows = Object.entries(metrics);
  const width = Math.max('metric'.length, ...rows.map(([name]) => name.length));
  const lines = [`${'metric'.padEnd(width)}  value`, ...rows.map(([name, value]) => `${name.padEnd(width)}  ${value.toFixed(4)}`)];
  return `${lines.join('\n')}\n`;
}

export function showProgress(): boolean {
  return process.stderr.isTTY === true;
}
