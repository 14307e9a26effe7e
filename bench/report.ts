/**
 * The benchmark's printed report: Markdown tables (readable in a terminal, pasteable into
 * BENCHMARKS.md). First what each workload computes, then every thread setting tried on each
 * side, then every side at its best with ratios for every figure (ours against PyTorch and
 * against ONNX Runtime), FLOP/s against the measured sgemm peak, and RSS.
 */
import type { Comparison, MatrixRow, Trial } from './compare.js';
import type { CorpusSizes } from './corpus.js';
import type { ThreadSetting } from './settings.js';
import type { Peaks } from './workers.js';
import {
  type BatchStats,
  headline,
  type ModelShape,
  percentile,
  PREDICT_BATCH_SIZE,
  shapeStats,
  TRAIN_FLOPS_PER_FORWARD,
  type Workload,
  type WorkerResult,
} from './workloads.js';

export interface ReportInput {
  machine: string;
  shape: ModelShape;
  sizes: CorpusSizes;
  /** Whole batches as predict forms them. */
  stats: Record<Workload, BatchStats>;
  peaks?: Peaks;
  comparisons: Comparison[];
  matrix: MatrixRow[];
  quick: boolean;
  /** Which ONNX model the ONNX Runtime side ran (float32, or int8 with --ort-quantized). */
  ortModel?: string;
}

const MiB = (kib: number) => kib / 1024;
const fixed = (value: number | undefined, digits: number) => (value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits));

/** A row: label, our value, each peer's, and ratios oriented so that > 1 means we are better. */
interface Row {
  label: string;
  ours: number;
  torch?: number;
  /** ONNX Runtime (predict and rank only). */
  ort?: number;
  digits: number;
  /** 'higher': ours / peer (throughput, FLOP/s); 'lower': peer / ours (latency, memory, work). */
  better: 'higher' | 'lower' | 'none';
}

/** Ours against one peer's value, > 1 when ours is better; undefined when there is nothing to compare. */
function ratioValue(row: Row, peer: number | undefined): number | undefined {
  if (peer === undefined || row.better === 'none' || !Number.isFinite(row.ours) || !Number.isFinite(peer)) return undefined;
  return row.better === 'higher' ? row.ours / peer : peer / row.ours;
}

function ratio(row: Row, peer: number | undefined): string {
  const value = ratioValue(row, peer);
  return value === undefined ? '' : `${value.toFixed(2)}×`;
}

/** A setting's name, with the threads the worker reported when the name does not say them. */
function settingText(setting: ThreadSetting, result: WorkerResult): string {
  if (setting.expects) return setting.name;
  return `${setting.name} (intra-op ${result.threads.intraOp}, OpenBLAS ${result.threads.blas}, OMP_WAIT_POLICY ${result.threads.waitPolicy})`;
}

/** Matmul FLOPs of the forwards a run executed (training: ×3 for the backward). */
function work(shape: ModelShape, result: WorkerResult) {
  const stats = shapeStats(shape, result.forwards.measured.flat());
  return { ...stats, flops: result.workload === 'train' ? stats.flops * TRAIN_FLOPS_PER_FORWARD : stats.flops };
}

/** The peak the % column is taken against: the best sgemm the machine ran, any thread count. */
const peakOf = (peaks: Peaks | undefined) => (peaks ? Math.max(peaks.oneThread, peaks.twoThreads) : undefined);

