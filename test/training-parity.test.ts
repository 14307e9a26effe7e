/**
 * Training parity with PyTorch: CrossEncoderTrainer against test/reference/train_reference.py
 * (plain PyTorch doing what transformers.Trainer + Sentence Transformers' CrossEncoderTrainer do)
 * on the tiny test model, with dropout off (and once on, where the masks must match too).
 *
 * Per step: the same dataset rows in each micro-batch, the loss within 1e-6, the gradient norm
 * (before clipping) within 1e-5 relative, the learning rate within 1e-12 relative. After training,
 * every parameter element within 1e-5 relative: |ts - py| <= 1e-5 * max(1, |py|), except the
 * attention key biases (see NOISE_GRADIENT).
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  BinaryCrossEntropyLoss,
  CrossEncoder,
  CrossEncoderTrainer,
  type CrossEncoderTrainingArguments,
  type PairRow,
  type StepOutput,
} from '../lib/index.js';
import { epochBatches } from '../lib/sampler.js';
import { testModel } from './helpers/models.js';
import { runPythonJson } from './helpers/python.js';
import { type F32Tensor, readSafetensorsF32 } from './helpers/safetensors.js';

const LOSS_TOLERANCE = 1e-6;
const GRAD_NORM_TOLERANCE = 1e-5;
const LR_TOLERANCE = 1e-12;
const PARAMETER_TOLERANCE = 1e-5;
// The self-attention key bias has a gradient that is exactly zero in exact arithmetic: softmax ignores
// a constant added to all scores of a query row, and q·b_key is such a constant. What autograd
// returns for it is float rounding noise (~1e-9, against ~1e-2 for the other parameters), which
// depends on summation order: PyTorch against itself with 1 and 2 threads ends 3e-5 apart on these
// tensors after 8 steps, and 1e-7 on all others. Adam divides the noise by its own RMS, making steps
// of up to about lr each, so these tensors can only be held to the run's learning-rate budget.
const NOISE_GRADIENT = /\.attention\.self\.key\.bias$/;
// The PyTorch runs share one process started before the first test; a case waits for it.
const CASE_TIMEOUT = 60_000;

// The eight support rows of the training tutorial (examples/train-support-reranker.ts).
const RESET_DOC = 'To reset a user password, open Settings > Users, pick the user and click "Send reset link".';
const ROWS: PairRow[] = [
  { query: 'How do I reset a user password?', document: RESET_DOC, label: 1 },
  {
    query: 'How do I reset a user password?',
    document: 'The release dashboard shows every deployment with its status, owner and start time.',
    label: 0,
  },
  {
    query: 'How do I enable two-factor authentication?',
    document: 'Turn on two-factor authentication under Security > Sign-in and scan the QR code with an authenticator app.',
    label: 1,
  },
  { query: 'How do I enable two-factor authentication?', document: 'Invoices are emailed on the first business day of each month.', label: 0 },
  { query: 'How can I export audit logs?', document: 'Admins can export audit logs as CSV from Admin > Audit log > Export.', label: 1 },
  { query: 'How can I export audit logs?', document: 'Team avatars can be changed in the profile editor.', label: 0 },
  {
    query: 'How do I restore a deleted project?',
    document: 'Deleted projects stay in the trash for 30 days; open Trash and click Restore to bring one back.',
    label: 1,
  },
  { query: 'How do I restore a deleted project?', document: 'The office is closed on public holidays.', label: 0 },
];

/** One step as train_reference.py reports it (null where PyTorch gave no finite number). */
interface ReferenceStep {
  step: number;
  loss: number | null;
  grad_norm: number | null;
  learning_rate: number;
  batch_indices: number[][];
}

interface ReferenceRun {
  steps: ReferenceStep[];
  train_loss: number | null;
  max_steps: number;
  warmup_steps: number;
  max_length: number;
}

interface Case {
  /** What the test shows. */
  title: string;
  args: CrossEncoderTrainingArguments;
  rows?: PairRow[];
  posWeight?: number;
  /** Train with dropout 0.1 everywhere instead of 0. */
  dropout?: boolean;
  /** The largest parameter change the run must make, so the parameter check cannot pass vacuously. */
  minChange: number;
}

