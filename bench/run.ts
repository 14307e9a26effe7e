/**
 * `npm run bench`: our CrossEncoder against the plain PyTorch reference (test/reference, same
 * libtorch, same weights, same token ids), on the generated MiniLM-L6-shaped model and a seeded
 * synthetic corpus. Every measurement runs in a fresh child process (its peak RSS is its own),
 * after a warm-up, ours then PyTorch's, one at a time.
 *
 *     npm run bench [-- --quick] [-- --matrix] [-- --no-python] [-- --workloads predict,rank]
 *                   [-- --json FILE]
 *
 * --quick      small sizes (a smoke test; the figures are not comparable with the full run)
 * --matrix     also every combination of intra-op threads {1,2} × OpenBLAS threads {1,2}
 * --no-python  our side only (also the fallback when /usr/bin/python3 has no torch)
 * --json FILE  writes every raw result there
 */
import { userThreadSettings, workerEnv } from './environment.js';

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CrossEncoderTokenizer, type PairEncoding } from '../lib/tokenizer.js';
import { epochBatches } from '../lib/sampler.js';
import { buildCorpus, type BenchPair, type Corpus, type CorpusSizes, vocabularyWords } from './corpus.js';
import { formatReport, type Measurement, type Peaks } from './report.js';
import {
  batchStats,
  type BatchStats,
  type CorpusSlice,
  encodedPair,
  type EncodedPair,
  type ModelShape,
  PREDICT_BATCH_SIZE,
  predictBatches,
  RANK_WARMUP_REPEATS,
  TRAIN_BATCH_SIZE,
  TRAIN_SEED,
  TRAIN_WARMUP_STEPS,
  type TorchWorkloadFile,
  type Workload,
  WORKLOADS,
  type WorkerResult,
} from './workloads.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = path.join(ROOT, 'bench', '.cache');
const MODELS = path.join(ROOT, 'test', '.models');
const MODEL_DIR = path.join(MODELS, 'minilm-l6');
const PYTHON = '/usr/bin/python3';
const CORPUS_SEED = 20261127;
const SGEMM_SIZE = 2048;
const LEARNING_RATE = 5e-5;
const MAX_GRAD_NORM = 1;

const FULL: CorpusSizes = { predictPairs: 2000, rankRepeats: 30, rankDocuments: 20, trainSteps: 50, trainBatchSize: TRAIN_BATCH_SIZE };
const QUICK: CorpusSizes = { predictPairs: 256, rankRepeats: 10, rankDocuments: 20, trainSteps: 8, trainBatchSize: TRAIN_BATCH_SIZE };

interface Options {
  quick: boolean;
  matrix: boolean;
  python: boolean;
  workloads: Workload[];
  json?: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { quick: false, matrix: false, python: true, workloads: [...WORKLOADS] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--matrix') options.matrix = true;
    else if (arg === '--no-python') options.python = false;
    else if (arg === '--json') options.json = argv[++i];
    else if (arg === '--workloads') {
      const names = (argv[++i] ?? '').split(',');
      const unknown = names.filter((name) => !(WORKLOADS as readonly string[]).includes(name));
      if (unknown.length > 0) throw new Error(`--workloads: unknown ${unknown.join(', ')} (known: ${WORKLOADS.join(', ')})`);
      options.workloads = names as Workload[];
    } else throw new Error(`unknown option ${arg}; see the header of bench/run.ts`);
  }
  if (options.json === '') throw new Error('--json needs a file name');
  return options;
}

// ---------------------------------------------------------------------------------------------
// Prerequisites: PyTorch under /usr/bin/python3, the generated models.

