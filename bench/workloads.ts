/**
 * What each measured workload runs, shared by the orchestrator (bench/run.ts), the Node workers
 * (bench/worker.ts, bench/ort_worker.ts) and, through a JSON file, the PyTorch worker (bench/torch_worker.py): the
 * batches in the order the library forms them, their padded token counts and their FLOPs.
 */
import type { PairEncoding } from '../lib/index.js';

import type { Corpus } from './corpus.js';

export const WORKLOADS = ['predict', 'rank', 'train'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** Batch sizes of the issue: predict at 32, training at 16, rank one query × 20 documents. */
export const PREDICT_BATCH_SIZE = 32;
export const TRAIN_BATCH_SIZE = 16;
export const RANK_DOCUMENTS = 20;
export const TRAIN_SEED = 42;
export const TRAIN_WARMUP_STEPS = 3;
export const RANK_WARMUP_REPEATS = 3;

/** The shape fields of config.json that the FLOP count needs. */
export interface ModelShape {
  hidden_size: number;
  num_hidden_layers: number;
  intermediate_size: number;
  num_labels?: number;
}

/**
 * Matmul FLOPs of one forward pass over a padded batch [batchSize, seqLength]: per layer the
 * Q, K, V and output projections (4·2·H² per token), the feed-forward (2·2·H·I per token) and
 * attention (QKᵀ and PV, 2·2·S·H per token, padding included, as it is computed), then the
 * pooler and the classifier on [CLS]. Element-wise work (softmax, LayerNorm, GELU) is not
 * counted. A training step is ~3 forwards (backward computes two matmuls per forward one).
 */
export function forwardFlops(shape: ModelShape, batchSize: number, seqLength: number): number {
  const { hidden_size: h, num_hidden_layers: layers, intermediate_size: i } = shape;
  const labels = shape.num_labels ?? 1;
  const tokens = batchSize * seqLength;
  const perLayer = 2 * tokens * (4 * h * h + 2 * h * i) + 4 * tokens * seqLength * h;
  return layers * perLayer + 2 * batchSize * h * h + 2 * batchSize * h * labels;
}

export const TRAIN_FLOPS_PER_FORWARD = 3;

/**
 * Predict's batches: pairs sorted longest first (stable), then cut into consecutive chunks, as
 * `CrossEncoder.predict` forms them (lib/model/cross-encoder.ts).
 */
export function predictBatches(encodings: readonly PairEncoding[], batchSize: number): number[][] {
  const order = encodings.map((_, i) => i).sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length);
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) batches.push(order.slice(start, start + batchSize));
  return batches;
}

/** Padded length of a batch: its longest pair. */
export function paddedLength(encodings: readonly PairEncoding[], batch: readonly number[]): number {
  return batch.reduce((longest, i) => Math.max(longest, encodings[i].inputIds.length), 0);
}

export interface BatchStats {
  batches: number;
  pairs: number;
  /** Tokens of the pairs themselves. */
  realTokens: number;
  /** batchSize × seqLength summed over batches: what the model computes. */
  paddedTokens: number;
  flops: number;
}

/** [batchSize, seqLength]: the padded shape of one forward, or of one training batch. */
export type Shape = [number, number];

/** Padded tokens and forward FLOPs of forwards given by their padded shapes. */
export function shapeStats(shape: ModelShape, shapes: readonly (readonly [number, number])[]): { forwards: number; paddedTokens: number; flops: number } {
  let paddedTokens = 0;
  let flops = 0;
  for (const [batchSize, seqLength] of shapes) {
    paddedTokens += batchSize * seqLength;
    flops += forwardFlops(shape, batchSize, seqLength);
  }
  return { forwards: shapes.length, paddedTokens, flops };
}

export function batchStats(shape: ModelShape, encodings: readonly PairEncoding[], batches: readonly (readonly number[])[]): BatchStats {
  const stats: BatchStats = { batches: batches.length, pairs: 0, realTokens: 0, paddedTokens: 0, flops: 0 };
  for (const batch of batches) {
    const seqLength = paddedLength(encodings, batch);
    stats.pairs += batch.length;
    stats.realTokens += batch.reduce((sum, i) => sum + encodings[i].inputIds.length, 0);
    stats.paddedTokens += batch.length * seqLength;
    stats.flops += forwardFlops(shape, batch.length, seqLength);
  }
  return stats;
}

