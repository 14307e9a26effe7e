/**
 * Evaluation during training: strategies, eval_ metrics in the log history, the best checkpoint
 * loaded at the end, and early stopping as transformers' EarlyStoppingCallback behaves.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  CrossEncoder,
  CrossEncoderRerankingEvaluator,
  EarlyStoppingCallback,
  InvalidArgumentError,
  train,
  type CrossEncoderEvaluator,
  type PairRow,
} from '../lib/index.js';

import { testModel } from './helpers/models.js';

const rows: PairRow[] = [
  { query: 'reset a password', document: 'Open Settings > Users and click Send reset link.', label: 1 },
  { query: 'reset a password', document: 'The release dashboard lists deployments.', label: 0 },
  { query: 'export audit logs', document: 'Admins export audit logs as CSV.', label: 1 },
  { query: 'export audit logs', document: 'The office is closed on holidays.', label: 0 },
];

/** Reports a scripted metric sequence, one value per evaluation. */
class ScriptedEvaluator implements CrossEncoderEvaluator {
  readonly name = 'scripted';
  readonly primaryMetric = 'scripted_score';
  readonly greaterIsBetter = true;
  calls = 0;
  constructor(private readonly values: number[]) {}
  async evaluate(): Promise<Record<string, number>> {
    return { scripted_score: this.values[this.calls++] };
  }
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tce-eval-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const base = { perDeviceTrainBatchSize: 2, learningRate: 1e-3, disableTqdm: true, loggingSteps: 1 };

describe('evaluation during training', () => {
  it('logs eval_loss and evaluator metrics with an eval_ prefix at each evalSteps', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const evaluator = new CrossEncoderRerankingEvaluator({
      name: 'support',
      samples: [{ query: 'reset a password', positive: [rows[0].document], negative: [rows[1].document, rows[3].document] }],
      writeCsv: false,
    });
    const outputDir = path.join(work, 'steps');
    await train({
      model,
      trainDataset: rows,
      evalDataset: rows,
      evaluator,
      args: { ...base, outputDir, maxSteps: 4, evalStrategy: 'steps', evalSteps: 2, evalOnStart: true, saveStrategy: 'no' },
    });
    const state = JSON.parse(await readFile(path.join(outputDir, 'trainer_state.json'), 'utf8'));
    const evals = state.log_history.filter((e: Record<string, number>) => 'eval_loss' in e);
    expect(evals.map((e: Record<string, number>) => e.step)).toEqual([0, 2, 4]);
    for (const entry of evals) {
      expect(entry.eval_loss).toBeGreaterThan(0);
      expect(entry['eval_support_ndcg@10']).toBeGreaterThan(0);
      expect(entry).toHaveProperty('eval_support_map');
    }
    expect(model.modelCardData.evalMetrics).toMatchObject({ step: 4 });
  });

  it('evaluates each epoch with evalStrategy epoch', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const evaluator = new ScriptedEvaluator([0.1, 0.2, 0.3]);
    await train({
      model,
      trainDataset: rows,
      evaluator,
      args: { ...base, outputDir: path.join(work, 'epoch'), numTrainEpochs: 3, evalStrategy: 'epoch', saveStrategy: 'no' },
    });
    expect(evaluator.calls).toBe(3);
  });

  it('stops early after `patience` evaluations without improvement and loads the best checkpoint', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const outputDir = path.join(work, 'early');
    // Best at step 2; steps 3 and 4 do not beat it: patience 2 stops after step 4.
    const evaluator = new ScriptedEvaluator([0.5, 0.7, 0.6, 0.65, 0.9, 0.95]);
    const result = await train({
      model,
      trainDataset: rows,
      evaluator,
      callbacks: [new EarlyStoppingCallback({ patience: 2 })],
      args: {
        ...base,
        outputDir,
        maxSteps: 6,
        evalStrategy: 'steps',
        evalSteps: 1,
        saveStrategy: 'steps',
        saveSteps: 1,
        loadBestModelAtEnd: true,
        metricForBestModel: 'scripted_score',
      },
    });
    expect(result.globalStep).toBe(4);
    const state = JSON.parse(await readFile(path.join(outputDir, 'trainer_state.json'), 'utf8'));
    expect(state.best_metric).toBe(0.7);
    expect(state.best_model_checkpoint).toBe(path.join(outputDir, 'checkpoint-2'));

    const saved = path.join(work, 'early-final');
    await model.savePretrained(saved);
    const [best, loaded] = await Promise.all([
      readFile(path.join(outputDir, 'checkpoint-2', 'model.safetensors')),
      readFile(path.join(saved, 'model.safetensors')),
    ]);
    expect(loaded.equals(best)).toBe(true);
  });

  it('an improvement must beat the best by more than the threshold', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const evaluator = new ScriptedEvaluator([0.5, 0.505, 0.509, 0.9]);
    const result = await train({
      model,
      trainDataset: rows,
      evaluator,
      callbacks: [new EarlyStoppingCallback({ patience: 2, threshold: 0.01 })],
      args: {
        ...base,
        outputDir: path.join(work, 'threshold'),
        maxSteps: 4,
        evalStrategy: 'steps',
        evalSteps: 1,
        saveSteps: 1,
        loadBestModelAtEnd: true,
        metricForBestModel: 'scripted_score',
      },
    });
    expect(result.globalStep).toBe(3);
  });

  it('rejects inconsistent evaluation arguments before training', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const run = (args: object, callbacks = [new EarlyStoppingCallback()]) =>
      train({ model, trainDataset: rows, evaluator: new ScriptedEvaluator([1]), callbacks, args: { ...base, outputDir: path.join(work, 'bad'), ...args } });
    await expect(run({ maxSteps: 1 })).rejects.toThrow(/EarlyStoppingCallback needs loadBestModelAtEnd/);
    await expect(run({ loadBestModelAtEnd: true })).rejects.toThrow(/needs an evalStrategy/);
    await expect(run({ loadBestModelAtEnd: true, evalStrategy: 'steps', evalSteps: 3, saveSteps: 2 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(
      run({ maxSteps: 1, loadBestModelAtEnd: true, evalStrategy: 'steps', evalSteps: 1, saveSteps: 1, metricForBestModel: 'nope' }, []),
    ).rejects.toThrow(/metricForBestModel 'nope' is not among the evaluation metrics: eval_scripted_score/);
  });
});
