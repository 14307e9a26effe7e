/** Writing the commands' output: stdout with back-pressure, JSON lines, tables, short floats. */
import { once } from 'node:events';

/**
 * The shortest decimal that reads back as the same float32: scores are float32, and printing
 * their float64 expansion (0.10000000149011612) would only add noise digits.
 */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

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
