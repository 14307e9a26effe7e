/**
 * What a training run reports and where: a host logger instead of stderr, rounded numbers in log
 * lines, a progress bar that says what it waits for (evaluating…, saving checkpoint-N…) with the
 * epoch and elapsed time, and a process environment the package leaves as it found it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { CrossEncoder, CrossEncoderTrainer, InvalidArgumentError, type Logger } from '../lib/index.js';
import { ProgressCallback } from '../lib/training/progress-callback.js';
import { roundedLogs } from '../lib/training/rounded-logs.js';

import { testModel } from './helpers/models.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROWS = Array.from({ length: 8 }, (_, i) => ({ query: `query ${i}`, document: `document ${i}`, label: i % 2 }));

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tce-logging-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Decimal places a number prints with. */
const decimals = (value: number) => (String(value).split('.')[1] ?? '').replace(/e-?\d+$/, '').length;

describe('roundedLogs', () => {
  it('rounds as transformers prints: epoch 2 decimals, learning rate 3 significant digits, others 4 decimals', () => {
    expect(roundedLogs({ loss: 0.693147182464599, grad_norm: 1.234567, learning_rate: 1.9666666666e-5, epoch: 0.3333333, step: 5 })).toEqual({
      loss: 0.6931,
      grad_norm: 1.2346,
      learning_rate: 1.97e-5,
      epoch: 0.33,
      step: 5,
    });
    expect(roundedLogs({ 'eval_dev_ndcg@10': 0.987654321, eval_loss: 0.000123456 })).toEqual({ 'eval_dev_ndcg@10': 0.9877, eval_loss: 0.0001235 });
  });
});

describe('the logger option', () => {
  it('receives the run (start, rounded log entries, checkpoints, end) and stderr gets nothing', async () => {
    const calls: Array<[string, Record<string, unknown>, string | undefined]> = [];
    const record = (level: string) => (fields: object, message?: string) => void calls.push([level, fields as Record<string, unknown>, message]);
    const logger: Logger = { info: record('info'), warn: record('warn'), error: record('error') };
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const write = vi.spyOn(process.stderr, 'write');
    let stderrWrites: unknown[][] = [];
    try {
      await new CrossEncoderTrainer({
        model,
        trainDataset: ROWS,
        evalDataset: ROWS,
        logger,
        args: { outputDir: path.join(work, 'logger-run'), maxSteps: 4, perDeviceTrainBatchSize: 2, loggingSteps: 1, saveSteps: 2, evalStrategy: 'steps', evalSteps: 2 },
      }).train();
    } finally {
      stderrWrites = [...write.mock.calls]; // mockRestore clears them
      write.mockRestore();
    }
    expect(stderrWrites).toEqual([]);
    const messages = calls.map(([, , message]) => message);
    expect(messages[0]).toBe('training started');
    expect(messages.at(-1)).toBe('training finished');
    expect(messages.filter((m) => m === 'training log')).toHaveLength(4);
    expect(messages.filter((m) => m === 'evaluation')).toHaveLength(2);
    expect(messages.filter((m) => m === 'checkpoint saved')).toHaveLength(2);
    expect(calls[0][1]).toMatchObject({ step: 0, maxSteps: 4 });
    const logs = calls.filter(([, , m]) => m === 'training log').map(([, fields]) => fields as Record<string, number>);
    for (const entry of logs) {
      expect(Object.keys(entry).sort()).toEqual(['epoch', 'grad_norm', 'learning_rate', 'loss', 'step']);
      expect(decimals(entry.loss)).toBeLessThanOrEqual(4);
      expect(decimals(entry.epoch)).toBeLessThanOrEqual(2);
    }
    expect(calls.find(([, , m]) => m === 'checkpoint saved')![1]).toEqual({ step: 2, checkpoint: path.join(work, 'logger-run', 'checkpoint-2') });
  });

  it('must have info, warn and error', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    expect(() => new CrossEncoderTrainer({ model, trainDataset: ROWS, logger: { info() {} } as never })).toThrow(InvalidArgumentError);
    expect(() => new CrossEncoderTrainer({ model, trainDataset: ROWS, logger: { info() {} } as never })).toThrow(/options\.logger must be a logger with info, warn and error methods .*lacks warn, error/);
  });
});

