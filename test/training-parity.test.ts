/**
 * Training parity with PyTorch: CrossEncoderTrainer against test/reference/train_reference.py
 * (plain PyTorch doing what transformers.Trainer + Sentence Transformers' CrossEncoderTrainer do)
 * on the tiny test model, with dropout off (and once on, where the masks must match too).
 *
 * Tolerances are PyTorch's own spread, measured in the same run. The reference trains every case
 * once as it is and once per VARIANT: the same maths with another float summation order (2
 * intra-op threads, the rows of each micro-batch reversed, extra [PAD] positions, one row at a
 * time). How far the variants land from the plain run is the spread:
 * - weights, per tensor: S = the largest |variant - plain| over the tensor's elements and all
 *   variants; every element of ours must be within max(K * S, FLOOR_ULPS ulps of the tensor's
 *   largest |value|) of the plain run;
 * - per step: the same rows, the loss within max(K * S_loss, FLOOR_ULPS ulps of the loss) and the
 *   gradient norm (before clipping) within max(K * S_norm, FLOOR_ULPS ulps) relative, S_loss and
 *   S_norm the largest spread over the run's steps; the learning rate, a double-precision formula
 *   with no float32 sum in it, within 1e-12 relative.
 * Why a measured spread and not a constant: Adam divides each gradient element by its own RMS, so
 * an element whose gradient is float rounding noise moves by up to ~lr per step whatever the noise
 * (the attention key biases, whose exact gradient is 0), and one whose gradient nearly cancels
 * moves by a fraction of lr that depends on its last bits (case f, word_embeddings[67359], token
 * "under": in float64 its step-2 gradient is -4.62e-7, where the row's other elements are ~0.1;
 * float32 gives -4.20e-7, -4.53e-7 with 2 threads, -5.31e-7 here (and in PyTorch from our step-1
 * weights); clipped to ~2e-8, the size of Adam's eps, that is a step of 0.40 lr against 0.45 lr,
 * 4.3e-5 apart). Such gaps follow the CPU's kernels, and PyTorch against itself shows them too;
 * everywhere else both sides agree to a few ulps, and so does the tolerance.
 * The mutation checks at the end show the comparison still fails on real bugs.
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
import { epochBatches } from '../lib/training/sampler.js';

import { testModel } from './helpers/models.js';
import {
  largestChange,
  parityMismatches,
  type Reference,
  type ReferenceRun,
  type Spread,
  spreadOf,
} from './helpers/training-parity.js';
import { runPythonJson } from './helpers/python.js';
import { type F32Tensor, readSafetensorsF32 } from './helpers/safetensors.js';

// The PyTorch runs share one process started before the first test; a case waits for it.
const CASE_TIMEOUT = 60_000;

/** train_reference.py's "variant": another float summation order, the same maths. */
interface Variant {
  threads?: number;
  reverse_rows?: boolean;
  pad?: number;
  split_rows?: boolean;
}
/** The variants of a case without dropout. */
const VARIANTS: Variant[] = [{ threads: 2 }, { reverse_rows: true }, { threads: 2, reverse_rows: true }, { pad: 7 }, { split_rows: true }];
/** With dropout, the masks must stay where they were: extra padding and single rows would move them. */
const DROPOUT_VARIANTS = VARIANTS.filter((v) => !v.pad && !v.split_rows);

/** train_reference.py's "mutation": a deliberate bug. */
interface Mutation {
  lr_scale?: number;
  no_decay?: string;
  skip_step?: number;
  loss_divisor?: 'accumulation_steps';
}

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

