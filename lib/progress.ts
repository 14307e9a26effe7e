/**
 * A small progress reporter shared by downloads, prediction and training.
 *
 * On a terminal it redraws one line in place:
 * `label [######--------------] 12/40 30% 3.2it/s ETA 0:08 loss=0.6931 lr=2.0e-05`.
 * On anything else (CI logs, files, pipes) carriage returns would turn into garbage, so it writes
 * plain lines instead, at most once per `intervalMs` plus a final one.
 */

/** What the counted quantity is: drives the number formatting and the rate's unit. */
export type ProgressUnit = 'it' | 'bytes' | 'pairs';

/** Extra `name=value` pairs shown after the counters, e.g. `{ loss: 0.6931, lr: 2e-5 }`. */
export type ProgressFields = Record<string, string | number>;

/** The subset of a writable stream the reporter needs (`process.stderr` and fakes satisfy it). */
export interface ProgressStream {
  write(chunk: string): unknown;
  /** True on a terminal: enables in-place redrawing. */
  isTTY?: boolean;
  /** Terminal width; the line is cut to fit so it never wraps (wrapping breaks `\r` redraws). */
  columns?: number;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Expected final count; `0` (or less) when unknown, which hides the bar, percentage and ETA. */
  total: number;
  /** Shown first on the line, e.g. a file name or `epoch 1/3`. */
  label?: string;
  /** Unit of the count. Default `'it'`. `'bytes'` prints sizes such as `12.3/90.9 MB`. */
  unit?: ProgressUnit;
  /** `false` makes every method a no-op. Default `true`. */
  enabled?: boolean;
  /** Where to write. Default `process.stderr`. */
  stream?: ProgressStream;
  /** Minimum time between two plain log lines when the stream is not a TTY. Default 10 000 ms. */
  intervalMs?: number;
  /** Count already done before this reporter started (a resumed download); excluded from the rate. */
  initial?: number;
  /** Clock in milliseconds, injectable for tests. Default `Date.now`. */
  now?: () => number;
  /** Also show the time elapsed since the start (`1:05 elapsed`). Default false. */
  showElapsed?: boolean;
}

/** A live progress line. Calls after {@link Progress.finish} are ignored. */
export interface Progress {
  /** Sets the completed count (absolute) and optionally replaces the extra fields. */
  update(completed: number, fields?: ProgressFields): void;
  /** Adds `delta` (default 1) to the completed count. */
  tick(delta?: number, fields?: ProgressFields): void;
  /**
   * Shows what is happening between two updates (`evaluating…`) at the end of the line and writes
   * the line at once, so a long pause never leaves an empty or stale line; undefined clears it.
   */
  setStatus(status: string | undefined): void;
  /** Writes the final state and ends the line. */
  finish(fields?: ProgressFields): void;
}

const DEFAULT_INTERVAL_MS = 10_000;
/** Redrawing a terminal line more often than this is invisible and costs CPU on hot loops. */
const TTY_REDRAW_MS = 100;
const BAR_WIDTH = 20;
const CLEAR_TO_END_OF_LINE = '\x1b[K';

const disabled: Progress = { update() {}, tick() {}, setStatus() {}, finish() {} };

