/**
 * `npm run bench`: our CrossEncoder against the plain PyTorch reference (test/reference, same
 * libtorch, same weights, same token ids), and for predict and rank against ONNX Runtime
 * (onnxruntime-node on the same model exported to ONNX, bench/onnx-model.ts), on the generated
 * MiniLM-L6-shaped model and a seeded
 * synthetic corpus. Every measurement runs in a fresh child process (its peak RSS is its own),
 * after a warm-up, one at a time. Each side runs each workload at each of its thread settings
 * (bench/settings.ts) and its best run is compared; PyTorch runs the forwards ours ran
 * (bench/forwards.ts), and once more in whole batches (bench/compare.ts).
 *
 *     npm run bench [-- --quick] [-- --matrix] [-- --no-python] [-- --no-ort] [-- --ort-quantized] [-- --int8]
 *                   [-- --workloads predict,rank]
 *                   [-- --repeat N] [-- --json FILE]
 *     npm run bench -- --serve [--quick] [--seconds N] [--json FILE]
 *
 * --quick      small sizes (a smoke test; the figures are not comparable with the full run)
 * --matrix     also every combination of intra-op threads {1,2} × OpenBLAS threads {1,2}, the
 *              same on both sides, and training with libgomp's default wait policy in PyTorch
 * --no-python  no PyTorch column (also the fallback when /usr/bin/python3 has no torch); ONNX
 *              Runtime still runs (PyTorch, if present, is then used only to export its model)
 * --no-ort     no ONNX Runtime column (also the fallback when onnxruntime-node is not installed)
 * --int8       every side in int8 (predict and rank only): ours with dtype 'int8', PyTorch with
 *              quantize_dynamic(model, {nn.Linear}, qint8) on oneDNN, ONNX Runtime as --ort-quantized
 * --ort-quantized  ONNX Runtime runs the model with the encoder's Linear layers dynamically
 *              quantised to int8 (bench/onnx_quantize.py), instead of the float32 one
 * --repeat N   runs each measurement N times and keeps the best (for a shared, noisy machine)
 * --json FILE  writes every raw result there
 * --serve      the HTTP service instead (bench/serve.ts): `crossencoder serve` under 1, 8 and 32
 *              concurrent clients against the same requests through rank() in-process;
 *              --seconds N sets each run's length (default 30, 4 with --quick)
 * --prepare    writes the corpus, the PyTorch inputs, the ONNX model and the bundled workers to
 *              bench/.cache and stops: for profiling one side by hand, e.g.
 *              perf record -g node bench/.cache/worker.mjs predict bench/.cache/corpus-predict.json test/.models/minilm-l6
 *              OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch_worker.py \
 *                predict bench/.cache/torch-predict.json bench/.cache/forwards-predict-whole.json
 *              BENCH_ORT_INTRA_OP=1 node bench/.cache/ort-worker.mjs predict bench/.cache/corpus-predict.json \
 *                test/.models/minilm-l6 bench/.cache/minilm-l6.onnx bench/.cache/forwards-predict-whole.json
 */
// First, so that it captures the user's environment before lib/native.ts (imported below) fills
// in thread variables: the workers must start from the user's.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CrossEncoderTokenizer, type PairEncoding } from '../lib/index.js';
import { epochBatches } from '../lib/internal.js';

