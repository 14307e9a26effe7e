/**
 * One measurement on our side, in a process of its own so that its peak RSS is its own:
 *
 *     node bench/.cache/worker.mjs <predict|rank|train> <corpus-WORKLOAD.json> <modelDir>
 *
 * (bench/run.ts bundles this file with esbuild first: running it through tsx would add tsx's
 * loader thread, ~45 MB, to the peak RSS.) It does what a user does — `predict`, `rank`,
 * `CrossEncoderTrainer.train` from raw strings, tokenisation included — after a warm-up, and
 * prints one JSON line (a WorkerResult).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { CrossEncoder, CrossEncoderTrainer, type Pair } from '../lib/index.js';
import { nativeInfo, observeNativeBatches } from '../lib/internal.js';

import type { BenchPair } from './corpus.js';
import {
  type CorpusSlice,
  PREDICT_BATCH_SIZE,
  RANK_WARMUP_REPEATS,
  type Shape,
  TRAIN_BATCH_SIZE,
  TRAIN_SEED,
  TRAIN_WARMUP_STEPS,
  type Workload,
  type WorkerResult,
} from './workloads.js';

const asPairs = (rows: readonly BenchPair[]): Pair[] => rows.map((row) => [row.query, row.document]);
const seconds = (start: number): number => (performance.now() - start) / 1000;

function part<K extends 'predict' | 'rank' | 'train'>(corpus: CorpusSlice, key: K): NonNullable<CorpusSlice[K]> {
  const value = corpus[key];
  if (value === undefined) throw new Error(`the corpus file has no "${key}" texts`);
  return value as NonNullable<CorpusSlice[K]>;
}

/**
 * The padded shape [batchSize, seqLength] of every batch handed to the addon (forwards and
 * training steps), as the library reports them: the FLOP count of the run is then that of the
 * work the library actually asked for, however it cut the batches, and the PyTorch side can be
 * given the same forwards.
 */
const recorded: Shape[] = [];

/** The shapes recorded since the last call. */
const takeForwards = (): Shape[] => recorded.splice(0);

async function predict(model: CrossEncoder, corpus: CorpusSlice): Promise<Partial<WorkerResult>> {
  takeForwards();
  await model.predict(asPairs(corpus.warmup), { batchSize: PREDICT_BATCH_SIZE });
  const warmup = [takeForwards()];
  const pairs = asPairs(part(corpus, 'predict'));
  const start = performance.now();
  await model.predict(pairs, { batchSize: PREDICT_BATCH_SIZE });
  const elapsed = seconds(start);
  return { seconds: elapsed, pairs: pairs.length, forwards: { warmup, measured: [takeForwards()] } };
}

async function rank(model: CrossEncoder, corpus: CorpusSlice): Promise<Partial<WorkerResult>> {
  const calls = part(corpus, 'rank');
  const warmupDocuments = corpus.warmup.slice(0, calls[0].documents.length).map((row) => row.document);
  takeForwards();
  const warmup: Shape[][] = [];
  for (let i = 0; i < RANK_WARMUP_REPEATS; i++) {
    await model.rank(corpus.warmup[i].query, warmupDocuments);
    warmup.push(takeForwards());
  }
  const latencies: number[] = [];
  const measured: Shape[][] = [];
  for (const { query, documents } of calls) {
    const start = performance.now();
    await model.rank(query, documents);
    latencies.push(seconds(start));
    measured.push(takeForwards());
  }
  const pairs = calls.reduce((sum, call) => sum + call.documents.length, 0);
  return { seconds: latencies.reduce((a, b) => a + b, 0), pairs, latencies, forwards: { warmup, measured } };
}

async function trainOnce(model: CrossEncoder, rows: readonly BenchPair[], maxSteps: number, rss?: number[]): Promise<number> {
  const outputDir = await mkdtemp(path.join(os.tmpdir(), 'tce-bench-'));
  try {
    const trainer = new CrossEncoderTrainer({
      model,
      trainDataset: rows.map((row) => ({ ...row })),
      args: {
        outputDir,
        maxSteps,
        perDeviceTrainBatchSize: TRAIN_BATCH_SIZE,
        seed: TRAIN_SEED,
        saveStrategy: 'no',
        disableTqdm: true,
        loggingSteps: 1_000_000,
      },
      callbacks: rss ? [{ onStepEnd: () => void rss.push(Math.round(process.memoryUsage.rss() / 1024)) }] : [],
    });
    const output = await trainer.train();
    return output.trainingLoss;
  } finally {
    await rm(outputDir, { recursive: true, force: true });
  }
}

async function train(model: CrossEncoder, corpus: CorpusSlice): Promise<Partial<WorkerResult>> {
  takeForwards();
  await trainOnce(model, corpus.warmup, TRAIN_WARMUP_STEPS);
  const warmup = [takeForwards()];
  const rows = part(corpus, 'train');
  const rss: number[] = [];
  const start = performance.now();
  const meanLoss = await trainOnce(model, rows, Math.ceil(rows.length / TRAIN_BATCH_SIZE), rss);
  const elapsed = seconds(start);
  return { seconds: elapsed, pairs: rows.length, rssPerStepKiB: rss, meanLoss, forwards: { warmup, measured: [takeForwards()] } };
}

/**
 * OpenBLAS's thread count as it reads it when it loads (OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS,
 * OMP_NUM_THREADS, else the CPUs it may use).
 */
function blasThreads(): string {
  const { OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS } = process.env;
  const set = [OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS].find((value) => Number(value) > 0);
  return String(set !== undefined ? Number(set) : os.availableParallelism());
}

const RUNS: Record<Workload, (model: CrossEncoder, corpus: CorpusSlice) => Promise<Partial<WorkerResult>>> = { predict, rank, train };

async function main(): Promise<void> {
  const [workload, corpusFile, modelDir] = process.argv.slice(2);
  if (!(workload in RUNS) || !corpusFile || !modelDir) {
    throw new Error('usage: worker <predict|rank|train> <corpus-WORKLOAD.json> <modelDir>');
  }
  const corpus = JSON.parse(await readFile(corpusFile, 'utf8')) as CorpusSlice;
  observeNativeBatches((_kind, batchSize, seqLength) => void recorded.push([batchSize, seqLength]));
  const model = await CrossEncoder.fromPretrained(modelDir, { dtype: process.env.BENCH_DTYPE === 'int8' ? 'int8' : 'float32' });
  const measured = await RUNS[workload as Workload](model, corpus);
  const info = nativeInfo();
  const result: WorkerResult = {
    side: 'ours',
    workload: workload as Workload,
    seconds: 0,
    pairs: 0,
    forwards: { warmup: [], measured: [] },
    ...measured,
    maxRssKiB: process.resourceUsage().maxRSS,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    threads: {
      intraOp: info.intraOpThreads,
      blas: blasThreads(),
      // What libgomp read: the package sets PASSIVE only while the addon loads.
      waitPolicy: info.ompWaitPolicy,
    },
    torchVersion: info.torchVersion,
    blas: info.blas,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
