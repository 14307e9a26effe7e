/**
 * Multi-dataset training (Sentence Transformers' DatasetDict with a loss per dataset):
 * (a) each epoch's batches equal ST's ProportionalBatchSampler / RoundRobinBatchSampler over
 *     torch's own samplers (test/reference/multi_dataset_sampler.py), exactly, over dataset
 *     sizes that do and do not divide by the batch size, dropLast both ways and several epochs;
 *     a deliberately wrong reference (one generator per dataset) must differ;
 * (b) a 10-step run over two datasets with different losses matches the plain-PyTorch reference
 *     (st_losses.py) step for step, within PyTorch's own spread (see loss-parity.test.ts);
 * (c) eval datasets by name report eval_{name}_loss; mismatched dicts are clear errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ADRMSELoss,
  BinaryCrossEntropyLoss,
  CrossEncoder,
  type CrossEncoderLoss,
  CrossEncoderTrainer,
  InvalidArgumentError,
  LambdaLoss,
  MultipleNegativesRankingLoss,
} from '../lib/index.js';
import { multiDatasetEpochBatches } from '../lib/training/sampler.js';

import { copyWithoutDropout } from './helpers/models.js';
import { runPythonJson } from './helpers/python.js';
import { readSafetensorsF32 } from './helpers/safetensors.js';
import { checkedSpread, largestChange, parityMismatches, type Reference, type ReferenceRun, trainRecorded } from './helpers/training-parity.js';

const TIMEOUT = 120_000;

// ---------------------------------------------------------------------------------------------
// (a) the batches
// ---------------------------------------------------------------------------------------------
interface SamplerQuery {
  sizes: number[];
  batch_size: number;
  seed: number;
  epoch: number;
  drop_last: boolean;
  sampler: 'proportional' | 'round_robin';
  mutation?: string;
}

const QUERIES: SamplerQuery[] = [];
for (const sampler of ['proportional', 'round_robin'] as const) {
  for (const drop_last of [false, true]) {
    for (const [sizes, batch_size] of [
      [[5, 7, 3], 2],
      [[8, 4], 4],
      [[1, 9], 3],
      [[40, 3, 17, 6], 5],
      [[12], 4],
    ] as [number[], number][]) {
      for (const epoch of [0, 2]) QUERIES.push({ sizes, batch_size, seed: 42 + epoch, epoch, drop_last, sampler });
    }
  }
}

describe('(a) each epoch takes the batches of ST\'s multi-dataset samplers', () => {
  let expected: Promise<number[][][]>;
  let mutated: Promise<number[][][]>;
  beforeAll(() => {
    expected = runPythonJson<{ batches: number[][][] }>('multi_dataset_sampler.py', [], { queries: QUERIES }).then((r) => r.batches);
    mutated = runPythonJson<{ batches: number[][][] }>('multi_dataset_sampler.py', [], {
      queries: QUERIES.map((q) => ({ ...q, mutation: 'independent_generators' })),
    }).then((r) => r.batches);
    expected.catch(() => {});
    mutated.catch(() => {});
  });

  it('equals torch + ST, exactly, in every case', async () => {
    const reference = await expected;
    const ours = await Promise.all(QUERIES.map((q) => multiDatasetEpochBatches(q.sizes, q.batch_size, q.seed, q.epoch, q.drop_last, q.sampler)));
    QUERIES.forEach((q, i) => expect(ours[i], JSON.stringify(q)).toEqual(reference[i]));
    // Not vacuous: nearly every case has batches (round robin has none when a dataset has none).
    expect(ours.filter((b) => b.length > 0).length).toBeGreaterThanOrEqual(QUERIES.length * 0.9);
  }, TIMEOUT);

  it('the comparison fails on a wrong draw order (one generator per dataset)', async () => {
    const [reference, wrong] = await Promise.all([expected, mutated]);
    const differing = QUERIES.filter((q, i) => q.sizes.length > 1 && JSON.stringify(reference[i]) !== JSON.stringify(wrong[i]));
    expect(differing.length).toBeGreaterThan(QUERIES.length / 3);
  }, TIMEOUT);
});

// ---------------------------------------------------------------------------------------------
// (b) training
// ---------------------------------------------------------------------------------------------
const PAIRS = [
  { query: 'how do I reset a password?', document: 'open settings and click reset', label: 1 },
  { query: 'how do I reset a password?', document: 'the office is closed', label: 0 },
  { query: 'export audit logs', document: 'admins export logs as csv', label: 1 },
  { query: 'export audit logs', document: 'team avatars', label: 0 },
  { query: 'invite a teammate', document: 'send an invite from members', label: 1 },
];
const LISTS = [
  { query: 'restore a deleted project', docs: ['projects stay in the trash', 'open trash and click restore', 'holidays'], labels: [1, 3, 0] },
  { query: 'enable two-factor authentication', docs: ['scan the qr code', 'the release dashboard'], labels: [2, 0] },
  { query: 'change the billing email', docs: ['billing settings hold the email', 'logs are kept 90 days', 'use the api token', 'avatars'], labels: [2, 1, 1, 0] },
  { query: 'invite a teammate', docs: ['send an invite from members', 'deployments show status'], labels: [1, 0] },
];
const TRIPLETS = [
  { query: 'reset a password', positive: 'open settings and click reset', negative: 'invoices are emailed' },
  { query: 'export audit logs', positive: 'admins export logs as csv', negative: 'the office is closed' },
  { query: 'invite a teammate', positive: 'send an invite from members', negative: 'holidays' },
  { query: 'change the billing email', positive: 'billing settings hold the email', negative: 'deployments show status' },
];

interface Case {
  title: string;
  sampler: 'proportional' | 'round_robin';
  datasets: Record<string, object[]>;
  losses: (m: CrossEncoder) => Record<string, CrossEncoderLoss>;
}

const CASES: Record<string, Case> = {
  proportional: {
    title: 'proportional: pairs with BinaryCrossEntropyLoss, lists with LambdaLoss',
    sampler: 'proportional',
    datasets: { pairs: PAIRS, lists: LISTS },
    losses: (m) => ({ pairs: new BinaryCrossEntropyLoss(m), lists: new LambdaLoss(m) }),
  },
  round_robin: {
    title: 'round_robin: lists with ADRMSELoss, triplets with MultipleNegativesRankingLoss',
    sampler: 'round_robin',
    datasets: { lists: LISTS, triplets: TRIPLETS },
    losses: (m) => ({ lists: new ADRMSELoss(m), triplets: new MultipleNegativesRankingLoss(m, { numNegatives: 1 }) }),
  },
};
const ARGS = { perDeviceTrainBatchSize: 2, maxSteps: 10, learningRate: 1e-3, weightDecay: 0.01, warmupSteps: 1 };
const VARIANTS = [{ threads: 2 }, { pad: 7 }];

let workDir: string;
let modelDir: string;
let runs: Promise<Record<string, Reference[]>>;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'multi-dataset-'));
  modelDir = await copyWithoutDropout('tiny', path.join(workDir, 'tiny'));

  const model = await CrossEncoder.fromPretrained(modelDir);
  const requests = Object.entries(CASES).flatMap(([name, c]) => {
    const losses = c.losses(model);
    const datasets = Object.entries(c.datasets).map(([key, rows]) => ({ rows, ...renameNative(losses[key].nativeOptions()) }));
    const base = { model_dir: modelDir, datasets, sampler: c.sampler, args: ARGS };
    return [{ ...base, out: path.join(workDir, `${name}-plain.safetensors`) }, ...VARIANTS.map((variant, v) => ({ ...base, variant, out: path.join(workDir, `${name}-v${v}.safetensors`) }))];
  });
  runs = runPythonJson<{ runs: ReferenceRun[] }>('st_losses.py', [], { runs: requests }).then(async ({ runs: answers }) => {
    const refs = await Promise.all(answers.map(async (run, i) => ({ run, weights: await readSafetensorsF32(requests[i].out) })));
    return Object.fromEntries(Object.keys(CASES).map((name, i) => [name, refs.slice(i * 3, i * 3 + 3)]));
  });
  runs.catch(() => {});
}, TIMEOUT);

function renameNative(native: { loss: string; lossOptions: Record<string, unknown> }) {
  return { loss: native.loss, options: native.lossOptions };
}

afterAll(async () => {
  await Promise.allSettled([runs]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('(b) a 10-step run over two datasets matches PyTorch step for step (tiny model)', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(c.title, async () => {
      const model = await CrossEncoder.fromPretrained(modelDir);
      const ours = await trainRecorded(
        model,
        {
          loss: c.losses(model),
          trainDataset: c.datasets,
          args: { ...ARGS, multiDatasetBatchSampler: c.sampler, outputDir: path.join(workDir, name), saveStrategy: 'no', disableTqdm: true },
        },
        path.join(workDir, `${name}-ts`),
      );
      const [plain, ...variants] = (await runs)[name];
      const spread = checkedSpread(plain, variants);
      const initial = await readSafetensorsF32(path.join(modelDir, 'model.safetensors'));
      expect(largestChange(initial, plain.weights)).toBeGreaterThan(1e-3);
      expect(ours.globalStep).toBe(10);
      // Both datasets were trained on (global row indices of the second start after the first).
      const firstSize = Object.values(c.datasets)[0].length;
      const rows = ours.steps.flatMap((s) => s.batchIndices.flat());
      expect(rows.some((r) => r < firstSize) && rows.some((r) => r >= firstSize)).toBe(true);
      expect(parityMismatches(ours.run, plain, spread)).toEqual({ steps: [], weights: [] });
    }, TIMEOUT);
  }
});

describe('(c) datasets and losses by name', () => {
  it('reports eval_{name}_loss for each eval dataset, and one shared loss serves every dataset', async () => {
    const model = await CrossEncoder.fromPretrained(modelDir);
    const loss = new LambdaLoss(model);
    const trainer = new CrossEncoderTrainer({
      model,
      loss,
      trainDataset: { a: LISTS.slice(0, 2), b: LISTS.slice(2) },
      evalDataset: { a: LISTS.slice(0, 1), b: LISTS.slice(1, 3) },
      args: { ...ARGS, maxSteps: 2, outputDir: path.join(workDir, 'eval-dict'), saveStrategy: 'no', disableTqdm: true },
    });
    const metrics = await trainer.evaluate();
    expect(Object.keys(metrics).sort()).toEqual(['eval_a_loss', 'eval_b_loss']);
    expect(metrics.eval_a_loss).not.toBe(metrics.eval_b_loss);
    expect((await trainer.train()).globalStep).toBe(2);
  }, TIMEOUT);

  it('refuses a loss dict without a dataset dict, a dataset without a loss, and a dataset that does not fit its loss', async () => {
    const model = await CrossEncoder.fromPretrained(modelDir);
    const outputDir = path.join(workDir, 'refused');
    const losses = { pairs: new BinaryCrossEntropyLoss(model), lists: new LambdaLoss(model) };
    expect(() => new CrossEncoderTrainer({ model, loss: losses, trainDataset: PAIRS, args: { outputDir } })).toThrow(
      /with a loss per dataset name, options.trainDataset must be an object of datasets by name/,
    );
    expect(() => new CrossEncoderTrainer({ model, loss: losses, trainDataset: { pairs: PAIRS, more: PAIRS }, args: { outputDir } })).toThrow(
      /no loss for the trainDataset dataset 'more'/,
    );
    let error: unknown;
    try {
      new CrossEncoderTrainer({ model, loss: losses, trainDataset: { pairs: PAIRS, lists: PAIRS }, args: { outputDir } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/^trainDataset 'lists': row 0: "document" must be a non-empty list of strings/);
  }, TIMEOUT);
});
