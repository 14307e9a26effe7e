/**
 * The training loop's own behaviour: resuming from a checkpoint, checkpoint rotation, logs and
 * files, and bad input rejected before any step.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  BinaryCrossEntropyLoss,
  CrossEncoder,
  CrossEncoderTrainer,
  FileSystemError,
  InvalidArgumentError,
  NonFiniteLossError,
  train,
  type PairRow,
} from '../lib/index.js';

import { testModel } from './helpers/models.js';

const rows: PairRow[] = [
  { query: 'How do I reset a user password?', document: 'Open Settings > Users and click Send reset link.', label: 1 },
  { query: 'How do I reset a user password?', document: 'The release dashboard lists deployments.', label: 0 },
  { query: 'How can I export audit logs?', document: 'Admins export audit logs as CSV from the Admin page.', label: 1 },
  { query: 'How can I export audit logs?', document: 'The office is closed on public holidays.', label: 0 },
  { query: 'How do I restore a deleted project?', document: 'Open Trash and click Restore within 30 days.', label: 1 },
  { query: 'How do I restore a deleted project?', document: 'Avatars change in the profile editor.', label: 0 },
];

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tce-training-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const tiny = () => CrossEncoder.fromPretrained(testModel('tiny'));

async function weights(model: CrossEncoder): Promise<Buffer> {
  const dir = await mkdtemp(path.join(work, 'weights-'));
  await model.savePretrained(dir);
  return readFile(path.join(dir, 'model.safetensors'));
}

describe('resumeFromCheckpoint', () => {
  // The tiny model keeps dropout 0.1, so equality also proves the RNG state is restored.
  // 6 rows in batches of 2: 3 steps an epoch, so step 3 ends an epoch and step 4 is inside one.
  const args = { maxSteps: 6, perDeviceTrainBatchSize: 2, learningRate: 1e-3, loggingSteps: 1, disableTqdm: true, seed: 3 };
  let straightWeights: Buffer;

  beforeAll(async () => {
    const straight = await tiny();
    await train({ model: straight, trainDataset: rows, args: { ...args, outputDir: path.join(work, 'straight'), saveStrategy: 'no' } });
    straightWeights = await weights(straight);
  });

  it.each([
    { where: 'inside an epoch', stopAt: 4, saveSteps: 2, checkpoints: ['checkpoint-2', 'checkpoint-4'] },
    { where: 'at an epoch boundary', stopAt: 3, saveSteps: 3, checkpoints: ['checkpoint-3'] },
  ])('ends at the weights of an uninterrupted run when stopped $where', async ({ stopAt, saveSteps, checkpoints }) => {
    const outputDir = path.join(work, `interrupted-${stopAt}`);
    const stop = {
      onStepEnd: ({ state, control }: { state: { globalStep: number }; control: { shouldTrainingStop: boolean } }) => {
        if (state.globalStep === stopAt) control.shouldTrainingStop = true;
      },
    };
    const partial = await train({ model: await tiny(), trainDataset: rows, args: { ...args, saveSteps, outputDir }, callbacks: [stop] });
    expect(partial.globalStep).toBe(stopAt);
    expect((await readdir(outputDir)).filter((n) => n.startsWith('checkpoint-')).sort()).toEqual(checkpoints);

    const resumed = await tiny();
    const losses: number[] = [];
    const result = await train({
      model: resumed,
      trainDataset: rows,
      args: { ...args, saveSteps, outputDir },
      resumeFromCheckpoint: true,
      callbacks: [{ onStepEnd: (e) => void losses.push(e.step.loss) }],
    });
    expect(result.globalStep).toBe(6);
    expect(losses).toHaveLength(6 - stopAt);
    expect((await weights(resumed)).equals(straightWeights)).toBe(true);
  });
});

describe('checkpoints and logs', () => {
  it('keeps saveTotalLimit checkpoints and writes HF trainer_state.json', async () => {
    const outputDir = path.join(work, 'rotate');
    const model = await tiny();
    await train({
      model,
      trainDataset: rows,
      args: { outputDir, maxSteps: 6, perDeviceTrainBatchSize: 2, saveSteps: 2, saveTotalLimit: 2, loggingSteps: 2, disableTqdm: true },
    });
    const names = (await readdir(outputDir)).sort();
    expect(names.filter((n) => n.startsWith('checkpoint-'))).toEqual(['checkpoint-4', 'checkpoint-6']);
    expect(names).toContain('training_loss.svg');
    const checkpoint = await readdir(path.join(outputDir, 'checkpoint-6'));
    for (const file of ['model.safetensors', 'config.json', 'optimizer.safetensors', 'rng_state.safetensors', 'trainer_state.json', 'tokenizer.json']) {
      expect(checkpoint).toContain(file);
    }
    const state = JSON.parse(await readFile(path.join(outputDir, 'trainer_state.json'), 'utf8'));
    expect(state.global_step).toBe(6);
    expect(state.max_steps).toBe(6);
    const logged = state.log_history.filter((e: Record<string, number>) => 'loss' in e);
    expect(logged.map((e: Record<string, number>) => e.step)).toEqual([2, 4, 6]);
    for (const entry of logged) expect(Object.keys(entry).sort()).toEqual(['epoch', 'grad_norm', 'learning_rate', 'loss', 'step']);
    expect(state.log_history.at(-1)).toMatchObject({ step: 6 });
    expect(state.log_history.at(-1).train_loss).toBeGreaterThan(0);
  });

  it('counts steps and epochs as transformers does', async () => {
    const model = await tiny();
    const seen: number[] = [];
    // 6 rows, batch 4, accumulation 1: 2 batches an epoch; 1.5 epochs → 3 steps.
    const result = await train({
      model,
      trainDataset: rows,
      args: { outputDir: path.join(work, 'epochs'), numTrainEpochs: 1.5, perDeviceTrainBatchSize: 4, saveStrategy: 'no', disableTqdm: true },
      callbacks: [{ onStepEnd: (e) => void seen.push(e.step.batchIndices[0].length) }],
    });
    expect(result.globalStep).toBe(3);
    expect(seen).toEqual([4, 2, 4]);
    expect(result.metrics.epoch).toBeCloseTo(1.5);
  });
});

describe('bad input is rejected before any step', () => {
  const make = async (overrides: Partial<ConstructorParameters<typeof CrossEncoderTrainer>[0]>) => {
    const model = await tiny();
    return () => new CrossEncoderTrainer({ model, trainDataset: rows, args: { outputDir: path.join(work, 'bad'), disableTqdm: true }, ...overrides });
  };

  it('labels outside [0, 1] or NaN for BCE', async () => {
    await expect(make({ trainDataset: [{ ...rows[0], label: 2 }] })).resolves.toThrow(/row 0: BinaryCrossEntropyLoss needs labels in \[0, 1\], got 2/);
    const build = await make({ trainDataset: [{ ...rows[0], label: Number.NaN }] });
    expect(build).toThrow(InvalidArgumentError);
  });

  it('an empty dataset, a missing field, non-string text', async () => {
    expect(await make({ trainDataset: [] })).toThrow(InvalidArgumentError);
    expect(await make({ trainDataset: [{ query: 'q', label: 1 }] })).toThrow(/row 0/);
    expect(await make({ trainDataset: [{ query: 'q', document: 42, label: 1 }] })).toThrow(/row 0: "document" must be a string/);
  });

  it('maxSteps 0 with no epochs, learning rate ≤ 0, unknown argument names', async () => {
    expect(await make({ args: { maxSteps: 0, numTrainEpochs: 0 } })).toThrow(/nothing to train/);
    expect(await make({ args: { learningRate: 0 } })).toThrow(/learningRate must be > 0/);
    expect(await make({ args: { learningRate: -1e-5 } })).toThrow(InvalidArgumentError);
    expect(await make({ args: { learningrate: 1e-5 } as never })).toThrow(/unknown training argument 'learningrate'/);
    expect(await make({ args: { lrSchedulerType: 'exponential' as never } })).toThrow(/lrSchedulerType/);
  });

  it('a loss for another model, and BCE on a 3-label model', async () => {
    const other = await tiny();
    expect(await make({ loss: new BinaryCrossEntropyLoss(other) })).toThrow(/another model/);
    const threeLabels = await CrossEncoder.fromPretrained(testModel('tiny-3labels'));
    expect(() => new BinaryCrossEntropyLoss(threeLabels)).toThrow(/one label/);
  });

  it('an output directory that cannot be created, when the trainer is created', async () => {
    const model = await tiny();
    // A path below a regular file cannot be created, even by root (who ignores permissions).
    const blocked = path.join(testModel('tiny'), 'config.json', 'out');
    const create = () => new CrossEncoderTrainer({ model, trainDataset: rows, args: { outputDir: blocked, disableTqdm: true } });
    expect(create).toThrow(FileSystemError);
    expect(create).toThrow(/the output directory \(outputDir\) .* cannot be created: .*config\.json exists and is not a directory/);
  });
});

describe('a run that cannot go on', () => {
  const args = (name: string) => ({ outputDir: path.join(work, name), saveStrategy: 'no' as const, disableTqdm: true, maxSteps: 3 });

  it('stops at the first non-finite loss, naming the step (unless stopOnNonFiniteLoss is false)', async () => {
    // A learning rate of 1e30 sends the weights to infinity in one step: the next loss is NaN.
    const huge = { ...args('diverge'), learningRate: 1e30, maxGradNorm: 0 };
    const error = await new CrossEncoderTrainer({ model: await tiny(), trainDataset: rows, args: huge }).train().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toMatch(/^training stopped at step 2 of 3: the loss is NaN/);

    const regardless = new CrossEncoderTrainer({ model: await tiny(), trainDataset: rows, args: huge, stopOnNonFiniteLoss: false });
    expect((await regardless.train()).globalStep).toBe(3);
  });

  it('lets a predict during training see one version of the weights, and training go on', async () => {
    const model = await tiny();
    // Two distinct pairs, each repeated: within one call, all copies of a pair must score the same.
    const pairs = Array.from({ length: 16 }, (_, i) => [rows[i % 2].query, rows[i % 2].document] as const);
    const trainer = new CrossEncoderTrainer({ model, trainDataset: rows, args: { ...args('concurrent'), maxSteps: 8, perDeviceTrainBatchSize: 2, learningRate: 1e-3 } });
    let finished = false;
    const training = trainer.train().finally(() => (finished = true));
    const versions = new Set<number>();
    while (!finished) {
      const scores = (await model.predict(pairs, { batchSize: 1 })) as Float32Array;
      for (let i = 2; i < scores.length; i++) expect(scores[i]).toBe(scores[i % 2]);
      versions.add(scores[0]);
    }
    expect((await training).globalStep).toBe(8);
    expect(versions.size).toBeGreaterThan(1); // the weights did change between calls
  });

  it('refuses a second train() while one runs', async () => {
    const trainer = new CrossEncoderTrainer({ model: await tiny(), trainDataset: rows, args: args('twice') });
    const first = trainer.train();
    await expect(trainer.train()).rejects.toThrow(/already training/);
    expect((await first).globalStep).toBe(3);
    expect((await trainer.train()).globalStep).toBe(3); // and runs again once it is done
  });
});