import { compare, compareAt, type Comparison, type MatrixRow } from './compare.js';
import { buildCorpus, type BenchPair, type Corpus, type CorpusSizes, vocabularyWords } from './corpus.js';
import { userThreadSettings, useDtype, workerEnv } from './environment.js';
import { wholeBatchPlan } from './forwards.js';
import { CACHE, corpusFile, MODEL_DIR, MODELS, ORT_WORKER_BUNDLE, planFile, PYTHON, ROOT, torchFile, WORKER_BUNDLE } from './paths.js';
import { ensureOnnxModel } from './onnx-model.js';
import { formatReport, ratioTable } from './report.js';
import { runServeBench } from './serve.js';
import { matrixSettings, ortSettings, oursSettings, torchSettings } from './settings.js';
import { bundleOrtWorker, bundleWorker, type Peaks, sgemmPeaks } from './workers.js';
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
  type TorchScoringSpec,
  type TorchWorkloadFile,
  type Workload,
  WORKLOADS,
} from './workloads.js';

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
  /** The ONNX Runtime column (predict and rank). */
  ort: boolean;
  /** ONNX Runtime on the int8 dynamically quantised model. */
  ortQuantized: boolean;
  int8: boolean;
  workloads: Workload[];
  json?: string;
  prepareOnly: boolean;
  /** Runs of each measurement; the best is kept. */
  repeat: number;
  /** The HTTP service benchmark instead (bench/serve.ts). */
  serve: boolean;
  /** Its measured seconds per run. */
  seconds?: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { quick: false, matrix: false, python: true, ort: true, ortQuantized: false, int8: false, workloads: [...WORKLOADS], prepareOnly: false, repeat: 1, serve: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--matrix') options.matrix = true;
    else if (arg === '--no-python') options.python = false;
    else if (arg === '--no-ort') options.ort = false;
    else if (arg === '--ort-quantized') options.ortQuantized = true;
    else if (arg === '--int8') {
      // Every side int8: ours dtype 'int8', PyTorch quantize_dynamic, ONNX Runtime's int8 model.
      options.int8 = true;
      options.ortQuantized = true;
    }
    else if (arg === '--json') options.json = argv[++i];
    else if (arg === '--prepare') options.prepareOnly = true;
    else if (arg === '--serve') options.serve = true;
    else if (arg === '--seconds') {
      options.seconds = Number(argv[++i]);
      if (!(options.seconds > 0)) throw new Error('--seconds needs a positive number');
    }
    else if (arg === '--repeat') {
      options.repeat = Number(argv[++i]);
      if (!Number.isInteger(options.repeat) || options.repeat < 1) throw new Error('--repeat needs a positive integer');
    }
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
  /** Whole batches as predict forms them (before our forward splitting). */
  stats: Record<Workload, BatchStats>;
  /** The model's config.json shape fields, for the FLOP counts. */
  shape: ModelShape;
  /** predict's and rank's calls as the PyTorch worker reads them. */
  scoring: Record<'predict' | 'rank', TorchScoringSpec>;
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
  // One predict (or rank) call: its pairs in the order CrossEncoder.predict sorts them, longest first.
  const sortedCall = (encodings: readonly PairEncoding[]) => pick(encodings, predictBatches(encodings, PREDICT_BATCH_SIZE).flat());

  // predict: length-sorted batches of 32, as CrossEncoder.predict forms them.
  const predictEncodings = encode(corpus.predict);
  const warmupEncodings = encode(corpus.warmup);
  const predict = predictBatches(predictEncodings, PREDICT_BATCH_SIZE);

  // rank: one predict call per query, its documents longest first.
  const rankCalls = corpus.rank.map((call) => encode(call.documents.map((document) => ({ query: call.query, document }))));
  const rankWarmupDocuments = corpus.warmup.slice(0, sizes.rankDocuments).map((row) => row.document);
  const rankWarmup = corpus.warmup
    .slice(0, RANK_WARMUP_REPEATS)
    .map((row) => encode(rankWarmupDocuments.map((document) => ({ query: row.query, document }))));

  // train: the trainer's seeded shuffle, batches padded to their longest pair.
  const trainEncodings = encode(corpus.train);
  const train = await epochBatches(corpus.train.length, TRAIN_BATCH_SIZE, TRAIN_SEED, 0, false);
  const trainWarmup = (await epochBatches(corpus.warmup.length, TRAIN_BATCH_SIZE, TRAIN_SEED, 0, false)).slice(0, TRAIN_WARMUP_STEPS);
  const labels = (rows: readonly BenchPair[], batches: number[][]) => batches.map((batch) => batch.map((i) => rows[i].label));

  const rankStats = rankCalls
    .map((encodings) => batchStats(shape, encodings, predictBatches(encodings, PREDICT_BATCH_SIZE)))
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

  const scoring: Plan['scoring'] = {
    predict: { warmup: [sortedCall(warmupEncodings)], calls: [sortedCall(predictEncodings)] },
    rank: { warmup: rankWarmup.map(sortedCall), calls: rankCalls.map(sortedCall) },
  };
  const torchFiles: Record<Workload, TorchWorkloadFile> = {
    predict: { modelDir: MODEL_DIR, workload: scoring.predict },
    rank: { modelDir: MODEL_DIR, workload: scoring.rank },
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
  // Whole batches, for running the PyTorch worker by hand (the bench writes its own plans).
  for (const workload of ['predict', 'rank'] as const) writeJson(planFile(workload, 'whole'), wholeBatchPlan(scoring[workload], PREDICT_BATCH_SIZE));
  return { corpus, stats, shape, scoring };
}

// ---------------------------------------------------------------------------------------------
// Measuring.

interface Measured {
  comparisons: Comparison[];
  matrix: MatrixRow[];
}

async function measure(options: Options, plan: Plan, pythonReady: boolean, onnxModel: string | undefined, log: (line: string) => void): Promise<Measured> {
  const cores = os.availableParallelism();
  const comparisons: Comparison[] = [];
  for (const workload of options.workloads) {
    comparisons.push(
      await compare(workload, {
        oursSettings: oursSettings(cores, userThreadSettings()),
        torchSettings: torchSettings(cores, workload, options.matrix),
        python: pythonReady,
        ort: onnxModel === undefined ? undefined : { settings: ortSettings(cores), model: onnxModel },
        repeat: options.repeat,
        scoringSpec: workload === 'train' ? undefined : plan.scoring[workload],
        log,
      }),
    );
  }
  const matrix: MatrixRow[] = [];
  if (options.matrix) {
    for (const setting of matrixSettings(cores)) {
      for (const workload of options.workloads) matrix.push(await compareAt(workload, setting, pythonReady, options.repeat, log));
    }
  }
  return { comparisons, matrix };
}

// ---------------------------------------------------------------------------------------------

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} vCPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;
}