function pythonImportsTorch(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist`;
  const result = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', env: workerEnv({}) });
  return result.status === 0 ? undefined : (result.stderr.trim().split('\n').pop() ?? `exit status ${result.status}`);
}

function canApt(): boolean {
  return process.getuid?.() === 0 && existsSync('/etc/debian_version') && spawnSync('apt-get', ['--version']).status === 0;
}

/** Installs python3-torch with apt when possible; returns why PyTorch is unavailable, if it is. */
function ensureTorch(): string | undefined {
  const reason = pythonImportsTorch();
  if (reason === undefined || !canApt()) return reason;
  console.log(`${PYTHON} cannot import torch (${reason}): installing python3-torch with apt-get…`);
  const known = spawnSync('apt-cache', ['show', 'python3-torch'], { stdio: 'ignore' }).status === 0;
  if (!known) spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'python3-torch'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return install.status === 0 ? pythonImportsTorch() : 'apt-get install python3-torch failed';
}

/** generate_models.py does nothing (in well under a second) when the models are current. */
function ensureModels(torchMissing: string | undefined): void {
  const present = existsSync(path.join(MODEL_DIR, 'config.json'));
  if (torchMissing !== undefined) {
    if (present) return;
    throw new Error(`the benchmark model ${MODEL_DIR} is missing and cannot be generated: ${PYTHON} has no torch (${torchMissing})`);
  }
  const result = spawnSync(PYTHON, [path.join(ROOT, 'test', 'reference', 'generate_models.py'), '--out', MODELS], {
    stdio: 'inherit',
    env: workerEnv({ OMP_WAIT_POLICY: 'PASSIVE' }),
  });
  if (result.status !== 0 && !present) throw new Error(`generate_models.py failed (status ${result.status})`);
}

// ---------------------------------------------------------------------------------------------
// The workloads: corpus, tokenisation, batches, and the files the workers read.

interface Plan {
  corpus: Corpus;
  stats: Record<Workload, BatchStats>;
  /** Stats of one rank call (FLOPs per call, for the latency roofline). */
  shape: ModelShape;
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value));
}

async function prepare(sizes: CorpusSizes): Promise<Plan> {
  mkdirSync(CACHE, { recursive: true });
  const shape = JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as ModelShape & { max_position_embeddings: number };
  const tokenizer = await CrossEncoderTokenizer.fromDirectory(MODEL_DIR);
  const maxLength = Math.min(tokenizer.modelMaxLength ?? shape.max_position_embeddings, shape.max_position_embeddings);
  const corpus = buildCorpus(CORPUS_SEED, vocabularyWords(path.join(MODEL_DIR, 'vocab.txt')), sizes);
  const encode = (rows: readonly { query: string; document: string }[]): PairEncoding[] =>
    rows.map((row) => tokenizer.encodePair(row.query, row.document, maxLength));
  const pick = (encodings: readonly PairEncoding[], batch: readonly number[]): EncodedPair[] => batch.map((i) => encodedPair(encodings[i]));

  // predict: length-sorted batches of 32, as CrossEncoder.predict forms them.
  const predictEncodings = encode(corpus.predict);
  const warmupEncodings = encode(corpus.warmup);
  const predict = predictBatches(predictEncodings, PREDICT_BATCH_SIZE);
  const predictWarmup = predictBatches(warmupEncodings, PREDICT_BATCH_SIZE);

  // rank: one batch per call, the query's documents longest first.
  const rankCalls = corpus.rank.map((call) => encode(call.documents.map((document) => ({ query: call.query, document }))));
  const rankWarmupDocuments = corpus.warmup.slice(0, sizes.rankDocuments).map((row) => row.document);
  const rankWarmup = corpus.warmup
    .slice(0, RANK_WARMUP_REPEATS)
    .map((row) => encode(rankWarmupDocuments.map((document) => ({ query: row.query, document }))));

  // train: the trainer's seeded shuffle, batches padded to their longest pair.
  const trainEncodings = encode(corpus.train);
  const train = epochBatches(corpus.train.length, TRAIN_BATCH_SIZE, TRAIN_SEED, 0, false);
  const trainWarmup = epochBatches(corpus.warmup.length, TRAIN_BATCH_SIZE, TRAIN_SEED, 0, false).slice(0, TRAIN_WARMUP_STEPS);
  const labels = (rows: readonly BenchPair[], batches: number[][]) => batches.map((batch) => batch.map((i) => rows[i].label));

  const rankStats = rankCalls
    .map((encodings) => batchStats(shape, encodings, predictBatches(encodings, sizes.rankDocuments)))
    .reduce((sum, s) => ({
      batches: sum.batches + s.batches,
      pairs: sum.pairs + s.pairs,
      realTokens: sum.realTokens + s.realTokens,
      paddedTokens: sum.paddedTokens + s.paddedTokens,
      flops: sum.flops + s.flops,
    }));
  const stats: Record<Workload, BatchStats> = {
    predict: batchStats(shape, predictEncodings, predict),
    rank: rankStats,
    train: batchStats(shape, trainEncodings, train),
  };

  const torchFiles: Record<Workload, TorchWorkloadFile> = {
    predict: {
      modelDir: MODEL_DIR,
      workload: { warmup: predictWarmup.map((b) => pick(warmupEncodings, b)), batches: predict.map((b) => pick(predictEncodings, b)) },
    },
    rank: {
      modelDir: MODEL_DIR,
      workload: {
        warmup: rankWarmup.map((encodings) => predictBatches(encodings, sizes.rankDocuments).map((b) => pick(encodings, b))[0]),
        batches: rankCalls.map((encodings) => predictBatches(encodings, sizes.rankDocuments).map((b) => pick(encodings, b))[0]),
      },
    },
    train: {
      modelDir: MODEL_DIR,
      workload: {
        warmup: trainWarmup.map((b) => pick(warmupEncodings, b)),
        warmupLabels: labels(corpus.warmup, trainWarmup),
        batches: train.map((b) => pick(trainEncodings, b)),
        labels: labels(corpus.train, train),
        seed: TRAIN_SEED,
        learningRate: LEARNING_RATE,
        maxGradNorm: MAX_GRAD_NORM,
      },
    },
  };
  const slices: Record<Workload, CorpusSlice> = {
    predict: { warmup: corpus.warmup, predict: corpus.predict },
    rank: { warmup: corpus.warmup, rank: corpus.rank },
    train: { warmup: corpus.warmup, train: corpus.train },
  };
  for (const workload of WORKLOADS) {
    writeJson(torchFile(workload), torchFiles[workload]);
    writeJson(corpusFile(workload), slices[workload]);
  }
  return { corpus, stats, shape };
}

const torchFile = (workload: Workload) => path.join(CACHE, `torch-${workload}.json`);
const corpusFile = (workload: Workload) => path.join(CACHE, `corpus-${workload}.json`);
const WORKER_BUNDLE = path.join(CACHE, 'worker.mjs');

/**
 * Bundles bench/worker.ts and lib/ into one ES module (packages stay external and resolve from
 * the repository's node_modules), so the worker runs on plain node without tsx's loader.
 */
async function bundleWorker(): Promise<void> {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [path.join(ROOT, 'bench', 'worker.ts')],
    outfile: WORKER_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
}

// ---------------------------------------------------------------------------------------------
// Running the workers.

function runChild(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`${path.basename(args[0])} ${args[1]} failed (status ${code}):\n${stderr.trim().slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(last));
    });
  });
}