/** One encoded pair as the PyTorch worker reads it: [input ids, token type ids]. */
export type EncodedPair = [number[], number[]];

/**
 * predict and rank as the PyTorch worker reads them: the pairs of each call (predict: one call
 * of all its pairs; rank: one call per query), as token ids from our tokenizer, in the order our
 * predict sorts them (longest first). How each call is cut into forwards comes separately
 * (ForwardPlan), so that the same pairs can be run in our forwards or in whole batches.
 */
export interface TorchScoringSpec {
  warmup: EncodedPair[][];
  calls: EncodedPair[][];
}

/** Pairs per forward, call by call: the PyTorch worker cuts each call's pairs, in order, so. */
export interface ForwardPlan {
  warmup: number[][];
  calls: number[][];
}

/** Training as the PyTorch worker reads it: the trainer's batches (one per step), labels, hyper-parameters. */
export interface TorchTrainSpec {
  warmup: EncodedPair[][];
  batches: EncodedPair[][];
  warmupLabels: number[][];
  labels: number[][];
  seed: number;
  learningRate: number;
  maxGradNorm: number;
}

/** bench/.cache/torch-<workload>.json: one workload only, so the worker holds no other data. */
export interface TorchWorkloadFile {
  modelDir: string;
  workload: TorchScoringSpec | TorchTrainSpec;
}

/** bench/.cache/corpus-<workload>.json: the texts our worker needs for one workload. */
export type CorpusSlice = Pick<Corpus, 'warmup'> & Partial<Pick<Corpus, 'predict' | 'rank' | 'train'>>;

/** What every worker prints (one JSON line) when it is done. */
export interface WorkerResult {
  side: 'ours' | 'pytorch' | 'onnxruntime';
  workload: Workload;
  /** Wall time of the measured part, seconds. */
  seconds: number;
  /** Pairs processed in the measured part. */
  pairs: number;
  /** Per-call latencies in seconds (rank). */
  latencies?: number[];
  /**
   * The padded shape of every forward (training: every step's batch) the worker ran, call by
   * call (predict: one call; rank: one per query; training: one group of all steps), as that
   * side executed them: FLOPs are counted over these, and bench/run.ts checks that both sides
   * ran the same ones.
   */
  forwards: { warmup: Shape[][]; measured: Shape[][] };
  /** Peak resident set size of the whole process, KiB. */
  maxRssKiB: number;
  /** CPU time of the whole process (all threads), seconds. */
  cpuSeconds: number;
  /**
   * Share of the machine's CPU time that other processes used while the worker ran (set by
   * bench/run.ts from /proc/stat): above a few percent, the figures are disturbed.
   */
  interference?: number;
  /** RSS after each training step, KiB (training only: shows whether memory grows). */
  rssPerStepKiB?: number[];
  threads: { intraOp: number; blas: string; waitPolicy: string };
  torchVersion?: string;
  blas?: string;
  /** Training: mean loss over the measured steps (a sanity check that both sides trained). */
  meanLoss?: number;
}

export function encodedPair(encoding: PairEncoding): EncodedPair {
  return [Array.from(encoding.inputIds), Array.from(encoding.tokenTypeIds)];
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * The figure a run is judged by when settings compete: throughput (pairs/s) for predict and
 * training, the median call latency for rank, the figure a caller of rank waits on.
 */
export function headline(result: WorkerResult): { value: number; better: 'higher' | 'lower'; text: string } {
  if (result.workload === 'rank') {
    const p50 = percentile(result.latencies ?? [], 50);
    return { value: p50, better: 'lower', text: `${(p50 * 1000).toFixed(1)} ms p50` };
  }
  const rate = result.pairs / result.seconds;
  return { value: rate, better: 'higher', text: `${rate.toFixed(1)} pairs/s` };
}

/** Whether run `a` beats run `b` of the same workload on its headline figure. */
export function beats(a: WorkerResult, b: WorkerResult): boolean {
  const x = headline(a);
  const y = headline(b);
  return x.better === 'higher' ? x.value > y.value : x.value < y.value;
}
