/**
 * Every loss of the catalogue trains from a JSONL file through the CLI (`crossencoder train
 * --loss NAME`, run in-process through the CLI's `main`), and from the same file through the API
 * (`loadDataset` + `createLoss`), to the same weights: the CLI adds no step of its own. The loss
 * maths itself is checked against PyTorch in loss-parity.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../lib/cli/index.js';
import { createLoss, CrossEncoder, CrossEncoderTrainer, loadDataset, LOSSES } from '../lib/index.js';

import { schemeByName } from '../lib/training/losses/index.js';

import { testModel } from './helpers/models.js';
import { readSafetensorsF32 } from './helpers/safetensors.js';

const TIMEOUT = 60_000;

const QUERIES = ['how do I reset a password?', 'export audit logs', 'restore a deleted project', 'invite a teammate'];
const DOCS = ['open settings and click reset', 'admins export logs as csv', 'open trash and click restore', 'send an invite from members'];
const OTHER = ['the office is closed', 'invoices are emailed', 'team avatars', 'deployments show status'];

const lists = () => QUERIES.map((query, i) => ({ query, docs: [DOCS[i], OTHER[i], OTHER[(i + 1) % 4]], labels: [2, 0, i % 2] }));
const triplets = () => QUERIES.map((query, i) => ({ query, positive: DOCS[i], negative: OTHER[i] }));

/** Rows in each loss's data format, and the model and flags it trains with. */
const CASES: Record<string, { rows: object[]; model?: 'tiny-3labels'; flags?: string[] }> = {
  BinaryCrossEntropyLoss: { rows: QUERIES.flatMap((query, i) => [{ query, document: DOCS[i], label: 1 }, { query, document: OTHER[i], label: 0 }]) },
  CrossEntropyLoss: { rows: QUERIES.map((query, i) => ({ query, document: DOCS[i], label: i % 3 })), model: 'tiny-3labels' },
  MSELoss: { rows: QUERIES.map((query, i) => ({ query, passage: DOCS[i], score: i / 4 })), flags: ['--activation-fn', 'sigmoid'] },
  MarginMSELoss: { rows: triplets().map((r, i) => ({ ...r, score: 1 + i / 2 })) },
  LambdaLoss: { rows: lists(), flags: ['--weighting-scheme', 'LambdaRankScheme', '--k', '2'] },
  RankNetLoss: { rows: lists() },
  ListNetLoss: { rows: lists() },
  ListMLELoss: { rows: lists(), flags: ['--no-respect-input-order'] },
  PListMLELoss: { rows: lists() },
  ADRMSELoss: { rows: lists(), flags: ['--alpha', '2'] },
  MultipleNegativesRankingLoss: { rows: triplets(), flags: ['--num-negatives', '2'] },
  CachedMultipleNegativesRankingLoss: { rows: triplets(), flags: ['--mini-batch-size', '3'] },
};

const ARGS = { perDeviceTrainBatchSize: 2, maxSteps: 2, learningRate: 1e-3 };
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cli-losses-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('every loss trains from JSONL through the CLI and the API alike', () => {
  it('has a case for every loss of the catalogue', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(LOSSES).sort());
  });

  for (const [name, c] of Object.entries(CASES)) {
    it(name, async () => {
      const modelDir = testModel(c.model ?? 'tiny');
      const file = path.join(work, `${name}.jsonl`);
      await writeFile(file, c.rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const output = path.join(work, `${name}-cli`);
      const flags = c.flags ?? [];
      const code = await main([
        'train', '-m', modelDir, '--train', file, '--output', output, '--loss', name, ...flags,
        '--per-device-train-batch-size', '2', '--max-steps', '2', '--learning-rate', '1e-3', '--save-strategy', 'no', '--disable-tqdm',
      ]);
      expect(code).toBe(0);

      // The same run through the API, with the flags' options.
      const model = await CrossEncoder.fromPretrained(modelDir);
      const loss = createLoss(name, model, optionsOf(flags));
      const trainer = new CrossEncoderTrainer({
        model,
        loss,
        trainDataset: await loadDataset(file),
        args: { ...ARGS, outputDir: path.join(work, `${name}-api`), saveStrategy: 'no', disableTqdm: true },
      });
      await trainer.train();
      const apiDir = path.join(work, `${name}-api-final`);
      await model.savePretrained(apiDir);

      const [cli, api, initial] = await Promise.all(
        [path.join(output, 'final'), apiDir, modelDir].map((dir) => readSafetensorsF32(path.join(dir, 'model.safetensors'))),
      );
      let changed = 0;
      for (const [key, tensor] of api) {
        expect(Array.from(cli.get(key)!.data), key).toEqual(Array.from(tensor.data));
        const before = initial.get(key)!.data;
        tensor.data.forEach((v, i) => (changed = Math.max(changed, Math.abs(v - before[i]))));
      }
      expect(changed, 'training moved the weights').toBeGreaterThan(1e-5);
    }, TIMEOUT);
  }
});

/** The API options the test's CLI flags stand for. */
function optionsOf(flags: readonly string[]): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i];
    if (flag === '--no-respect-input-order') options.respectInputOrder = false;
    else if (flag === '--weighting-scheme') options.weightingScheme = schemeByName(flags[++i]);
    else if (flag === '--activation-fn') options.activationFn = flags[++i];
    else options[flag.slice(2).replace(/-(\w)/g, (_, ch: string) => ch.toUpperCase())] = Number(flags[++i]);
  }
  return options;
}
