/**
 * Data-parallel training (lib/training/distributed.ts, native/distributed, `crossencoder launch`)
 * on 2 processes of the tiny test model:
 * - against test/reference/ddp_reference.py, plain PyTorch with torch.distributed (gloo) and
 *   DistributedDataParallel on 2 processes: the same rows on every rank at every step, the same
 *   losses (the mean over ranks, as transformers logs it), gradient norms and final weights;
 * - 2 processes × batch B against 1 process × batch 2B (dropout off): the same rows per step and
 *   the same numbers within float rounding;
 * - a rank that throws, or hangs, stops the other with a clear error (no hang: the collectives
 *   time out); a 2-process run resumes from its checkpoint to bit-identical weights (dropout on:
 *   every rank's RNG state is in the checkpoint).
 *
 * Tolerances follow test/training-parity.test.ts: PyTorch's own spread, measured in the same run.
 * The DDP reference runs each case once as it is and once per variant (2 intra-op threads, rows
 * reversed, DDP's gradient buckets cut small so the all-reduce goes in another grouping and
 * order, one row at a time); how far a variant lands from the plain run, per tensor and per step,
 * is the spread S, and ours must be within max(K·S, FLOOR_ULPS ulps). Why the buckets change
 * nothing here: with 2 ranks, every element of the all-reduced gradient is g0/2 + g1/2, whatever
 * the bucket, and IEEE addition is commutative; each rank's own forward and backward are where
 * rounding differs, as in single-process parity. The mutation check shows the comparison fails
 * when the gradients are summed instead of averaged.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { launch, type LaunchResult } from '../lib/cli/commands/launch.js';
import { BinaryCrossEntropyLoss, CrossEncoder, CrossEncoderTrainer, type PairRow, type StepOutput } from '../lib/index.js';
import { distributedEnv, shardBatches, shardLength } from '../lib/training/distributed.js';
import { epochBatches } from '../lib/training/sampler.js';

import { testModel } from './helpers/models.js';
import { PYTHON, REFERENCE_DIR } from './helpers/python.js';
import { type F32Tensor, readSafetensorsF32 } from './helpers/safetensors.js';

const WORKER = fileURLToPath(new URL('./helpers/ddp-worker.ts', import.meta.url));
const K = 5;
const FLOOR_ULPS = 4;
const F32_EPSILON = 2 ** -23;

const ROWS: PairRow[] = [
  { query: 'How do I reset a user password?', document: 'To reset a user password, open Settings > Users and click "Send reset link".', label: 1 },
  { query: 'How do I reset a user password?', document: 'The release dashboard shows every deployment with its status.', label: 0 },
  { query: 'How do I enable two-factor authentication?', document: 'Turn on two-factor authentication under Security > Sign-in.', label: 1 },
  { query: 'How do I enable two-factor authentication?', document: 'Invoices are emailed on the first business day of each month.', label: 0 },
  { query: 'How can I export audit logs?', document: 'Admins can export audit logs as CSV from Admin > Audit log > Export.', label: 1 },
  { query: 'How can I export audit logs?', document: 'Team avatars can be changed in the profile editor.', label: 0 },
  { query: 'How do I restore a deleted project?', document: 'Deleted projects stay in the trash for 30 days; open Trash and click Restore.', label: 1 },
  { query: 'How do I restore a deleted project?', document: 'The office is closed on public holidays.', label: 0 },
];

interface Case {
  rows: PairRow[];
  args: Record<string, unknown>;
}
const CASES: Record<string, Case> = {
  // 8 rows in batches of 2: 2 steps an epoch on each rank.
  'batch-2': { rows: ROWS, args: { perDeviceTrainBatchSize: 2, numTrainEpochs: 2, seed: 7, learningRate: 1e-3, weightDecay: 0.01 } },
  // 7 rows: the short last batch is completed by wrapping around; accumulation 2, cosine with warmup.
  'wrap-accumulation': {
    rows: ROWS.slice(0, 7),
    args: { perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2, numTrainEpochs: 2, lrSchedulerType: 'cosine', warmupRatio: 0.25, learningRate: 1e-3 },
  },
};
const VARIANTS = [{ threads: 2 }, { reverse_rows: true }, { bucket_cap_mb: 0.0001 }, { split_rows: true }];

interface RefStep {
  step: number;
  loss: number;
  grad_norm: number;
  learning_rate: number;
  rank_batches: number[][][];
}
interface RefRun {
  steps: RefStep[];
  train_loss: number;
  max_steps: number;
}
interface Ref {
  run: RefRun;
  weights: Map<string, F32Tensor>;
}
interface TsRun {
  /** Per rank, its steps. */
  ranks: StepOutput[][];
  trainingLoss: number;
  maxSteps: number;
  weights: Map<string, F32Tensor>;
}

