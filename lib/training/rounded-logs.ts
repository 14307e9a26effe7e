/**
 * A training log entry as it is shown (log lines, a logger's fields): rounded the way
 * transformers prints them, so lines read `loss 0.6931`, not `0.693147182464599`. The log
 * history (trainer_state.json, callbacks) keeps the exact values.
 */

/** `epoch` to 2 decimals (as transformers' ProgressCallback), learning rates to 3 significant digits, other floats to 4. */
export function roundedLogs(logs: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(logs).map(([key, value]) => [key, roundLogValue(key, value)]));
}

function roundLogValue(key: string, value: number): number {
  if (!Number.isFinite(value) || Number.isInteger(value)) return value;
  if (key === 'epoch') return Math.round(value * 100) / 100;
  if (key === 'learning_rate') return Number(value.toPrecision(3));
  // Losses and metrics: 4 decimals, as transformers rounds the logged loss; tiny values keep 4 significant digits.
  return Math.abs(value) >= 1e-3 ? Math.round(value * 1e4) / 1e4 : Number(value.toPrecision(4));
}