function runOurs(workload: Workload, threads: Record<string, string>): Promise<WorkerResult> {
  return runChild(process.execPath, [WORKER_BUNDLE, workload, corpusFile(workload), MODEL_DIR], workerEnv(threads)) as Promise<WorkerResult>;
}

function runTorch(workload: Workload, threads: Record<string, string>): Promise<WorkerResult> {
  const script = path.join(ROOT, 'bench', 'torch_worker.py');
  return runChild(PYTHON, [script, workload, torchFile(workload)], workerEnv(threads)) as Promise<WorkerResult>;
}

async function sgemmPeaks(): Promise<Peaks> {
  const script = path.join(ROOT, 'bench', 'torch_worker.py');
  const peak = async (threads: number) =>
    ((await runChild(PYTHON, [script, 'sgemm', String(SGEMM_SIZE)], workerEnv({ OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' }))) as { flops: number }).flops;
  return { size: SGEMM_SIZE, oneThread: await peak(1), twoThreads: await peak(2) };
}

/** The thread settings our worker ended up with, as environment variables for PyTorch. */
function sameThreads(result: WorkerResult): Record<string, string> {
  const env: Record<string, string> = { OMP_NUM_THREADS: String(result.threads.intraOp) };
  if (/^\d+$/.test(result.threads.blas)) env.OPENBLAS_NUM_THREADS = result.threads.blas;
  if (result.threads.waitPolicy !== 'libgomp default') env.OMP_WAIT_POLICY = result.threads.waitPolicy;
  return env;
}

function matrixConfigs(): Array<{ name: string; env: Record<string, string> }> {
  const configs = [];
  for (const intra of [1, 2]) {
    for (const blas of [1, 2]) {
      configs.push({
        name: `intra-op ${intra}, OpenBLAS ${blas}`,
        env: { OMP_NUM_THREADS: String(intra), OPENBLAS_NUM_THREADS: String(blas), OMP_WAIT_POLICY: 'PASSIVE' },
      });
    }
  }
  return configs;
}

async function measure(options: Options, pythonReady: boolean, log: (line: string) => void): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  const run = async (config: string, workload: Workload, ours: Record<string, string>, torch?: Record<string, string>) => {
    log(`  ${workload} (${config}): ours…`);
    const oursResult = await runOurs(workload, ours);
    let torchResult: WorkerResult | undefined;
    if (pythonReady) {
      log(`  ${workload} (${config}): PyTorch…`);
      torchResult = await runTorch(workload, torch ?? sameThreads(oursResult));
    }
    measurements.push({ config, workload, ours: oursResult, torch: torchResult });
  };
  const userThreads = userThreadSettings();
  const defaultName = Object.keys(userThreads).length > 0 ? `your settings (${JSON.stringify(userThreads)})` : 'package defaults';
  for (const workload of options.workloads) await run(defaultName, workload, userThreads);
  if (options.matrix) {
    for (const config of matrixConfigs()) {
      for (const workload of options.workloads) await run(config.name, workload, config.env, config.env);
    }
  }
  return measurements;
}

// ---------------------------------------------------------------------------------------------

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} vCPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;
}

const loadAverage = () => os.loadavg().map((load) => load.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`machine: ${machine()}`);
  log(`load average at start: ${loadAverage()}${os.loadavg()[0] > 0.5 ? '  (other work is running: figures will be noisy)' : ''}`);

  let torchMissing = options.python ? ensureTorch() : 'disabled by --no-python';
  ensureModels(options.python ? torchMissing : pythonImportsTorch());
  if (torchMissing !== undefined) log(`PyTorch side skipped: ${torchMissing}`);

  const sizes = options.quick ? QUICK : FULL;
  const plan = await prepare(sizes);
  await bundleWorker();
  let peaks: Peaks | undefined;
  if (torchMissing === undefined) {
    log('sgemm peak (torch.mm, 1 and 2 OpenBLAS threads)…');
    try {
      peaks = await sgemmPeaks();
    } catch (error) {
      torchMissing = (error as Error).message;
      log(`PyTorch side skipped: ${torchMissing}`);
    }
  }
  const measurements = await measure(options, torchMissing === undefined, log);
  const loadAtEnd = loadAverage();
  const seconds = (performance.now() - started) / 1000;

  console.log(formatReport({ machine: machine(), sizes, stats: plan.stats, peaks, measurements, quick: options.quick }));
  console.log(`load average (1, 5, 15 min): ${loadAtEnd} at the end; the run took ${seconds.toFixed(0)} s`);
  if (options.json) {
    writeFileSync(options.json, JSON.stringify({ machine: machine(), load: loadAtEnd, sizes, stats: plan.stats, peaks, measurements }, null, 2));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exit(1);
});