describe('the progress bar', () => {
  /** Trains 4 steps, evaluating and saving every 2, with a ProgressCallback on a fake stream. */
  async function trainWithProgress(isTTY: boolean): Promise<string[]> {
    const output: string[] = [];
    const stream = { isTTY, columns: 400, write: (chunk: string) => output.push(chunk) };
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    await new CrossEncoderTrainer({
      model,
      trainDataset: ROWS,
      evalDataset: ROWS,
      callbacks: [new ProgressCallback(stream)],
      args: {
        outputDir: path.join(work, `progress-${isTTY}`),
        disableTqdm: true, // the trainer's own bar off: only the one above writes
        maxSteps: 4,
        perDeviceTrainBatchSize: 2,
        loggingSteps: 1,
        saveSteps: 2,
        evalStrategy: 'steps',
        evalSteps: 2,
      },
    }).train();
    return output;
  }

  it('says what it waits for, with the epoch, elapsed time and rounded log lines (plain lines)', async () => {
    const lines = (await trainWithProgress(false)).join('').split('\n').filter(Boolean);
    const bar = lines.filter((line) => line.startsWith('Training '));
    expect(bar.some((line) => /^Training 2\/4 50% .*elapsed .*epoch=0\.50\/1 .*evaluating…$/.test(line)), lines.join('\n')).toBe(true);
    expect(bar.some((line) => /^Training 2\/4 .* saving checkpoint-2…$/.test(line)), lines.join('\n')).toBe(true);
    expect(bar.some((line) => /^Training 4\/4 .* saving checkpoint-4…$/.test(line)), lines.join('\n')).toBe(true);
    const entries = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, number>);
    expect(entries.filter((entry) => 'loss' in entry)).toHaveLength(4);
    for (const entry of entries) {
      for (const [key, value] of Object.entries(entry)) {
        if (key === 'learning_rate') expect(Number(value.toPrecision(3))).toBe(value);
        else expect(decimals(value), `${key} ${value}`).toBeLessThanOrEqual(4);
      }
    }
  });

  it('on a terminal, draws itself again right after each log line instead of vanishing', async () => {
    const chunks = await trainWithProgress(true);
    chunks.forEach((chunk, i) => {
      if (chunk.includes('{') && i + 1 < chunks.length) expect(chunks[i + 1], `after ${chunk}`).toMatch(/^\rTraining \[/);
    });
    expect(chunks.some((chunk) => chunk.includes('evaluating…'))).toBe(true);
  });
});

describe('the process environment', () => {
  const probe = `
const before = JSON.stringify(process.env);
const { CrossEncoder } = await import(${JSON.stringify(path.join(ROOT, 'lib/index.ts'))});
const afterImport = JSON.stringify(process.env);
const model = await CrossEncoder.fromPretrained(${JSON.stringify(testModel('tiny'))});
await model.predict([['q', 'd']]);
const { nativeInfo } = await import(${JSON.stringify(path.join(ROOT, 'lib/internal.ts'))});
console.log(JSON.stringify({ importChanged: before !== afterImport, loadChanged: before !== JSON.stringify(process.env), policy: process.env.OMP_WAIT_POLICY ?? null, applied: nativeInfo().ompWaitPolicy }));
`;
  const runProbe = async (env: NodeJS.ProcessEnv) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: ROOT, env });
    return JSON.parse(stdout) as { importChanged: boolean; loadChanged: boolean; policy: string | null; applied: string };
  };

  it('is unchanged by importing the package and loading the addon (OMP_WAIT_POLICY is set only while libgomp loads)', async () => {
    const env = { ...process.env };
    delete env.OMP_WAIT_POLICY;
    expect(await runProbe(env)).toEqual({ importChanged: false, loadChanged: false, policy: null, applied: 'PASSIVE' });
  }, 60_000);

  it("keeps the user's own OMP_WAIT_POLICY", async () => {
    expect(await runProbe({ ...process.env, OMP_WAIT_POLICY: 'ACTIVE' })).toEqual({ importChanged: false, loadChanged: false, policy: 'ACTIVE', applied: 'ACTIVE' });
  }, 60_000);
});
