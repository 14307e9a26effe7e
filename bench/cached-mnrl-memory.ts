/**
 * What CachedMultipleNegativesRankingLoss saves: peak RSS and step time of training steps with
 * MultipleNegativesRankingLoss and with the cached loss (GradCache: forwards without a graph,
 * then one mini-batch at a time with it) on the same batches, each in a fresh process.
 * MiniLM-L6 shapes from test/.models, 32 (query, positive, negative) rows a batch, 4 in-batch
 * negatives each: 32 × (1 + 4 + 1) = 192 pairs of ~80 tokens a step.
 * Usage: node --import tsx bench/cached-mnrl-memory.ts [steps=3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CachedMultipleNegativesRankingLoss, CrossEncoder, CrossEncoderTrainer, MultipleNegativesRankingLoss } from '../lib/index.js';

const MODEL = fileURLToPath(new URL('../test/.models/minilm-l6/', import.meta.url));
const BATCH = 32;

if (process.env.BENCH_WORKER) {
  const { loss: name, miniBatchSize, steps } = JSON.parse(process.env.BENCH_WORKER) as { loss: string; miniBatchSize: number; steps: number };
  const words = 'the quick brown fox jumps over a lazy dog while users reset passwords export logs and restore projects'.split(' ');
  const text = (i: number, n: number) => Array.from({ length: n }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ');
  const rows = Array.from({ length: BATCH * steps }, (_, i) => ({ query: text(i, 8), positive: text(i + 1, 70), negative: text(i + 2, 70) }));
  const model = await CrossEncoder.fromPretrained(MODEL);
  const loss =
    name === 'cached'
      ? new CachedMultipleNegativesRankingLoss(model, { numNegatives: 4, miniBatchSize })
      : new MultipleNegativesRankingLoss(model, { numNegatives: 4 });
  const baseline = process.resourceUsage().maxRSS;
  const out = await mkdtemp(path.join(os.tmpdir(), 'bench-cmnrl-'));
  const started = performance.now();
  await new CrossEncoderTrainer({
    model,
    loss,
    trainDataset: rows,
    args: { outputDir: out, perDeviceTrainBatchSize: BATCH, maxSteps: steps, saveStrategy: 'no', disableTqdm: true },
  }).train();
  const seconds = (performance.now() - started) / 1000;
  await rm(out, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ peakRssMb: process.resourceUsage().maxRSS / 1024, loadedRssMb: baseline / 1024, secondsPerStep: seconds / steps }));
} else {
  const steps = Number(process.argv[2] ?? 3);
  const runs = [
    { label: 'MultipleNegativesRankingLoss', loss: 'mnrl', miniBatchSize: 0 },
    ...[32, 8].map((size) => ({ label: `CachedMultipleNegativesRankingLoss (miniBatchSize ${size})`, loss: 'cached', miniBatchSize: size })),
  ];
  const results: Record<string, unknown> = {};
  for (const run of runs) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_WORKER: JSON.stringify({ ...run, steps }) },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`${run.label}: exit ${child.status}\n${child.stderr}`);
    results[run.label] = JSON.parse(child.stdout);
  }
  console.log(JSON.stringify({ cpu: os.cpus()[0]?.model, batch: BATCH, steps, results }, null, 2));
}