const CASES: Record<string, Case> = {
  'full-batch-2e-5': {
    title: '(a) one full batch, 4 steps, lr 2e-5, weight decay, 1 warmup step',
    args: { perDeviceTrainBatchSize: 8, maxSteps: 4, learningRate: 2e-5, weightDecay: 0.01, warmupSteps: 1 },
    minChange: 2e-5,
  },
  'full-batch-1e-3': {
    title: '(a) the same with lr 1e-3, so every parameter moves well beyond the tolerance',
    args: { perDeviceTrainBatchSize: 8, maxSteps: 4, learningRate: 1e-3, weightDecay: 0.01, warmupSteps: 1 },
    minChange: 1e-3,
  },
  'batch-2-seed-7': {
    title: '(b) batches of 2 over 2 epochs with seed 7: the same rows in every step',
    args: { perDeviceTrainBatchSize: 2, seed: 7, numTrainEpochs: 2, learningRate: 1e-3, weightDecay: 0.01 },
    minChange: 1e-3,
  },
  'accumulation-cosine': {
    title: '(c) gradient accumulation 2 with the cosine schedule and warmupRatio 0.25',
    args: {
      perDeviceTrainBatchSize: 2,
      gradientAccumulationSteps: 2,
      numTrainEpochs: 2,
      lrSchedulerType: 'cosine',
      warmupRatio: 0.25,
      learningRate: 1e-3,
      weightDecay: 0.01,
    },
    minChange: 1e-3,
  },
  'drop-last-pos-weight': {
    title: '(e) dataloaderDropLast, posWeight, no clipping, constant_with_warmup',
    rows: ROWS.slice(0, 7),
    posWeight: 2,
    args: {
      perDeviceTrainBatchSize: 3,
      dataloaderDropLast: true,
      numTrainEpochs: 2,
      maxGradNorm: 0,
      lrSchedulerType: 'constant_with_warmup',
      warmupSteps: 2,
      learningRate: 1e-3,
      weightDecay: 0.1,
    },
    minChange: 1e-3,
  },
  'accumulation-remainder': {
    // 7 rows in batches of 3: 3 batches an epoch, accumulated in groups of 2 and then 1.
    title: "(f) an epoch's short last accumulation group is a step of its own",
    rows: ROWS.slice(0, 7),
    args: { perDeviceTrainBatchSize: 3, gradientAccumulationSteps: 2, maxSteps: 3, lrSchedulerType: 'constant', learningRate: 1e-3 },
    minChange: 1e-3,
  },
  'dropout-2-epochs': {
    title: '(g) dropout 0.1: the same masks, drawn from the seeded global generator, over 2 epochs',
    dropout: true,
    args: { perDeviceTrainBatchSize: 4, seed: 7, numTrainEpochs: 2, learningRate: 1e-3 },
    minChange: 1e-3,
  },
};

/** The sampler queries of case (d): sizes, batch sizes, seeds (one beyond 32 bits), epochs. */
const SAMPLER_QUERIES = [1, 2, 7, 8, 100, 1000].flatMap((n) =>
  [1, 3, 8, 32].flatMap((batchSize) =>
    [0, 7, 42, 2 ** 40 + 3].flatMap((seed) =>
      [0, 1, 5].flatMap((epoch) => [false, true].map((dropLast) => ({ n, batch_size: batchSize, seed, epoch, drop_last: dropLast }))),
    ),
  ),
);

let workDir: string;
/** Copies of the tiny model with dropout 0 and with dropout 0.1. */
const modelDirs = { none: '', dropout: '' };
let initialWeights: Map<string, F32Tensor>;
let references: Promise<Record<string, ReferenceRun>>;
let referenceBatches: Promise<number[][][]>;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'training-parity-'));
  // Without dropout both sides compute one deterministic function; with it, they must also draw
  // the same masks from the seeded generator, in the same order.
  modelDirs.none = await copyTinyModel('tiny-dropout-0', 0);
  modelDirs.dropout = await copyTinyModel('tiny-dropout-0.1', 0.1);
  initialWeights = await readSafetensorsF32(path.join(modelDirs.none, 'model.safetensors'));

  // Every PyTorch run in one process (torch loads once), working while the TS runs train.
  const names = Object.keys(CASES);
  await Promise.all(names.map((name) => mkdir(path.join(workDir, name))));
  const runs = names.map((name) => {
    const { rows = ROWS, args, posWeight, dropout } = CASES[name];
    return { model_dir: modelDirFor(dropout), rows, args, pos_weight: posWeight, out: referenceFile(name) };
  });
  references = runPythonJson<{ runs: ReferenceRun[] }>('train_reference.py', [], { runs }).then((answer) =>
    Object.fromEntries(names.map((name, i) => [name, answer.runs[i]])),
  );
  referenceBatches = runPythonJson<{ epoch_batches: number[][][] }>('train_reference.py', [], {
    epoch_batches: SAMPLER_QUERIES,
  }).then((answer) => answer.epoch_batches);
  // Awaited by the tests; this only keeps an early failure from being reported as unhandled.
  references.catch(() => {});
  referenceBatches.catch(() => {});
}, CASE_TIMEOUT);