function rowsOf(workload: Workload, ours: WorkerResult, torch: WorkerResult | undefined, shape: ModelShape, peak: number | undefined, ort?: WorkerResult): Row[] {
  const rows: Row[] = [];
  const add = (label: string, value: (r: WorkerResult) => number | undefined, digits: number, better: Row['better']) =>
    rows.push({ label, ours: value(ours) ?? Number.NaN, torch: torch && value(torch), ort: ort && value(ort), digits, better });
  const gflops = (r: WorkerResult) => work(shape, r).flops / r.seconds / 1e9;
  if (workload === 'rank') {
    const ms = (p: number) => (r: WorkerResult) => (r.latencies ? percentile(r.latencies, p) * 1000 : undefined);
    add('rank 1×20 latency p50 (ms)', ms(50), 1, 'lower');
    add('rank 1×20 latency p99 (ms)', ms(99), 1, 'lower');
  } else {
    add(workload === 'predict' ? 'predict throughput (pairs/s)' : 'train throughput (pairs/s)', (r) => r.pairs / r.seconds, 1, 'higher');
  }
  add('  padded tokens run', (r) => work(shape, r).paddedTokens, 0, 'lower');
  add('  matmul GFLOP/s', gflops, 1, 'higher');
  if (peak !== undefined) add('  % of sgemm peak', (r) => (100 * gflops(r) * 1e9) / peak, 1, 'higher');
  add('  peak RSS (MiB)', (r) => MiB(r.maxRssKiB), 0, 'lower');
  add("  other processes' CPU (%)", (r) => 100 * (r.interference ?? Number.NaN), 0, 'none');
  if (workload === 'train') {
    const growth = (r: WorkerResult) => {
      const rss = r.rssPerStepKiB ?? [];
      return rss.length > 5 ? MiB(rss[rss.length - 1] - rss[4]) : Number.NaN;
    };
    add('  RSS growth, step 5 → last (MiB)', growth, 1, 'none');
    add('  mean training loss', (r) => r.meanLoss ?? Number.NaN, 4, 'none');
  }
  return rows;
}