let workDir: string;
let modelDir: string;
let dropoutModelDir: string;
let references: Promise<Record<string, Ref[]>>;
let mutated: Promise<Ref>;

async function copyModel(name: string, p: number): Promise<string> {
  const dir = path.join(workDir, name);
  await cp(testModel('tiny'), dir, { recursive: true });
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  Object.assign(config, { hidden_dropout_prob: p, attention_probs_dropout_prob: p, classifier_dropout: p });
  await writeFile(file, JSON.stringify(config));
  return dir;
}

/** ddp_reference.py on 2 processes (spawned by itself), every run in one go. */
async function runDdpReference(runs: object[], tag: string): Promise<RefRun[]> {
  const requestFile = path.join(workDir, `${tag}-request.json`);
  const answerFile = path.join(workDir, `${tag}-answer.json`);
  await writeFile(requestFile, JSON.stringify({ runs, answer: answerFile }));
  const port = 20000 + Math.floor(Math.random() * 20000);
  await promisify(execFile)(PYTHON, [path.join(REFERENCE_DIR, 'ddp_reference.py'), requestFile, '--nproc', '2', '--master-port', String(port)], {
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: '1' },
  });
  return (JSON.parse(await readFile(answerFile, 'utf8')) as { runs: RefRun[] }).runs;
}

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'distributed-'));
  modelDir = await copyModel('tiny-dropout-0', 0);
  dropoutModelDir = await copyModel('tiny-dropout-0.1', 0.1);
  const names = Object.keys(CASES);
  const request = (name: string, tag: string, extra: object) => ({
    model_dir: modelDir,
    rows: CASES[name].rows,
    args: CASES[name].args,
    out: path.join(workDir, `${name}-${tag}.safetensors`),
    ...extra,
  });
  const runs = names.flatMap((name) => [request(name, 'plain', {}), ...VARIANTS.map((variant, i) => request(name, `variant-${i}`, { variant }))]);
  references = runDdpReference(runs, 'cases').then(async (answers) => {
    const out: Record<string, Ref[]> = {};
    let next = 0;
    for (const name of names) {
      out[name] = await Promise.all(
        answers.slice(next, next + 1 + VARIANTS.length).map(async (run, i) => ({ run, weights: await readSafetensorsF32(runs[next + i].out) })),
      );
      next += 1 + VARIANTS.length;
    }
    return out;
  });
  const mutation = request('batch-2', 'mutation', { mutation: { no_average: true } });
  mutated = references.then(() => runDdpReference([mutation], 'mutation')).then(async ([run]) => ({ run, weights: await readSafetensorsF32(mutation.out) }));
  references.catch(() => {});
  mutated.catch(() => {});
});