const loadAverage = () => os.loadavg().map((load) => load.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.int8) {
    if (options.workloads.includes('train')) throw new Error('--int8 is inference only: add --workloads predict,rank');
    useDtype('int8');
  }
  const started = performance.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`machine: ${machine()}`);
  log(`load average at start: ${loadAverage()}${os.loadavg()[0] > 0.5 ? '  (other work is running: figures will be noisy)' : ''}`);

  if (options.serve) {
    ensureModels(pythonImportsTorch());
    await runServeBench({ quick: options.quick, seconds: options.seconds, json: options.json, machine: machine(), log });
    log(`load average (1, 5, 15 min): ${loadAverage()} at the end; the run took ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return;
  }
  let torchMissing = options.python ? ensureTorch() : 'disabled by --no-python';
  ensureModels(options.python ? torchMissing : pythonImportsTorch());
  if (torchMissing !== undefined) log(`PyTorch side skipped: ${torchMissing}`);

  // Before prepare() and the bundles: a stale export is redone (with its logits check) first.
  let onnxModel: string | undefined;
  if (options.ort && options.workloads.some((w) => w !== 'train')) {
    const onnx = await ensureOnnxModel(options.python ? torchMissing : pythonImportsTorch(), options.ortQuantized, log);
    if ('skipped' in onnx) log(`ONNX Runtime side skipped: ${onnx.skipped}`);
    else onnxModel = onnx.model;
  }

  const sizes = options.quick ? QUICK : FULL;
  const plan = await prepare(sizes);
  await bundleWorker();
  if (onnxModel !== undefined) await bundleOrtWorker();
  if (options.prepareOnly) {
    const bundles = [WORKER_BUNDLE, ...(onnxModel !== undefined ? [ORT_WORKER_BUNDLE] : [])].map((file) => path.relative(ROOT, file)).join(' and ');
    log(`workload files and ${bundles} written to ${path.relative(ROOT, CACHE)}`);
    return;
  }
  let peaks: Peaks | undefined;
  if (torchMissing === undefined) {
    log('sgemm peak (torch.mm, 1 and 2 OpenBLAS threads)…');
    try {
      peaks = await sgemmPeaks(SGEMM_SIZE);
    } catch (error) {
      torchMissing = (error as Error).message;
      log(`PyTorch side skipped: ${torchMissing}`);
    }
  }
  const { comparisons, matrix } = await measure(options, plan, torchMissing === undefined, onnxModel, log);
  if (peaks) {
    log('sgemm peak again (the best of both is kept)…');
    peaks = await sgemmPeaks(SGEMM_SIZE, peaks);
  }
  const loadAtEnd = loadAverage();
  const seconds = (performance.now() - started) / 1000;

  const ortModel = onnxModel && (options.ortQuantized ? 'int8 dynamically quantised encoder (--ort-quantized)' : 'float32');
  console.log(formatReport({ machine: machine(), shape: plan.shape, sizes, stats: plan.stats, peaks, comparisons, matrix, quick: options.quick, ortModel }));
  console.log(`load average (1, 5, 15 min): ${loadAtEnd} at the end; the run took ${seconds.toFixed(0)} s`);
  if (options.json) {
    // ratios: every figure of the "at its best" table, ours / PyTorch and ours / ONNX Runtime.
    const ratios = ratioTable(comparisons, plan.shape, peaks);
    writeFileSync(options.json, JSON.stringify({ machine: machine(), load: loadAtEnd, sizes, stats: plan.stats, peaks, ortModel, comparisons, ratios, matrix }, null, 2));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exit(1);
});