/** The mutation checks: each makes the reference wrong in one way; the comparison must notice. */
const MUTATIONS: {
  title: string;
  case: keyof typeof CASES;
  mutation: Mutation;
  /** Which part of the comparison must report it (the other may or may not). */
  detectedBy: ReadonlyArray<'steps' | 'weights'>;
  /** A tensor the weight comparison must name. */
  names?: string;
}[] = [
  {
    title: 'a learning rate 1% high (the logged lr unchanged)',
    case: 'full-batch-1e-3',
    mutation: { lr_scale: 1.01 },
    detectedBy: ['steps', 'weights'],
  },
  {
    title: 'weight decay missed on one tensor',
    case: 'drop-last-pos-weight',
    mutation: { no_decay: 'bert.encoder.layer.0.attention.self.query.weight' },
    detectedBy: ['weights'],
    names: 'bert.encoder.layer.0.attention.self.query.weight',
  },
  {
    // The last step: its loss and gradient norm come before the update, so only the weights tell.
    title: 'a skipped optimizer step (the last one)',
    case: 'batch-2-seed-7',
    mutation: { skip_step: 8 },
    detectedBy: ['weights'],
  },
  {
    // Clipping and Adam hide the halved gradient from the weights; the logged loss and norm show it.
    title: "an epoch's short last accumulation group divided by gradientAccumulationSteps",
    case: 'accumulation-remainder',
    mutation: { loss_divisor: 'accumulation_steps' },
    detectedBy: ['steps'],
  },
];

let workDir: string;
/** Copies of the tiny model with dropout 0 and with dropout 0.1. */
const modelDirs = { none: '', dropout: '' };
let initialWeights: Map<string, F32Tensor>;
/** Per case: the plain PyTorch run, then one per variant. */
let references: Promise<Record<string, Promise<Reference[]>>>;
/** Per mutation (same order as MUTATIONS): the mutated PyTorch run. */
let mutated: Promise<Promise<Reference>[]>;
let referenceBatches: Promise<number[][][]>;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'training-parity-'));
  // Without dropout both sides compute one deterministic function; with it, they must also draw
  // the same masks from the seeded generator, in the same order.
  modelDirs.none = await copyTinyModel('tiny-dropout-0', 0);
  modelDirs.dropout = await copyTinyModel('tiny-dropout-0.1', 0.1);
  initialWeights = await readSafetensorsF32(path.join(modelDirs.none, 'model.safetensors'));

  // Every PyTorch run in two processes (torch loads once in each), working while the TS runs
  // train: the cases with their variants, and the mutations.
  const names = Object.keys(CASES);
  await Promise.all(names.map((name) => mkdir(path.join(workDir, name))));
  const request = (name: string, tag: string, extra: { variant?: Variant; mutation?: Mutation }) => {
    const { rows = ROWS, args, posWeight, dropout } = CASES[name];
    return { model_dir: modelDirFor(dropout), rows, args, pos_weight: posWeight, out: referenceFile(name, tag), ...extra };
  };
  const caseRuns = names.flatMap((name) => [
    request(name, 'plain', {}),
    ...variantsOf(name).map((variant, i) => request(name, `variant-${i}`, { variant })),
  ]);
  const mutationRuns = MUTATIONS.map((m, i) => request(m.case, `mutation-${i}`, { mutation: m.mutation }));
  const withWeights = (run: ReferenceRun, file: string): Promise<Reference> =>
    readSafetensorsF32(file).then((weights) => ({ run, weights }));

  references = runPythonJson<{ runs: ReferenceRun[] }>('train_reference.py', [], { runs: caseRuns }).then((answer) => {
    let next = 0;
    return Object.fromEntries(
      names.map((name) => {
        const runs = answer.runs.slice(next, next + 1 + variantsOf(name).length);
        const files = caseRuns.slice(next, next + runs.length).map((r) => r.out);
        next += runs.length;
        return [name, Promise.all(runs.map((run, i) => withWeights(run, files[i])))];
      }),
    );
  });
  mutated = runPythonJson<{ runs: ReferenceRun[] }>('train_reference.py', [], { runs: mutationRuns }).then((answer) =>
    answer.runs.map((run, i) => withWeights(run, mutationRuns[i].out)),
  );
  referenceBatches = runPythonJson<{ epoch_batches: number[][][] }>('train_reference.py', [], {
    epoch_batches: SAMPLER_QUERIES,
  }).then((answer) => answer.epoch_batches);
  // Awaited by the tests; this only keeps an early failure from being reported as unhandled.
  references.catch(() => {});
  mutated.catch(() => {});
  referenceBatches.catch(() => {});
}, CASE_TIMEOUT);