/** Creates a progress reporter; see {@link ProgressOptions} for the output modes. */
export function createProgress(options: ProgressOptions): Progress {
  if (options.enabled === false) return disabled;
  const stream: ProgressStream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const minGapMs = tty ? TTY_REDRAW_MS : (options.intervalMs ?? DEFAULT_INTERVAL_MS);
  const format: LineFormat = {
    label: options.label,
    // A bar helps the eye on a live line; in a log it is noise.
    bar: tty,
    unit: options.unit ?? 'it',
    total: options.total > 0 ? options.total : 0,
    initial: options.initial ?? 0,
    startedAt: now(),
    showElapsed: options.showElapsed === true,
  };

  let completed = format.initial;
  let fields: ProgressFields = {};
  let status: string | undefined;
  // Non-TTY output starts quiet: the first log line comes one interval in (or at the end).
  let lastWriteAt = tty ? -Infinity : format.startedAt;
  let finished = false;

  const write = (final: boolean): void => {
    const line = formatLine(format, completed, fields, now(), status);
    if (!tty) {
      stream.write(`${line}\n`);
      return;
    }
    const width = (stream.columns ?? 80) - 1;
    stream.write(`\r${line.length > width ? line.slice(0, width) : line}${CLEAR_TO_END_OF_LINE}${final ? '\n' : ''}`);
  };

  const update = (value: number, newFields?: ProgressFields): void => {
    if (finished) return;
    completed = value;
    if (newFields) fields = newFields;
    const at = now();
    if (at - lastWriteAt < minGapMs) return;
    lastWriteAt = at;
    write(false);
  };

  return {
    update,
    tick: (delta = 1, newFields) => update(completed + delta, newFields),
    setStatus(newStatus) {
      if (finished) return;
      status = newStatus;
      lastWriteAt = now();
      write(false);
    },
    finish(newFields) {
      if (finished) return;
      finished = true;
      status = undefined;
      if (newFields) fields = newFields;
      write(true);
    },
  };
}

interface LineFormat {
  label?: string;
  bar: boolean;
  unit: ProgressUnit;
  total: number;
  initial: number;
  startedAt: number;
  showElapsed: boolean;
}

function formatLine(format: LineFormat, completed: number, fields: ProgressFields, at: number, status: string | undefined): string {
  const { total, unit } = format;
  const parts: string[] = [];
  if (format.label) parts.push(format.label);
  if (format.bar && total > 0) parts.push(bar(completed / total));
  parts.push(
    unit === 'bytes'
      ? formatByteCounts(completed, total)
      : total > 0
        ? `${completed}/${total}`
        : `${completed} ${unit}`,
  );
  if (total > 0) parts.push(`${Math.floor(Math.min(completed / total, 1) * 100)}%`);

  const seconds = (at - format.startedAt) / 1000;
  const rate = seconds > 0 ? (completed - format.initial) / seconds : 0;
  if (rate > 0) parts.push(unit === 'bytes' ? `${formatBytes(rate)}/s` : `${formatRate(rate)}${unit}/s`);
  if (format.showElapsed) parts.push(`${formatDuration(seconds)} elapsed`);
  if (rate > 0 && total > 0 && completed < total) parts.push(`ETA ${formatDuration((total - completed) / rate)}`);
  for (const [name, value] of Object.entries(fields)) parts.push(`${name}=${formatField(value)}`);
  if (status) parts.push(status);
  return parts.join(' ');
}

function bar(fraction: number): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

/** Decimal (1000-based) scale, as tqdm and the Hugging Face hub report sizes. */
function byteScale(bytes: number): number {
  let power = 0;
  while (power < BYTE_UNITS.length - 1 && Math.abs(bytes) >= 1000 ** (power + 1)) power += 1;
  return power;
}

function scaled(bytes: number, power: number): string {
  return power === 0 ? String(Math.round(bytes)) : (bytes / 1000 ** power).toFixed(1);
}

/** Formats a size with its own unit, e.g. `3.2 MB`. */
function formatBytes(bytes: number): string {
  const power = byteScale(bytes);
  return `${scaled(bytes, power)} ${BYTE_UNITS[power]}`;
}

/** `completed/total` in the total's unit (`12.3/90.9 MB`), so both numbers read on one scale. */
function formatByteCounts(completed: number, total: number): string {
  if (total <= 0) return formatBytes(completed);
  const power = byteScale(total);
  return `${scaled(completed, power)}/${scaled(total, power)} ${BYTE_UNITS[power]}`;
}

function formatRate(rate: number): string {
  return rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
}

/** `m:ss`, or `h:mm:ss` from one hour on. */
function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * Integers as is; tiny values (learning rates) in exponent form `2.0e-05`; others to 4 significant
 * digits (`0.6931`), without switching big values to exponent form.
 */
function formatField(value: string | number): string {
  if (typeof value === 'string' || Number.isInteger(value) || !Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3) {
    // Two-digit exponent like Python's `%.1e`, which is how the reference training logs print it.
    return value.toExponential(1).replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return magnitude < 1e4 ? value.toPrecision(4) : value.toFixed(0);
}