afterAll(async () => {
  await Promise.allSettled([references, mutated]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Our 2-process run (crossencoder launch's launch(), the worker script on each rank). */
async function launchWorkers(
  tag: string,
  spec: object,
  env: NodeJS.ProcessEnv = {},
): Promise<{ result: LaunchResult; output: string[]; out: string; seconds: number }> {
  const out = path.join(workDir, tag);
  await mkdir(out, { recursive: true });
  const specFile = path.join(out, 'spec.json');
  await writeFile(specFile, JSON.stringify({ out, ...spec }));
  const output = ['', ''];
  const started = performance.now();
  const result = await launch({
    nprocPerNode: 2,
    command: [process.execPath, '--import', 'tsx', WORKER, specFile],
    env: { ...process.env, ...env },
    output: (rank, _stream, text) => void (output[rank] += text),
    report: (line) => void (output.push(line)),
  });
  return { result, output, out, seconds: (performance.now() - started) / 1000 };
}

const trainTs2 = memo(async (name: string): Promise<TsRun> => {
  const { rows, args } = CASES[name];
  const { result, output, out } = await launchWorkers(name, { modelDir, rows, args });
  expect(result, output.join('\n')).toEqual({ exitCode: 0 });
  const ranks = await Promise.all([0, 1].map(async (r) => JSON.parse(await readFile(path.join(out, `rank-${r}.json`), 'utf8'))));
  return {
    ranks: ranks.map((r) => r.steps),
    trainingLoss: ranks[0].trainingLoss,
    maxSteps: ranks[0].maxSteps,
    weights: await readSafetensorsF32(path.join(out, 'final', 'model.safetensors')),
  };
});

function memo<T>(make: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => {
    if (!cache.has(key)) cache.set(key, make(key));
    return cache.get(key)!;
  };
}

interface Spread {
  loss: number;
  gradNorm: number;
  weights: Map<string, number>;
}

function spreadOf([plain, ...variants]: Ref[]): Spread {
  const spread: Spread = { loss: 0, gradNorm: 0, weights: new Map() };
  for (const variant of variants) {
    expect(variant.run.steps.map((s) => s.rank_batches)).toEqual(plain.run.steps.map((s) => s.rank_batches));
    plain.run.steps.forEach((p, i) => {
      const q = variant.run.steps[i];
      expect(Math.abs(q.loss - p.loss)).toBeLessThan(1e-5);
      spread.loss = Math.max(spread.loss, Math.abs(q.loss - p.loss));
      spread.gradNorm = Math.max(spread.gradNorm, Math.abs(q.grad_norm - p.grad_norm) / p.grad_norm);
    });
    for (const [name, { data }] of plain.weights) {
      const other = variant.weights.get(name)!.data;
      let largest = spread.weights.get(name) ?? 0;
      for (let i = 0; i < data.length; i++) largest = Math.max(largest, Math.abs(other[i] - data[i]));
      spread.weights.set(name, largest);
    }
  }
  return spread;
}

interface Comparison {
  steps: string[];
  weights: string[];
  /** The largest gap over the tolerance, per part (below 1 everywhere when they agree). */
  worst: { loss: number; gradNorm: number; weights: number };
}

/** Step numbers and final weights of `ts` against a reference's (`py`), under `spread`. */
function compare(
  ts: { steps: { loss: number; gradNorm: number }[]; trainingLoss: number; weights: Map<string, F32Tensor> },
  py: { steps: { loss: number; grad_norm: number }[]; train_loss: number; weights: Map<string, F32Tensor> },
  spread: Spread,
): Comparison {
  const out: Comparison = { steps: [], weights: [], worst: { loss: 0, gradNorm: 0, weights: 0 } };
  const lossTolerance = Math.max(K * spread.loss, FLOOR_ULPS * F32_EPSILON * Math.max(...py.steps.map((s) => Math.abs(s.loss))));
  const normTolerance = Math.max(K * spread.gradNorm, FLOOR_ULPS * F32_EPSILON);
  if (ts.steps.length !== py.steps.length) out.steps.push(`${ts.steps.length} steps vs ${py.steps.length}`);
  py.steps.forEach((p, i) => {
    const t = ts.steps[i];
    if (!t) return;
    const lossGap = Math.abs(t.loss - p.loss) / lossTolerance;
    const normGap = Math.abs(t.gradNorm - p.grad_norm) / p.grad_norm / normTolerance;
    out.worst.loss = Math.max(out.worst.loss, lossGap);
    out.worst.gradNorm = Math.max(out.worst.gradNorm, normGap);
    if (!(lossGap <= 1)) out.steps.push(`step ${i + 1}: loss ${t.loss} vs ${p.loss} (tolerance ${lossTolerance.toExponential(2)})`);
    if (!(normGap <= 1)) out.steps.push(`step ${i + 1}: grad norm ${t.gradNorm} vs ${p.grad_norm} (relative tolerance ${normTolerance.toExponential(2)})`);
  });
  if (!(Math.abs(ts.trainingLoss - py.train_loss) <= lossTolerance)) out.steps.push(`training loss ${ts.trainingLoss} vs ${py.train_loss}`);
  for (const [name, b] of py.weights) {
    const a = ts.weights.get(name);
    if (!a) {
      out.weights.push(`${name}: missing`);
      continue;
    }
    let largest = 0;
    let worst = 0;
    for (let i = 0; i < b.data.length; i++) {
      largest = Math.max(largest, Math.abs(b.data[i]));
      worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
    }
    const tolerance = Math.max(K * (spread.weights.get(name) ?? 0), FLOOR_ULPS * F32_EPSILON * largest);
    out.worst.weights = Math.max(out.worst.weights, worst / tolerance);
    if (!(worst <= tolerance)) out.weights.push(`${name}: gap ${worst.toExponential(2)}, tolerance ${tolerance.toExponential(2)}`);
  }
  return out;
}

async function referenceOf(name: string): Promise<{ plain: Ref; spread: Spread }> {
  const runs = (await references)[name];
  return { plain: runs[0], spread: spreadOf(runs) };
}

/** Figures for the report: the worst gap as a fraction of its tolerance. */
const figures: Record<string, Comparison['worst']> = {};
afterAll(() => {
  if (Object.keys(figures).length) console.info('distributed parity, worst gap / tolerance:', JSON.stringify(figures));
});

describe('accelerate\'s sharding of the seeded batches', () => {
  it('each rank takes BatchSamplerShard\'s share; together the ranks take every batch of one process, in order', async () => {
    const queries = [1, 3, 7, 8, 13].flatMap((n) =>
      [1, 2, 3].flatMap((batchSize) => [2, 3].flatMap((worldSize) => [false, true].map((dropLast) => ({ n, batch_size: batchSize, seed: 42, epoch: 1, drop_last: dropLast, world_size: worldSize })))),
    );
    const requestFile = path.join(workDir, 'shards.json');
    const answerFile = path.join(workDir, 'shards-answer.json');
    await writeFile(requestFile, JSON.stringify({ shards: queries, answer: answerFile }));
    await promisify(execFile)(PYTHON, [path.join(REFERENCE_DIR, 'ddp_reference.py'), requestFile]);
    const expected = (JSON.parse(await readFile(answerFile, 'utf8')) as { shards: number[][][][] }).shards;
    for (const [i, q] of queries.entries()) {
      const single = await epochBatches(q.n, q.batch_size, q.seed, q.epoch, q.drop_last);
      const shards = Array.from({ length: q.world_size }, (_, r) => shardBatches(single, q.batch_size, q.world_size, r, q.drop_last));
      expect(shards, JSON.stringify(q)).toEqual(expected[i]);
      for (const shard of shards) expect(shard.length).toBe(shardLength(single.length, q.world_size, q.drop_last));
      // Round k of the ranks is batches k·W … k·W + W - 1 of the single process: with dropLast
      // only whole rounds; without, every batch, the short last one completed by wrapping around.
      const union = shards[0].flatMap((_, k) => shards.map((shard) => shard[k]));
      if (q.drop_last) {
        expect(union, JSON.stringify(q)).toEqual(single.slice(0, Math.floor(single.length / q.world_size) * q.world_size));
      } else {
        expect(union.slice(0, single.length).map((b, j) => b.slice(0, single[j].length)), JSON.stringify(q)).toEqual(single);
        expect(union.every((b) => b.length === q.batch_size)).toBe(true);
      }
    }
  });

  it('reads torchrun\'s variables as transformers does', () => {
    expect(distributedEnv({})).toBeUndefined();
    expect(distributedEnv({ WORLD_SIZE: '1', RANK: '0' })).toBeUndefined();
    expect(distributedEnv({ WORLD_SIZE: '2', RANK: '1', MASTER_ADDR: 'h', MASTER_PORT: '29500' })).toEqual({
      rank: 1, worldSize: 2, localRank: 1, masterAddr: 'h', masterPort: 29500,
    });
    expect(() => distributedEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' })).toThrow(/RANK/);
    expect(() => distributedEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' })).toThrow(/MASTER_ADDR/);
  });
});

describe('2 processes match PyTorch DistributedDataParallel (gloo, 2 processes)', () => {
  for (const name of Object.keys(CASES)) {
    it(`case ${name}: the same rows per rank, losses, gradient norms and final weights`, async () => {
      const [ts, { plain, spread }] = await Promise.all([trainTs2(name), referenceOf(name)]);
      expect(ts.maxSteps).toBe(plain.run.max_steps);
      // Every rank's rows at every step.
      expect(plain.run.steps.map((s) => s.rank_batches)).toEqual(plain.run.steps.map((_, i) => ts.ranks.map((steps) => steps[i].batchIndices)));
      // Every rank reports the same (all-reduced) numbers.
      expect(ts.ranks[1].map((s) => [s.loss, s.gradNorm])).toEqual(ts.ranks[0].map((s) => [s.loss, s.gradNorm]));
      const found = compare({ steps: ts.ranks[0], trainingLoss: ts.trainingLoss, weights: ts.weights }, { ...plain.run, weights: plain.weights }, spread);
      figures[name] = found.worst;
      expect({ steps: found.steps, weights: found.weights }).toEqual({ steps: [], weights: [] });
    });
  }

  it('fails when the gradients are summed instead of averaged (the reference mutated)', async () => {
    const [ts, { spread }, bad] = await Promise.all([trainTs2('batch-2'), referenceOf('batch-2'), mutated]);
    const found = compare({ steps: ts.ranks[0], trainingLoss: ts.trainingLoss, weights: ts.weights }, { ...bad.run, weights: bad.weights }, spread);
    figures['mutation no_average'] = found.worst;
    expect(found.steps).not.toEqual([]);
  });
});

describe('2 processes × batch B equal 1 process × batch 2B (dropout off)', () => {
  it('the same rows per step, and the same numbers within float rounding', async () => {
    const [ts2, { spread }] = await Promise.all([trainTs2('batch-2'), referenceOf('batch-2')]);
    const { args } = CASES['batch-2'];
    const model = await CrossEncoder.fromPretrained(modelDir);
    const steps: StepOutput[] = [];
    const trainer = new CrossEncoderTrainer({
      model,
      args: { ...args, perDeviceTrainBatchSize: 4, outputDir: path.join(workDir, 'single-2b'), saveStrategy: 'no', disableTqdm: true },
      trainDataset: ROWS,
      loss: new BinaryCrossEntropyLoss(model),
      callbacks: [{ onStepEnd: (e) => void steps.push(e.step) }],
    });
    const output = await trainer.train();
    await model.savePretrained(path.join(workDir, 'single-2b', 'final'));
    const weights = await readSafetensorsF32(path.join(workDir, 'single-2b', 'final', 'model.safetensors'));
    expect(steps.map((s) => s.batchIndices)).toEqual(ts2.ranks[0].map((_, i) => [ts2.ranks.flatMap((r) => r[i].batchIndices[0])]));
    const found = compare(
      { steps: ts2.ranks[0], trainingLoss: ts2.trainingLoss, weights: ts2.weights },
      { steps: steps.map((s) => ({ loss: s.loss, grad_norm: s.gradNorm })), train_loss: output.trainingLoss, weights },
      spread,
    );
    figures['2xB vs 1x2B'] = found.worst;
    expect({ steps: found.steps, weights: found.weights }).toEqual({ steps: [], weights: [] });
  });
});

describe('failures stop every rank, with a message naming the rank (no hang)', () => {
  it('a rank that throws: the other stops at once, the launcher exits with its status', async () => {
    const { result, output, seconds } = await launchWorkers(
      'throws',
      { modelDir, rows: ROWS, args: { perDeviceTrainBatchSize: 2, numTrainEpochs: 3 }, failAtStep: { rank: 1, step: 2, how: 'throw' } },
      { CROSSENCODER_DDP_TIMEOUT: '60' },
    );
    expect(result.exitCode).not.toBe(0);
    expect(result.failed?.rank, output.join('\n')).toBe(1);
    expect(output[1]).toMatch(/rank 1 fails on purpose at step 2/);
    expect(output.join('\n')).toMatch(/rank 1 \(local rank 1, pid \d+\) exited with status 1/);
    // Not the 60 s timeout: the failing rank closed its connections.
    expect(seconds).toBeLessThan(40);
  });

  it('a rank that hangs: the other times out with a clear error and the launcher stops both', async () => {
    const { result, output, seconds } = await launchWorkers(
      'hangs',
      { modelDir, rows: ROWS, args: { perDeviceTrainBatchSize: 2, numTrainEpochs: 3 }, failAtStep: { rank: 1, step: 2, how: 'hang' } },
      { CROSSENCODER_DDP_TIMEOUT: '4' },
    );
    expect(result.failed?.rank, output.join('\n')).toBe(0);
    expect(output[0]).toMatch(/distributed training, rank 0 of 2: agreeing on whether to stop after step 2 failed \(no answer within the 4 s timeout/);
    expect(seconds).toBeLessThan(40);
  });
});

describe('crossencoder train --nproc-per-node 2', () => {
  it('trains on 2 ranks with the same flags; rank 0 alone saves and prints the final model', async () => {
    const rowsFile = path.join(workDir, 'rows.jsonl');
    await writeFile(rowsFile, ROWS.map((row) => JSON.stringify(row)).join('\n'));
    const output = path.join(workDir, 'cli-output');
    const cli = fileURLToPath(new URL('../lib/cli/index.ts', import.meta.url));
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', cli, 'train', '--nproc-per-node', '2', '--train', rowsFile, '--output', output, '--model', modelDir, '--max-steps', '2', '--per-device-train-batch-size', '2', '--save-strategy', 'no', '--disable-tqdm'],
      { cwd: fileURLToPath(new URL('..', import.meta.url)) },
    );
    expect(stdout).toBe(`${path.join(output, 'final')}\n`);
    expect(stderr.match(/trained 2 steps/g), stderr).toHaveLength(1);
    const state = JSON.parse(await readFile(path.join(output, 'trainer_state.json'), 'utf8')) as { global_step: number; epoch: number };
    // 8 rows in batches of 2 on 2 ranks: 2 steps an epoch.
    expect(state.epoch).toBe(1);
  });
});

describe('a 2-process run resumes from its checkpoint', () => {
  it('to the weights of the uninterrupted run, bit for bit (dropout on: each rank\'s RNG state saved)', async () => {
    const args = { perDeviceTrainBatchSize: 2, maxSteps: 4, learningRate: 1e-3, saveStrategy: 'steps', saveSteps: 2 };
    const full = await launchWorkers('resume-full', { modelDir: dropoutModelDir, rows: ROWS, args });
    expect(full.result, full.output.join('\n')).toEqual({ exitCode: 0 });
    const checkpoint = path.join(full.out, 'output', 'checkpoint-2');
    expect(existsSync(path.join(checkpoint, 'rng_state_1.safetensors'))).toBe(true);
    expect(await readFile(path.join(checkpoint, 'checkpoint_hashes.json'), 'utf8')).toContain('rng_state_1.safetensors');
    const resumedOut = path.join(workDir, 'resume-half');
    await cp(checkpoint, path.join(resumedOut, 'output', 'checkpoint-2'), { recursive: true });
    const resumed = await launchWorkers('resume-half', { modelDir: dropoutModelDir, rows: ROWS, args, resume: true });
    expect(resumed.result, resumed.output.join('\n')).toEqual({ exitCode: 0 });
    const [a, b] = await Promise.all([full, resumed].map((run) => readFile(path.join(run.out, 'final', 'model.safetensors'))));
    expect(Buffer.compare(a, b)).toBe(0);
    const steps = JSON.parse(await readFile(path.join(resumed.out, 'rank-1.json'), 'utf8')).steps as StepOutput[];
    const fullSteps = JSON.parse(await readFile(path.join(full.out, 'rank-1.json'), 'utf8')).steps as StepOutput[];
    expect(steps).toEqual(fullSteps.slice(2));
  });
});

