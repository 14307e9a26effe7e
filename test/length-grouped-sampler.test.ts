/**
 * groupByLength: our batches equal transformers' get_length_grouped_indices
 * (test/reference/length_grouped.py, same generator seeding) exactly, for dataset sizes below and
 * above 4 megabatches, not divisible by the batch size, with tied lengths, dropLast both ways and
 * gradient accumulation (megabatches of batch × accumulation); a wrong reference (no
 * longest-first swap; ascending sort) must differ. Then the trainer takes those batches, and
 * they pad less than the default sampler's (half, on 96 rows of 8 to 100 words).
 */
import path from 'node:path';
import os from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, CrossEncoderTrainer, type StepOutput } from '../lib/index.js';
import { mulberry32 } from '../lib/datasets.js';
import { lengthGroupedBatches } from '../lib/training/length-grouped-sampler.js';
import { epochBatches } from '../lib/training/sampler.js';

import { testModel } from './helpers/models.js';
import { runPythonJson } from './helpers/python.js';

const TIMEOUT = 120_000;

interface Query {
  lengths: number[];
  batch_size: number;
  megabatch_batch_size: number;
  seed: number;
  epoch: number;
  drop_last: boolean;
  mutation?: string;
}

const random = mulberry32(5);
const lengthsOf = (n: number, coarse: boolean) => Array.from({ length: n }, () => (coarse ? 4 + Math.floor(random() * 5) : 5 + Math.floor(random() * 300)));

const QUERIES: Query[] = [];
for (const [n, batch, accumulation] of [
  [7, 4, 1],
  [30, 4, 1],
  [101, 8, 1],
  [500, 8, 2],
  [3000, 16, 1],
] as const) {
  for (const coarse of [false, true]) {
    for (const drop_last of [false, true]) {
      QUERIES.push({ lengths: lengthsOf(n, coarse), batch_size: batch, megabatch_batch_size: batch * accumulation, seed: 42, epoch: n % 3, drop_last });
    }
  }
}

let expected: Promise<number[][][]>;
let mutated: Promise<number[][][]>;
beforeAll(() => {
  expected = runPythonJson<{ batches: number[][][] }>('length_grouped.py', [], { queries: QUERIES }).then((r) => r.batches);
  mutated = runPythonJson<{ batches: number[][][] }>('length_grouped.py', [], {
    queries: QUERIES.flatMap((q) => [{ ...q, mutation: 'no_swap' }, { ...q, mutation: 'ascending' }]),
  }).then((r) => r.batches);
  expected.catch(() => {});
  mutated.catch(() => {});
});

describe('groupByLength draws transformers\' LengthGroupedSampler batches', () => {
  it('equals the reference exactly in every case', async () => {
    const reference = await expected;
    for (const [i, q] of QUERIES.entries()) {
      const ours = await lengthGroupedBatches(q.lengths, q.batch_size, q.megabatch_batch_size, q.seed, q.epoch, q.drop_last);
      expect(ours, `case ${i}`).toEqual(reference[i]);
    }
  }, TIMEOUT);

  it('the comparison fails on a wrong grouping (no longest-first swap; ascending order)', async () => {
    const [reference, wrong] = await Promise.all([expected, mutated]);
    const differs = (i: number, m: number) => JSON.stringify(reference[i]) !== JSON.stringify(wrong[2 * i + m]);
    // Ascending order differs everywhere; the swap only matters when the longest row is not already first.
    expect(QUERIES.every((_, i) => differs(i, 1))).toBe(true);
    expect(QUERIES.filter((_, i) => differs(i, 0)).length).toBeGreaterThan(QUERIES.length / 3);
  }, TIMEOUT);
});

describe('the trainer with groupByLength', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'group-by-length-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('trains on the grouped batches, which pad much less', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const words = 'reset the password export logs restore a project invite teammates billing email'.split(' ');
    const text = (n: number) => Array.from({ length: n }, (_, j) => words[(n + j) % words.length]).join(' ');
    const rows = Array.from({ length: 96 }, (_, i) => ({ query: text(3 + (i % 4)), document: text(5 + ((i * 37) % 90)), label: i % 2 }));
    const steps: StepOutput[] = [];
    const args = { perDeviceTrainBatchSize: 8, maxSteps: 12, groupByLength: true, saveStrategy: 'no' as const, disableTqdm: true, outputDir: work };
    await new CrossEncoderTrainer({ model, trainDataset: rows, args, callbacks: [{ onStepEnd: (e) => void steps.push(e.step) }] }).train();

    const lengths = rows.map((r) => model.tokenizer.encodePair(r.query, r.document, model.maxLength).inputIds.length);
    const [reference] = await runPythonJson<{ batches: number[][][] }>('length_grouped.py', [], {
      queries: [{ lengths, batch_size: 8, megabatch_batch_size: 8, seed: 42, epoch: 0, drop_last: false }],
    }).then((r) => r.batches);
    expect(steps.map((s) => s.batchIndices[0])).toEqual(reference);

    const padding = (batches: number[][]) => {
      let padded = 0;
      let real = 0;
      for (const b of batches) {
        const longest = Math.max(...b.map((i) => lengths[i]));
        padded += longest * b.length;
        real += b.reduce((sum, i) => sum + lengths[i], 0);
      }
      return 1 - real / padded;
    };
    const grouped = padding(reference);
    const plain = padding(await epochBatches(rows.length, 8, 42, 0, false));
    console.log(`padding share: default sampler ${(plain * 100).toFixed(1)}%, groupByLength ${(grouped * 100).toFixed(1)}%`);
    expect(grouped).toBeLessThan(plain / 1.5);
  }, TIMEOUT);
});
