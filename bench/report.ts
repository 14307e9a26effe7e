/**
 * The benchmark's printed report: Markdown tables (readable in a terminal, pasteable into
 * BENCHMARKS.md) with both sides, their ratio, FLOP/s against the measured sgemm peak, and RSS.
 */
import type { CorpusSizes } from './corpus.js';
import { type BatchStats, TRAIN_FLOPS_PER_FORWARD, type Workload, type WorkerResult } from './workloads.js';

export interface Measurement {
  /** Which thread settings this row ran with. */
  config: string;
  workload: Workload;
  ours: WorkerResult;
  torch?: WorkerResult;
}

/** Best float32 torch.mm throughput (FLOP/s) of a size³ product. */
export interface Peaks {
  size: number;
  oneThread: number;
  twoThreads: number;
}

export interface ReportInput {
  machine: string;
  sizes: CorpusSizes;
  stats: Record<Workload, BatchStats>;
  peaks?: Peaks;
  measurements: Measurement[];
  quick: boolean;
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const MiB = (kib: number) => kib / 1024;
const fixed = (value: number | undefined, digits: number) => (value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits));

/** A row: label, our value, theirs, and the ratio oriented so that > 1 means we are better. */
interface Row {
  label: string;
  ours: number;
  torch?: number;
  digits: number;
  /** 'higher': ours / PyTorch (throughput); 'lower': PyTorch / ours (latency, memory). */
  better: 'higher' | 'lower' | 'none';
}

function ratio(row: Row): string {
  if (row.torch === undefined || row.better === 'none') return '';
  const value = row.better === 'higher' ? row.ours / row.torch : row.torch / row.ours;
  return `${value.toFixed(2)}×`;
}

function threadsText(result: WorkerResult): string {
  return `intra-op ${result.threads.intraOp}, OpenBLAS ${result.threads.blas}, OMP_WAIT_POLICY ${result.threads.waitPolicy}`;
}

function flopsOf(workload: Workload, stats: BatchStats): number {
  return workload === 'train' ? stats.flops * TRAIN_FLOPS_PER_FORWARD : stats.flops;
}

function rowsOf(m: Measurement, stats: BatchStats, peak: number | undefined): Row[] {
  const flops = flopsOf(m.workload, stats);
  const gflops = (r: WorkerResult) => flops / r.seconds / 1e9;
  const rows: Row[] = [];
  if (m.workload === 'rank') {
    const ms = (r: WorkerResult | undefined, p: number) => (r?.latencies ? percentile(r.latencies, p) * 1000 : undefined);
    rows.push({ label: 'rank 1×20 latency p50 (ms)', ours: ms(m.ours, 50)!, torch: ms(m.torch, 50), digits: 1, better: 'lower' });
    rows.push({ label: 'rank 1×20 latency p99 (ms)', ours: ms(m.ours, 99)!, torch: ms(m.torch, 99), digits: 1, better: 'lower' });
  } else {
    const label = m.workload === 'predict' ? 'predict throughput (pairs/s)' : 'train throughput (pairs/s)';
    const rate = (r: WorkerResult) => r.pairs / r.seconds;
    rows.push({ label, ours: rate(m.ours), torch: m.torch && rate(m.torch), digits: 1, better: 'higher' });
  }
  rows.push({ label: '  matmul GFLOP/s', ours: gflops(m.ours), torch: m.torch && gflops(m.torch), digits: 1, better: 'higher' });
  if (peak !== undefined) {
    const share = (r: WorkerResult) => (100 * gflops(r) * 1e9) / peak;
    rows.push({ label: '  % of sgemm peak', ours: share(m.ours), torch: m.torch && share(m.torch), digits: 1, better: 'none' });
  }
  rows.push({ label: '  peak RSS (MiB)', ours: MiB(m.ours.maxRssKiB), torch: m.torch && MiB(m.torch.maxRssKiB), digits: 0, better: 'lower' });
  if (m.workload === 'train') {
    const growth = (r: WorkerResult) => {
      const rss = r.rssPerStepKiB ?? [];
      return rss.length > 5 ? MiB(rss[rss.length - 1] - rss[4]) : Number.NaN;
    };
    rows.push({ label: '  RSS growth, step 5 → last (MiB)', ours: growth(m.ours), torch: m.torch && growth(m.torch), digits: 1, better: 'none' });
    rows.push({ label: '  mean training loss', ours: m.ours.meanLoss ?? Number.NaN, torch: m.torch?.meanLoss, digits: 4, better: 'none' });
  }
  return rows;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

function workloadTable(stats: Record<Workload, BatchStats>, sizes: CorpusSizes): string {
  const rows = (Object.keys(stats) as Workload[]).map((workload) => {
    const s = stats[workload];
    const flops = flopsOf(workload, s);
    return [
      workload,
      String(s.pairs),
      String(s.batches),
      (s.realTokens / s.pairs).toFixed(1),
      String(s.paddedTokens),
      `${((100 * (s.paddedTokens - s.realTokens)) / s.paddedTokens).toFixed(1)}%`,
      (flops / 1e9).toFixed(0),
    ];
  });
  const note =
    `predict: ${sizes.predictPairs} pairs, batch 32, length-sorted. rank: ${sizes.rankRepeats} calls of 1 query × ${sizes.rankDocuments} documents. ` +
    `train: ${sizes.trainSteps} steps of batch ${sizes.trainBatchSize}, BCE, AdamW, seeded shuffle (no length sorting, as the trainer). ` +
    `GFLOP: matmuls over the padded tokens (attention included); training counts 3 forwards per step.`;
  return `${table(['workload', 'pairs', 'batches', 'tokens/pair', 'padded tokens', 'padding', 'GFLOP'], rows)}\n\n${note}`;
}

export function formatReport(input: ReportInput): string {
  const out: string[] = [];
  out.push(`machine: ${input.machine}`);
  const first = input.measurements[0]?.ours;
  if (first) out.push(`libtorch ${first.torchVersion}, BLAS ${first.blas}; PyTorch side: ${input.measurements[0]?.torch?.torchVersion ?? 'not run'}`);
  if (input.peaks) {
    const { size, oneThread, twoThreads } = input.peaks;
    out.push(`sgemm peak (torch.mm ${size}³ float32): ${(oneThread / 1e9).toFixed(1)} GFLOP/s with 1 OpenBLAS thread, ${(twoThreads / 1e9).toFixed(1)} GFLOP/s with 2 (the % column uses the latter)`);
  }
  if (input.quick) out.push('--quick: small sizes, a smoke test; do not compare these figures with a full run.');
  out.push('', workloadTable(input.stats, input.sizes), '');

  const configs = [...new Set(input.measurements.map((m) => m.config))];
  for (const config of configs) {
    const measurements = input.measurements.filter((m) => m.config === config);
    out.push(`### ${config}`);
    for (const m of measurements) {
      out.push(`- ${m.workload}: ours ${threadsText(m.ours)}${m.torch ? `; PyTorch ${threadsText(m.torch)}` : ''}`);
    }
    const rows = measurements.flatMap((m) => rowsOf(m, input.stats[m.workload], input.peaks?.twoThreads));
    out.push(
      '',
      table(
        ['figure', 'ours', 'PyTorch', 'ratio'],
        rows.map((row) => [row.label, fixed(row.ours, row.digits), fixed(row.torch, row.digits), ratio(row)]),
      ),
      '',
    );
  }
  out.push('ratio: > 1 means ours is better — ours/PyTorch for throughput and FLOP/s, PyTorch/ours for latency and RSS.');
  return out.join('\n');
}