afterAll(async () => {
  // Let the Python processes finish before their output folder goes away.
  await Promise.allSettled([references, mutated, referenceBatches]);
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

function variantsOf(name: string): Variant[] {
  return CASES[name].dropout ? DROPOUT_VARIANTS : VARIANTS;
}

function referenceFile(name: string, tag: string): string {
  return path.join(workDir, name, `${tag}.safetensors`);
}

/** Trains a fresh copy of the model with the case's arguments, once per case (the mutation checks reuse it). */
const trainTs = memo(async (name: string) => {
  const { args, rows = ROWS, posWeight, dropout } = CASES[name];
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
  const weights = await readSafetensorsF32(path.join(savedDir, 'model.safetensors'));
  return { model, trainer, output, steps, trainingLoss: output.trainingLoss, weights };
});

function memo<T>(make: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => {
    if (!cache.has(key)) cache.set(key, make(key));
    return cache.get(key)!;
  };
}

/** The plain reference of a case and its measured spread; fails the test if a variant is not the same maths. */
async function referenceOf(name: string): Promise<{ plain: Reference; spread: Spread }> {
  const [plain, ...variants] = await (await references)[name];
  const { spread, problems } = spreadOf(plain, variants);
  expect(problems, 'the variants must compute what the plain run computes').toEqual([]);
  return { plain, spread };
}

async function expectParity(name: string): Promise<void> {
  const testCase = CASES[name];
  const [run, { plain, spread }] = await Promise.all([trainTs(name), referenceOf(name)]);
  expect(run.model.maxLength).toBe(plain.run.max_length);
  expect(run.trainer.state.maxSteps).toBe(plain.run.max_steps);
  expect(run.output.globalStep).toBe(plain.run.steps.length);
  expect(largestChange(initialWeights, plain.weights)).toBeGreaterThan(testCase.minChange);
  expect(parityMismatches(run, plain, spread)).toEqual({ steps: [], weights: [] });
}

describe('training matches PyTorch step for step, within PyTorch\'s own spread (tiny model)', () => {
  for (const [name, { title }] of Object.entries(CASES)) {
    it(title, () => expectParity(name), CASE_TIMEOUT);
  }
});

describe('the comparison fails on a real bug (the reference deliberately wrong)', () => {
  MUTATIONS.forEach(({ title, case: name, detectedBy, names }, i) => {
    it(`${title}: case ${name}`, async () => {
      const [run, { spread }, reference] = await Promise.all([trainTs(name), referenceOf(name), mutated.then((all) => all[i])]);
      const found = parityMismatches(run, reference, spread);
      for (const part of detectedBy) expect(found[part], `${part} mismatches`).not.toEqual([]);
      if (names) expect(found.weights.some((line) => line.startsWith(`${names}[`)), found.weights.join('\n')).toBe(true);
    }, CASE_TIMEOUT);
  });
});

describe('(d) the sampler draws torch.randperm chunks', () => {
  it('epochBatches equals consecutive chunks of torch.randperm(n, Generator().manual_seed(seed + epoch))', async () => {
    const expected = await referenceBatches;
    const actual = await Promise.all(SAMPLER_QUERIES.map((q) => epochBatches(q.n, q.batch_size, q.seed, q.epoch, q.drop_last)));
    const differing = SAMPLER_QUERIES.filter((_, i) => JSON.stringify(actual[i]) !== JSON.stringify(expected[i]));
    expect(differing).toEqual([]);
    // Not vacuous: the orders are shuffled, and differ between epochs.
    const [epoch0, epoch1] = await Promise.all([epochBatches(100, 100, 42, 0, false), epochBatches(100, 100, 42, 1, false)]);
    expect(epoch0[0]).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(epoch0).not.toEqual(epoch1);
  }, CASE_TIMEOUT);
});
