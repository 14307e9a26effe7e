/**
 * The training-loss picture: a small self-contained SVG (no scripts, no external resources) of
 * the loss over the optimizer steps, plus one small panel per evaluation metric, drawn from a
 * trainer's `logHistory` (Hugging Face's `trainer_state.json` entries).
 */
import path from 'node:path';

import { writeFileAtomic } from '../atomic-file.js';

/** The file name `savePretrained` and the trainer give the picture. */
export const LOSS_PLOT_FILE = 'training_loss.svg';

/** One log entry, as Hugging Face's Trainer records it (`loss`, `eval_*`, `step`, `epoch`, …). */
export type LogEntry = Readonly<Record<string, number>>;

interface Point {
  step: number;
  value: number;
}

interface Series {
  /** The log key it is drawn from, e.g. `loss` or `eval_ndcg@10`. */
  key: string;
  label: string;
  color: string;
  points: Point[];
}

interface Panel {
  title: string;
  series: Series[];
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Axis {
  min: number;
  max: number;
  ticks: number[];
  /** Distance between ticks; decides how many decimals the labels show. */
  step: number;
}

const WIDTH = 760;
const MARGIN = 24;
const HEADER_HEIGHT = 56;
const LOSS_PANEL_HEIGHT = 300;
const METRIC_PANEL_HEIGHT = 190;
const PANEL_GAP = 20;
const METRIC_COLUMNS = 3;
/** Plot-area insets inside a panel: room for the panel title, tick labels and the axis label. */
const INSET = { top: 34, right: 16, bottom: 38, left: 58 };
/** Above this many points a series is drawn as a line only, without a marker per point. */
const MAX_MARKERS = 60;

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";
const INK = '#1f2937';
const MUTED = '#6b7280';
const GRID = '#e5e7eb';
const FRAME = '#d1d5db';
const TRAIN_COLOR = '#2563eb';
const EVAL_LOSS_COLOR = '#ea580c';
const METRIC_COLORS = ['#16a34a', '#9333ea', '#0891b2', '#db2777', '#ca8a04', '#4f46e5'];

/** Above this many points a series is thinned to evenly spaced ones (keeping the last). */
const MAX_POINTS = 2000;

const BEST_COLOR = '#b91c1c';

/** Options of {@link renderLossPlot}. */
export interface LossPlotOptions {
  /**
   * The loss of every step: drawn as the training loss when the history logged fewer than two
   * loss points (a short run that logs every 500 steps).
   */
  stepLosses?: ReadonlyArray<{ step: number; loss: number }>;
  /** The best checkpoint's step, marked in every panel. */
  bestStep?: number;
}

/** Timings the Trainer logs with each evaluation (`eval_runtime`, …), which are not metrics. */
const TIMING = /_(runtime|samples_per_second|steps_per_second)$/;

/** Whether a log key holds an evaluation metric: `eval_*`, but not a timing. */
export function isEvalMetricKey(key: string): boolean {
  return key.startsWith('eval_') && !TIMING.test(key);
}

/**
 * Renders the training loss (and `eval_loss`) over steps, and each other `eval_*` metric in its
 * own small panel, as an SVG document. Entries without a finite `step`, and non-finite values,
 * are skipped.
 * @returns the SVG text, or undefined when the history holds nothing to plot.
 */
export function renderLossPlot(logHistory: readonly LogEntry[], options: LossPlotOptions = {}): string | undefined {
  let training = series(logHistory, 'loss', 'Training loss', TRAIN_COLOR);
  if (training.points.length < 2 && options.stepLosses && options.stepLosses.length > training.points.length) {
    const steps = options.stepLosses.map(({ step, loss }) => ({ step, loss }));
    training = series(steps, 'loss', 'Training loss (every step)', TRAIN_COLOR);
  }
  const lossSeries = [training, series(logHistory, 'eval_loss', 'Evaluation loss', EVAL_LOSS_COLOR)].filter((s) => s.points.length > 0);
  const metricSeries = metricKeys(logHistory)
    .map((key, i) => series(logHistory, key, key.slice('eval_'.length), METRIC_COLORS[i % METRIC_COLORS.length]))
    .filter((s) => s.points.length > 0);
  if (lossSeries.length === 0 && metricSeries.length === 0) return undefined;

  const panels = layout(lossSeries, metricSeries);
  const height = panels.reduce((bottom, panel) => Math.max(bottom, panel.y + panel.height), 0) + MARGIN;
  const steps = allPoints([...lossSeries, ...metricSeries]).map((p) => p.step);
  const title = lossSeries.length > 0 ? 'Training loss' : 'Evaluation metrics';
  const subtitle = summary(logHistory, lossSeries, metricSeries);

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `role="img" aria-labelledby="plot-title" font-family="${FONT}" font-size="12" fill="${INK}">`,
    `<title id="plot-title">${escapeXml(`${title}: ${subtitle}`)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="30" font-size="18" font-weight="600">${escapeXml(title)}</text>`,
    `<text x="${MARGIN}" y="48" fill="${MUTED}">${escapeXml(subtitle)}</text>`,
    ...panels.map((panel) => renderPanel(panel, steps, options.bestStep)),
    '</svg>',
    '',
  ].join('\n');
}