afterAll(async () => {
  // Let the Python processes finish before their output folder goes away.
  await Promise.allSettled([references, referenceBatches]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A copy of the tiny test model with every dropout probability set to `p`. */
async function copyTinyModel(name: string, p: number): Promise<string> {
  const dir = path.join(workDir, name);
  await cp(testModel('tiny'), dir, { recursive: true });
  const configFile = path.join(dir, 'config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
  Object.assign(config, { hidden_dropout_prob: p, attention_probs_dropout_prob: p, classifier_dropout: p });
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return dir;
}

function modelDirFor(dropout: boolean | undefined): string {
  return dropout ? modelDirs.dropout : modelDirs.none;
}

function referenceFile(name: string): string {
  return path.join(workDir, name, 'reference.safetensors');
}

/** Trains a fresh copy of the model with the case's arguments; returns it with its steps. */
async function trainTs(name: string, { args, rows = ROWS, posWeight, dropout }: Case) {
  const model = await CrossEncoder.fromPretrained(modelDirFor(dropout));
  const steps: StepOutput[] = [];
  const trainer = new CrossEncoderTrainer({
    model,
    args: { ...args, outputDir: path.join(workDir, name, 'output'), saveStrategy: 'no', disableTqdm: true },
    trainDataset: rows,
    loss: new BinaryCrossEntropyLoss(model, { posWeight }),
    callbacks: [{ onStepEnd: (e) => void steps.push(e.step) }],
  });
  const output = await trainer.train();
  const savedDir = path.join(workDir, name, 'saved');
  await model.savePretrained(savedDir);
  return { model, trainer, output, steps, weights: await readSafetensorsF32(path.join(savedDir, 'model.safetensors')) };
}

function relativeGap(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.max(1, Math.abs(expected));
}

/** Every per-step disagreement, one readable line each (empty when the runs agree). */
function stepMismatches(steps: readonly StepOutput[], reference: readonly ReferenceStep[]): string[] {
  const problems: string[] = [];
  if (steps.length !== reference.length) problems.push(`TS took ${steps.length} steps, PyTorch ${reference.length}`);
  steps.slice(0, reference.length).forEach((ts, i) => {
    const py = reference[i];
    const at = `step ${py.step}`;
    if (JSON.stringify(ts.batchIndices) !== JSON.stringify(py.batch_indices)) {
      problems.push(`${at}: rows ${JSON.stringify(ts.batchIndices)} vs PyTorch ${JSON.stringify(py.batch_indices)}`);
    }
    if (py.loss === null || !(Math.abs(ts.loss - py.loss) <= LOSS_TOLERANCE)) {
      problems.push(`${at}: loss ${ts.loss} vs PyTorch ${py.loss}`);
    }
    const gradNormAgrees =
      py.grad_norm === null ? Number.isNaN(ts.gradNorm) : relativeGap(ts.gradNorm, py.grad_norm) <= GRAD_NORM_TOLERANCE;
    if (!gradNormAgrees) problems.push(`${at}: grad norm ${ts.gradNorm} vs PyTorch ${py.grad_norm}`);
    if (!(Math.abs(ts.learningRate - py.learning_rate) <= LR_TOLERANCE * Math.max(1e-12, Math.abs(py.learning_rate)))) {
      problems.push(`${at}: learning rate ${ts.learningRate} vs PyTorch ${py.learning_rate}`);
    }
  });
  return problems;
}

/**
 * Tensors whose worst element is out of tolerance, with that element (empty when all agree).
 * `lrBudget` bounds the gap of the {@link NOISE_GRADIENT} tensors.
 */
function weightMismatches(actual: Map<string, F32Tensor>, expected: Map<string, F32Tensor>, lrBudget: number): string[] {
  const problems: string[] = [];
  const names = [...new Set([...actual.keys(), ...expected.keys()])].sort();
  for (const name of names) {
    const a = actual.get(name);
    const b = expected.get(name);
    if (!a || !b) {
      problems.push(`${name}: only in the ${a ? 'TS' : 'PyTorch'} file`);
      continue;
    }
    if (JSON.stringify(a.shape) !== JSON.stringify(b.shape)) {
      problems.push(`${name}: shape [${a.shape}] vs PyTorch [${b.shape}]`);
      continue;
    }
    const noise = NOISE_GRADIENT.test(name);
    const gapOf = noise ? (x: number, y: number) => Math.abs(x - y) : relativeGap;
    const tolerance = noise ? lrBudget : PARAMETER_TOLERANCE;
    let worst = 0;
    let worstIndex = 0;
    for (let i = 0; i < b.data.length; i++) {
      const gap = gapOf(a.data[i], b.data[i]);
      if (!(gap <= worst)) {
        worst = gap;
        worstIndex = i;
      }
    }
    if (!(worst <= tolerance)) {
      const kind = noise ? 'absolute' : 'relative';
      problems.push(`${name}[${worstIndex}]: ${a.data[worstIndex]} vs PyTorch ${b.data[worstIndex]} (${kind} gap ${worst.toExponential(2)})`);
    }
  }
  return problems;
}

/** The largest absolute change of any parameter element from `before` to `after`. */
function largestChange(before: Map<string, F32Tensor>, after: Map<string, F32Tensor>): number {
  let largest = 0;
  for (const [name, { data }] of after) {
    const start = before.get(name)!.data;
    for (let i = 0; i < data.length; i++) largest = Math.max(largest, Math.abs(data[i] - start[i]));
  }
  return largest;
}

async function expectParity(name: string): Promise<void> {
  const testCase = CASES[name];
  const run = await trainTs(name, testCase);
  const reference = (await references)[name];
  const referenceWeights = await readSafetensorsF32(referenceFile(name));
  expect(run.model.maxLength).toBe(reference.max_length);
  expect(stepMismatches(run.steps, reference.steps)).toEqual([]);
  expect(run.trainer.state.maxSteps).toBe(reference.max_steps);
  expect(run.output.globalStep).toBe(reference.steps.length);
  expect(Math.abs(run.output.trainingLoss - (reference.train_loss ?? NaN))).toBeLessThanOrEqual(LOSS_TOLERANCE);
  expect(largestChange(initialWeights, referenceWeights)).toBeGreaterThan(testCase.minChange);
  // Every step's lr is at most the peak learning rate.
  const lrBudget = (testCase.args.learningRate ?? 5e-5) * reference.steps.length;
  expect(weightMismatches(run.weights, referenceWeights, lrBudget)).toEqual([]);
}

describe('training matches PyTorch step for step (tiny model)', () => {
  for (const [name, { title }] of Object.entries(CASES)) {
    it(title, () => expectParity(name), CASE_TIMEOUT);
  }
});

describe('(d) the sampler draws torch.randperm chunks', () => {
  it('epochBatches equals consecutive chunks of torch.randperm(n, Generator().manual_seed(seed + epoch))', async () => {
    const expected = await referenceBatches;
    const actual = SAMPLER_QUERIES.map((q) => epochBatches(q.n, q.batch_size, q.seed, q.epoch, q.drop_last));
    const differing = SAMPLER_QUERIES.filter((_, i) => JSON.stringify(actual[i]) !== JSON.stringify(expected[i]));
    expect(differing).toEqual([]);
    // Not vacuous: the orders are shuffled, and differ between epochs.
    expect(epochBatches(100, 100, 42, 0, false)[0]).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(epochBatches(100, 100, 42, 0, false)).not.toEqual(epochBatches(100, 100, 42, 1, false));
  }, CASE_TIMEOUT);
});
