/**
 * What `groupByLength` gains in training: pairs/s of CrossEncoderTrainer on MiniLM-L6 with the
 * default sampler and with groupByLength, same rows (the bench corpus's length distribution:
 * documents log-normal around 60 words), batch 16, each in a fresh process after a warm-up step.
 * Usage: node --import tsx bench/group-by-length.ts [steps=12]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CrossEncoder, CrossEncoderTrainer } from '../lib/index.js';
import { buildCorpus, vocabularyWords } from './corpus.js';
import { MODEL_DIR } from './paths.js';

const BATCH = 16;
/** bench/run.ts's corpus seed: the same texts as the training workload. */
const CORPUS_SEED = 20261127;

if (process.env.BENCH_WORKER) {
  const { groupByLength, steps } = JSON.parse(process.env.BENCH_WORKER) as { groupByLength: boolean; steps: number };
  const corpus = buildCorpus(CORPUS_SEED, vocabularyWords(path.join(MODEL_DIR, 'vocab.txt')), { predictPairs: 0, rankRepeats: 0, rankDocuments: 0, trainSteps: steps + 1, trainBatchSize: BATCH });
  const model = await CrossEncoder.fromPretrained(MODEL_DIR);
  const out = await mkdtemp(path.join(os.tmpdir(), 'bench-gbl-'));
  let started = 0;
  await new CrossEncoderTrainer({
    model,
    trainDataset: corpus.train,
    args: { outputDir: out, perDeviceTrainBatchSize: BATCH, maxSteps: steps + 1, groupByLength, saveStrategy: 'no', disableTqdm: true },
    callbacks: [{ onStepEnd: (e) => void (e.state.globalStep === 1 && (started = performance.now())) }],
  }).train();
  const seconds = (performance.now() - started) / 1000;
  await rm(out, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ seconds, pairsPerSecond: (steps * BATCH) / seconds }));
} else {
  const steps = Number(process.argv[2] ?? 12);
  const results: Record<string, { seconds: number; pairsPerSecond: number }> = {};
  for (const groupByLength of [false, true]) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_WORKER: JSON.stringify({ groupByLength, steps }) },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`groupByLength ${groupByLength}: exit ${child.status}\n${child.stderr}`);
    results[groupByLength ? 'groupByLength' : 'default sampler'] = JSON.parse(child.stdout);
  }
  const gain = results.groupByLength.pairsPerSecond / results['default sampler'].pairsPerSecond;
  console.log(JSON.stringify({ cpu: os.cpus()[0]?.model, batch: BATCH, steps, results, gain }, null, 2));
}