/**
 * Writes {@link renderLossPlot}'s picture to `dir/training_loss.svg` (temp file, then rename).
 * @returns the file written, or undefined when there was nothing to plot (nothing is written).
 * @throws FileSystemError naming the file when it cannot be written.
 */
export async function writeLossPlot(dir: string, logHistory: readonly LogEntry[], options: LossPlotOptions = {}): Promise<string | undefined> {
  const svg = renderLossPlot(logHistory, options);
  if (svg === undefined) return undefined;
  const file = path.join(dir, LOSS_PLOT_FILE);
  await writeFileAtomic(file, svg);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Data.

function series(logHistory: readonly LogEntry[], key: string, label: string, color: string): Series {
  const points: Point[] = [];
  for (const entry of logHistory) {
    const step = entry.step;
    const value = entry[key];
    if (Number.isFinite(step) && Number.isFinite(value)) points.push({ step, value });
  }
  points.sort((a, b) => a.step - b.step);
  return { key, label, color, points: thin(points) };
}

/** Every `every`-th point and the last, when there are more than {@link MAX_POINTS}. */
function thin(points: Point[]): Point[] {
  if (points.length <= MAX_POINTS) return points;
  const every = Math.ceil(points.length / MAX_POINTS);
  return points.filter((_, i) => i % every === 0 || i === points.length - 1);
}

/** `eval_*` metric keys other than the loss and the timings, in order of first appearance. */
function metricKeys(logHistory: readonly LogEntry[]): string[] {
  const keys = new Set<string>();
  for (const entry of logHistory) {
    for (const key of Object.keys(entry)) {
      if (key !== 'eval_loss' && isEvalMetricKey(key)) keys.add(key);
    }
  }
  return [...keys];
}

function allPoints(list: readonly Series[]): Point[] {
  return list.flatMap((s) => s.points);
}

/** "120 steps · final training loss 0.2311 · 4 evaluations". */
function summary(logHistory: readonly LogEntry[], lossSeries: readonly Series[], metricSeries: readonly Series[]): string {
  const lastStep = extent(allPoints([...lossSeries, ...metricSeries]).map((p) => p.step))[1];
  const parts = [`${lastStep} step${lastStep === 1 ? '' : 's'}`];
  const train = lossSeries.find((s) => s.key === 'loss');
  if (train) parts.push(`final training loss ${formatValue(train.points[train.points.length - 1].value)}`);
  const evaluations = logHistory.filter((entry) => Object.keys(entry).some(isEvalMetricKey)).length;
  if (evaluations > 0) parts.push(`${evaluations} evaluation${evaluations === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

// ---------------------------------------------------------------------------------------------
// Layout and drawing.

/** The loss panel across the top, then the metric panels in rows of up to three. */
function layout(lossSeries: Series[], metricSeries: Series[]): Panel[] {
  const panels: Panel[] = [];
  const innerWidth = WIDTH - 2 * MARGIN;
  let y = HEADER_HEIGHT + 8;
  if (lossSeries.length > 0) {
    panels.push({ title: 'Loss', series: lossSeries, x: MARGIN, y, width: innerWidth, height: LOSS_PANEL_HEIGHT });
    y += LOSS_PANEL_HEIGHT + PANEL_GAP;
  }
  const columns = Math.min(METRIC_COLUMNS, metricSeries.length);
  const width = (innerWidth - (columns - 1) * PANEL_GAP) / Math.max(columns, 1);
  metricSeries.forEach((s, i) => {
    const column = i % columns;
    const row = Math.floor(i / columns);
    panels.push({
      title: s.label,
      series: [s],
      x: MARGIN + column * (width + PANEL_GAP),
      y: y + row * (METRIC_PANEL_HEIGHT + PANEL_GAP),
      width,
      height: METRIC_PANEL_HEIGHT,
    });
  });
  return panels;
}

/** Draws one panel; every panel's step axis spans `steps`, so the panels line up. */
function renderPanel(panel: Panel, steps: readonly number[], bestStep: number | undefined): string {
  const plot = {
    left: panel.x + INSET.left,
    right: panel.x + panel.width - INSET.right,
    top: panel.y + INSET.top,
    bottom: panel.y + panel.height - INSET.bottom,
  };
  // Steps span exactly the logged range, so the curves use the full width; values get round ends.
  // Tick density follows the panel's size (about one tick per 100 px across, 40 px up).
  const stepAxis = niceAxis(steps, { tight: true, integer: true, targetTicks: Math.max(2, Math.floor((plot.right - plot.left) / 100)) });
  const valueAxis = niceAxis(
    allPoints(panel.series).map((p) => p.value),
    { targetTicks: Math.max(2, Math.floor((plot.bottom - plot.top) / 40)) },
  );
  const sx = (step: number) => plot.left + ((step - stepAxis.min) / (stepAxis.max - stepAxis.min)) * (plot.right - plot.left);
  const sy = (value: number) => plot.bottom - ((value - valueAxis.min) / (valueAxis.max - valueAxis.min)) * (plot.bottom - plot.top);

  const parts: string[] = [`<g class="panel" data-panel="${escapeXml(panel.title)}">`];
  parts.push(
    `<rect x="${n(panel.x)}" y="${n(panel.y)}" width="${n(panel.width)}" height="${n(panel.height)}" rx="6" fill="#f9fafb" stroke="${FRAME}"/>`,
    `<text x="${n(panel.x + 12)}" y="${n(panel.y + 21)}" font-size="13" font-weight="600">${escapeXml(clip(panel.title, panel.width - 24))}</text>`,
  );
  // Grid lines and tick labels.
  for (const tick of valueAxis.ticks) {
    const y = n(sy(tick));
    parts.push(
      `<line x1="${n(plot.left)}" x2="${n(plot.right)}" y1="${y}" y2="${y}" stroke="${GRID}"/>`,
      `<text x="${n(plot.left - 6)}" y="${y}" dy="0.32em" text-anchor="end" font-size="11" fill="${MUTED}">${formatTick(tick, valueAxis.step)}</text>`,
    );
  }
  for (const tick of stepAxis.ticks) {
    const x = n(sx(tick));
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${n(plot.top)}" y2="${n(plot.bottom)}" stroke="${GRID}"/>`,
      `<text x="${x}" y="${n(plot.bottom + 15)}" text-anchor="middle" font-size="11" fill="${MUTED}">${formatTick(tick, stepAxis.step)}</text>`,
    );
  }
  parts.push(
    `<line x1="${n(plot.left)}" x2="${n(plot.right)}" y1="${n(plot.bottom)}" y2="${n(plot.bottom)}" stroke="${MUTED}"/>`,
    `<line x1="${n(plot.left)}" x2="${n(plot.left)}" y1="${n(plot.top)}" y2="${n(plot.bottom)}" stroke="${MUTED}"/>`,
    `<text x="${n((plot.left + plot.right) / 2)}" y="${n(plot.bottom + 31)}" text-anchor="middle" font-size="11" fill="${MUTED}">Step</text>`,
  );
  if (bestStep !== undefined && bestStep >= stepAxis.min && bestStep <= stepAxis.max) {
    const x = n(sx(bestStep));
    parts.push(
      `<g class="best" data-step="${bestStep}"><line x1="${x}" x2="${x}" y1="${n(plot.top)}" y2="${n(plot.bottom)}" stroke="${BEST_COLOR}" stroke-dasharray="4 3"/>`,
      `<text x="${x}" y="${n(plot.top - 4)}" text-anchor="middle" font-size="10" fill="${BEST_COLOR}">best (step ${bestStep})</text></g>`,
    );
  }
  for (const s of panel.series) parts.push(renderSeries(s, sx, sy));
  if (panel.series.length > 1 || panel.series[0].key === 'loss') parts.push(renderLegend(panel, plot.right));
  parts.push('</g>');
  return parts.join('\n');
}