/** A Markdown table; `text` names the left-aligned columns (default: the first), figures are right-aligned. */
function table(header: string[], rows: string[][], text: readonly string[] = [header[0]]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const left = (i: number) => text.includes(header[i]);
  const line = (cells: string[]) => `| ${cells.map((cell, i) => (left(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  const rule = widths.map((w, i) => (left(i) ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|');
  return [line(header), `|${rule}|`, ...rows.map(line)].join('\n');
}

/** The ONNX Runtime columns appear only when some row has an ONNX Runtime figure. */
function comparisonTable(rows: Row[]): string {
  if (!rows.some((row) => row.ort !== undefined)) {
    return table(
      ['figure', 'ours', 'PyTorch', 'ratio'],
      rows.map((row) => [row.label, fixed(row.ours, row.digits), fixed(row.torch, row.digits), ratio(row, row.torch)]),
    );
  }
  return table(
    ['figure', 'ours', 'PyTorch', 'ONNX Runtime', 'vs PyTorch', 'vs ONNX Runtime'],
    rows.map((row) => [
      row.label,
      fixed(row.ours, row.digits),
      fixed(row.torch, row.digits),
      fixed(row.ort, row.digits),
      ratio(row, row.torch),
      ratio(row, row.ort),
    ]),
  );
}

function workloadTable(input: ReportInput): string {
  const runs = new Map(input.comparisons.map((c) => [c.workload, c.best.ours]));
  const percent = (padded: number, real: number) => `${((100 * (padded - real)) / padded).toFixed(1)}%`;
  const rows = (Object.keys(input.stats) as Workload[]).map((workload) => {
    const s = input.stats[workload];
    const factor = workload === 'train' ? TRAIN_FLOPS_PER_FORWARD : 1;
    const run = runs.get(workload);
    const ran = run && work(input.shape, run);
    return [
      workload,
      String(s.pairs),
      String(s.batches),
      (s.realTokens / s.pairs).toFixed(1),
      String(s.paddedTokens),
      percent(s.paddedTokens, s.realTokens),
      ((s.flops * factor) / 1e9).toFixed(0),
      ran ? String(ran.forwards) : '—',
      ran ? String(ran.paddedTokens) : '—',
      ran ? percent(ran.paddedTokens, s.realTokens) : '—',
      ran ? (ran.flops / 1e9).toFixed(0) : '—',
    ];
  });
  const { sizes } = input;
  const note = [
    `predict: ${sizes.predictPairs} pairs, batch ${PREDICT_BATCH_SIZE}, length-sorted. rank: ${sizes.rankRepeats} calls of 1 query × ${sizes.rankDocuments} documents. ` +
      `train: ${sizes.trainSteps} steps of batch ${sizes.trainBatchSize}, BCE, AdamW, seeded shuffle (no length sorting, as the trainer).`,
    'GFLOP: matmuls (attention included, element-wise work not) over padded shapes; training counts 3 forwards per step. ' +
      '"whole": each batch as one forward. "as run": the forwards our predict cut each batch into (about 1024 padded tokens each ' +
      'unless TORCH_CROSSENCODER_FORWARD_TOKENS says otherwise), ' +
      'recorded by our worker; the PyTorch and ONNX Runtime sides are given the same forwards and report the shapes they ran, checked equal, ' +
      'so every side computes the same FLOPs and the GFLOP/s below count those.',
  ].join('\n');
  const header = ['workload', 'pairs', 'batches', 'tokens/pair', 'whole: padded tokens', 'padding', 'GFLOP', 'as run: forwards', 'padded tokens', 'padding', 'GFLOP'];
  return `${table(header, rows)}\n\n${note}`;
}

/** Every setting tried, each side's best marked, with its distance from that best. */
function trialsTable(comparisons: readonly Comparison[]): string {
  const rows: string[][] = [];
  for (const c of comparisons) {
    const sides: Array<[string, Trial[], WorkerResult | undefined, ThreadSetting | undefined]> = [
      ['ours', c.ours, c.best.ours, c.bestSetting.ours],
      ['PyTorch', c.torch, c.best.torch, c.bestSetting.torch],
      ['ONNX Runtime', c.ort, c.best.ort, c.bestSetting.ort],
    ];
    for (const [side, trials, best, bestSetting] of sides) {
      for (const t of trials) {
        if (!t.result || !best) {
          rows.push([c.workload, side, t.setting.name, '—', '', `skipped: ${t.skipped}`]);
          continue;
        }
        const h = headline(t.result);
        const b = headline(best);
        const relative = h.better === 'higher' ? h.value / b.value : b.value / h.value;
        const busy = 100 * (t.result.interference ?? 0);
        rows.push([
          c.workload,
          side,
          t.setting.name,
          h.text,
          t.setting.name === bestSetting?.name ? 'best' : `${relative.toFixed(2)}× of best`,
          busy > 5 ? `other processes used ${busy.toFixed(0)}% of the CPUs` : '',
        ]);
      }
    }
  }
  return table(['workload', 'side', 'thread setting', 'figure', 'vs best', 'note'], rows, ['workload', 'side', 'thread setting', 'note']);
}

/** PyTorch (and ONNX Runtime) at its best setting on whole batches of 32: what a Sentence Transformers user runs. */
function wholeBatchRows(c: Comparison, shape: ModelShape, peak: number | undefined): Row[] {
  if (!c.torchWholeBatches && !c.ortWholeBatches) return [];
  return rowsOf(c.workload, c.best.ours, c.torchWholeBatches, shape, peak, c.ortWholeBatches).filter((row) => !row.label.includes('other processes'));
}

const bestRows = (comparisons: readonly Comparison[], shape: ModelShape, peak: number | undefined) =>
  comparisons.flatMap((c) => rowsOf(c.workload, c.best.ours, c.best.torch, shape, peak, c.best.ort));

/** One figure of the --json output's ratios: > 1 means ours is better, as in the printed tables. */
export interface RatioEntry {
  figure: string;
  ours: number;
  pytorch?: number;
  onnxRuntime?: number;
  oursVsPytorch?: number;
  oursVsOnnxRuntime?: number;
  /** 'higher': ratio = ours / peer; 'lower': peer / ours; 'none': no ratio (a figure for context). */
  better: Row['better'];
}

const ratioEntries = (rows: Row[]): RatioEntry[] =>
  rows.map((row) => ({
    figure: row.label.trim(),
    ours: row.ours,
    pytorch: row.torch,
    onnxRuntime: row.ort,
    oursVsPytorch: ratioValue(row, row.torch),
    oursVsOnnxRuntime: ratioValue(row, row.ort),
    better: row.better,
  }));

/** The ratios of the printed tables, for --json: each side at its best, and the whole-batch runs. */
export function ratioTable(comparisons: readonly Comparison[], shape: ModelShape, peaks: Peaks | undefined) {
  const peak = peakOf(peaks);
  return comparisons.map((c) => ({
    workload: c.workload,
    atBest: ratioEntries(bestRows([c], shape, peak)),
    wholeBatches: ratioEntries(wholeBatchRows(c, shape, peak)),
  }));
}

export function formatReport(input: ReportInput): string {
  const out: string[] = [];
  const peak = peakOf(input.peaks);
  out.push(`machine: ${input.machine}`);
  const first = input.comparisons[0]?.best;
  const ortVersion = input.comparisons.find((c) => c.best.ort)?.best.ort?.torchVersion;
  if (first) {
    out.push(`libtorch ${first.ours.torchVersion}, BLAS ${first.ours.blas}; PyTorch side: ${first.torch?.torchVersion ?? 'not run'}; ONNX Runtime side: ${ortVersion ? `${ortVersion}, CPU execution provider, ${input.ortModel ?? 'float32'} model` : 'not run'}`);
  }
  if (input.peaks) {
    const { size, oneThread, twoThreads } = input.peaks;
    out.push(
      `sgemm peak (torch.mm ${size}³ float32, best of before and after the workloads): ${(oneThread / 1e9).toFixed(1)} GFLOP/s with 1 OpenBLAS thread, ` +
        `${(twoThreads / 1e9).toFixed(1)} GFLOP/s with 2; the % rows use the higher`,
    );
  }
  if (input.quick) out.push('--quick: small sizes, a smoke test; do not compare these figures with a full run.');
  out.push('', '### Workloads', '', workloadTable(input), '');

  out.push(
    '### Thread settings tried',
    '',
    'Each in a fresh process; the best run of each side (highest throughput, lowest rank p50) is the one compared below.',
    '',
    trialsTable(input.comparisons),
    '',
  );

  out.push('### Each side at its best', '');
  for (const c of input.comparisons) {
    const torch = c.best.torch && c.bestSetting.torch ? `; PyTorch: ${settingText(c.bestSetting.torch, c.best.torch)}` : '';
    const ort = c.best.ort && c.bestSetting.ort ? `; ONNX Runtime: ${settingText(c.bestSetting.ort, c.best.ort)}` : '';
    out.push(`- ${c.workload}: ours: ${settingText(c.bestSetting.ours, c.best.ours)}${torch}${ort}`);
  }
  out.push('', comparisonTable(bestRows(input.comparisons, input.shape, peak)), '');

  const whole = input.comparisons.flatMap((c) => wholeBatchRows(c, input.shape, peak));
  if (whole.length > 0) {
    out.push(
      `### Peers in whole batches of ${PREDICT_BATCH_SIZE}`,
      '',
      `As Sentence Transformers runs predict: each batch one forward, at each peer's best setting above; ours as above.`,
      '',
      comparisonTable(whole),
      '',
    );
  }

  const settings = [...new Set(input.matrix.map((m) => m.setting))];
  for (const setting of settings) {
    const rows = input.matrix.filter((m) => m.setting === setting);
    out.push(`### --matrix: ${setting}, both sides`, '', comparisonTable(rows.flatMap((m) => rowsOf(m.workload, m.ours, m.torch, input.shape, peak))), '');
  }

  out.push(
    'ratio (and "vs PyTorch", "vs ONNX Runtime"): > 1 means ours is better: ours/peer for throughput and FLOP/s, peer/ours for latency, RSS and padded tokens.' +
      (ortVersion ? ' ONNX Runtime runs the model exported by bench/export_onnx.py (predict and rank only), tokenising on its side as ours does.' : '') +
      (ortVersion && input.ortModel?.startsWith('int8') ? " Its encoder's matmuls are int8 there: its GFLOP/s rows count int8 multiply-adds as FLOPs." : ''),
  );
  const all = [
    ...input.comparisons.flatMap((c) => [...c.ours, ...c.torch, ...c.ort].map((t) => t.result)),
    ...input.comparisons.flatMap((c) => [c.torchWholeBatches, c.ortWholeBatches]),
    ...input.matrix.flatMap((m) => [m.ours, m.torch]),
  ].filter((r): r is WorkerResult => r !== undefined);
  if (all.some((r) => (r.interference ?? 0) > 0.05)) {
    out.push("warning: other processes used over 5% of the CPUs during some runs (see \"other processes' CPU\" and the notes): those figures are disturbed; rerun on a quiet machine, or with --repeat.");
  }
  if (input.peaks && input.peaks.twoThreads < 1.5 * input.peaks.oneThread) {
    out.push('warning: 2 OpenBLAS threads ran sgemm less than 1.5× as fast as 1: a core was busy while the peak was measured, so the % rows are overstated.');
  }
  if (peak !== undefined && all.some((r) => work(input.shape, r).flops / r.seconds > peak)) {
    out.push('warning: a run exceeded the measured sgemm peak: the peak was measured while the machine was busy; rerun on a quiet machine.');
  }
  return out.join('\n');
}
