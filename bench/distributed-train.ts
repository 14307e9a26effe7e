/**
 * Data-parallel training throughput: training pairs per second of CrossEncoderTrainer on 1 and
 * on 2 processes (`crossencoder launch`'s launch(), OMP_NUM_THREADS=1: one intra-op thread each),
 * the same global batch (2 × 8 on 2 processes, 16 on 1), MiniLM-L6 from test/.models.
 * Usage: node --import tsx bench/distributed-train.ts [steps=12]
 * Each run is one process tree; rank 0 prints {pairsPerSecond, seconds} after a warm-up step.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch } from '../lib/cli/commands/launch.js';
import { CrossEncoder, CrossEncoderTrainer } from '../lib/index.js';

const MODEL = fileURLToPath(new URL('../test/.models/minilm-l6/', import.meta.url));

if (process.env.BENCH_WORKER) {
  const { rows, batch, steps, out } = JSON.parse(process.env.BENCH_WORKER) as { rows: { query: string; document: string; label: number }[]; batch: number; steps: number; out: string };
  const model = await CrossEncoder.fromPretrained(MODEL);
  let started = 0;
  const trainer = new CrossEncoderTrainer({
    model,
    args: { outputDir: path.join(out, 'output'), perDeviceTrainBatchSize: batch, maxSteps: steps + 1, saveStrategy: 'no', disableTqdm: true },
    trainDataset: rows,
    callbacks: [{ onStepEnd: (e) => void (e.state.globalStep === 1 && (started = performance.now())) }],
  });
  await trainer.train();
  const seconds = (performance.now() - started) / 1000;
  const world = Number(process.env.WORLD_SIZE ?? 1);
  if ((process.env.RANK ?? '0') === '0') await writeFile(path.join(out, 'result.json'), JSON.stringify({ seconds, pairsPerSecond: (steps * batch * world) / seconds }));
} else {
  const steps = Number(process.argv[2] ?? 12);
  const words = 'the quick brown fox jumps over a lazy dog while users reset passwords export logs and restore projects'.split(' ');
  const text = (i: number, n: number) => Array.from({ length: n }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ');
  const rows = Array.from({ length: 16 * (steps + 1) }, (_, i) => ({ query: text(i, 8), document: text(i + 1, 60), label: i % 2 }));
  const results: Record<string, unknown> = {};
  for (const nproc of [1, 2]) {
    const out = await mkdtemp(path.join(os.tmpdir(), 'bench-ddp-'));
    const batch = 16 / nproc;
    const result = await launch({
      nprocPerNode: nproc,
      command: [process.execPath, ...process.execArgv, fileURLToPath(import.meta.url)],
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', BENCH_WORKER: JSON.stringify({ rows, batch, steps, out }) },
    });
    if (result.exitCode !== 0) throw new Error(`${nproc} processes: exit ${result.exitCode}`);
    results[`${nproc} process${nproc > 1 ? 'es' : ''} × batch ${batch}`] = JSON.parse(await readFile(path.join(out, 'result.json'), 'utf8'));
    await rm(out, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ cpus: os.cpus().length, cpu: os.cpus()[0]?.model, steps, results }, null, 2));
}