function renderSeries(s: Series, sx: (step: number) => number, sy: (value: number) => number): string {
  const coordinates = s.points.map((p) => `${n(sx(p.step))},${n(sy(p.value))}`);
  const parts = [`<g class="series" data-series="${escapeXml(s.key)}" data-points="${s.points.length}">`];
  if (s.points.length > 1) {
    parts.push(
      `<polyline points="${coordinates.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`,
    );
  }
  if (s.points.length <= MAX_MARKERS) {
    for (const coordinate of coordinates) {
      const [cx, cy] = coordinate.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="2.75" fill="#ffffff" stroke="${s.color}" stroke-width="1.5"/>`);
    }
  }
  parts.push('</g>');
  return parts.join('\n');
}

/** Legend in the panel's title row, right-aligned: a swatch, the label and the last value per series. */
function renderLegend(panel: Panel, right: number): string {
  const entries = panel.series.map((s) => `${s.label} ${formatValue(s.points[s.points.length - 1].value)}`);
  // Approximate text widths (no layout engine in an SVG string): ~6.2 px per character at 11 px.
  const widths = entries.map((text) => 18 + text.length * 6.2);
  let x = right - widths.reduce((sum, w) => sum + w + 14, -14);
  const y = panel.y + 21;
  const parts: string[] = ['<g class="legend">'];
  panel.series.forEach((s, i) => {
    parts.push(
      `<line x1="${n(x)}" x2="${n(x + 12)}" y1="${n(y - 4)}" y2="${n(y - 4)}" stroke="${s.color}" stroke-width="3" stroke-linecap="round"/>`,
      `<text x="${n(x + 17)}" y="${n(y)}" font-size="11">${escapeXml(entries[i])}</text>`,
    );
    x += widths[i] + 14;
  });
  parts.push('</g>');
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Scales and numbers.

/**
 * An axis over the values with ticks at round numbers (1, 2 or 5 × 10^k apart). The axis ends
 * are widened to ticks, or, when `tight`, kept at the values' extremes.
 */
function niceAxis(values: readonly number[], { tight = false, integer = false, targetTicks = 5 } = {}): Axis {
  let [min, max] = extent(values);
  if (min === max) {
    const pad = integer ? 1 : Math.abs(min) * 0.1 || 1;
    min = tight && min >= 0 ? Math.max(0, min - pad) : min - pad;
    max += pad;
  }
  const step = Math.max(niceStep((max - min) / targetTicks), integer ? 1 : 0);
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  const lo = tight ? min : Math.min(min, Math.floor(min / step + 1e-9) * step);
  const hi = tight ? max : Math.max(max, Math.ceil(max / step - 1e-9) * step);
  const ticks: number[] = [];
  for (let i = tight ? first : Math.floor(lo / step + 1e-9); i <= (tight ? last : Math.round(hi / step)); i++) {
    ticks.push(roundTo(i * step, step));
  }
  return { min: lo, max: hi, ticks, step };
}

/** [min, max] without spreading the values into arguments (long histories overflow the stack). */
function extent(values: readonly number[]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return [min, max];
}

function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / magnitude;
  // Nearest of 1, 2, 5, 10 (geometrically), so the tick count stays near the target.
  const nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  return nice * magnitude;
}

/** Removes the floating-point noise of `lo + i * step` (0.30000000000000004 → 0.3). */
function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(value.toFixed(Math.min(decimals, 20)));
}

/** A tick label with as many decimals as the tick spacing needs; thousands as `k`. */
function formatTick(value: number, step: number): string {
  if (Math.abs(value) >= 1000 && step >= 1000) return `${value / 1000}k`;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

/** A value in a legend or summary: four significant digits. */
function formatValue(value: number): string {
  return Math.abs(value) >= 1e5 || (Math.abs(value) < 1e-3 && value !== 0) ? value.toExponential(3) : trimZeros(value.toPrecision(4));
}

/** The text cut with an ellipsis to fit about `width` px at 13 px (~7.5 px per character). */
function clip(text: string, width: number): string {
  const chars = Math.max(4, Math.floor(width / 7.5));
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

function trimZeros(text: string): string {
  return text.includes('.') && !text.includes('e') ? text.replace(/\.?0+$/, '') : text;
}

/** A coordinate with two decimals at most. */
function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}
