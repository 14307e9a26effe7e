/**
 * One rank of a data-parallel test run (test/distributed.test.ts), started by `launch()` with
 * torchrun's variables: trains the model of the spec with CrossEncoderTrainer and writes what the
 * test compares. Usage: node --import tsx test/helpers/ddp-worker.ts spec.json
 *
 * spec: { modelDir, rows, args, out (directory for the results), resume?: boolean,
 *         failAtStep?: { rank, step, how: 'throw' | 'hang' } }
 * Writes out/rank-<r>.json: { steps: StepOutput[], trainingLoss, globalStep, maxSteps } and, on
 * rank 0, out/final/ (the trained model).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { BinaryCrossEntropyLoss, CrossEncoder, CrossEncoderTrainer, type StepOutput } from '../../lib/index.js';

interface Spec {
  modelDir: string;
  rows: { query: string; document: string; label: number }[];
  args: Record<string, unknown>;
  out: string;
  resume?: boolean;
  failAtStep?: { rank: number; step: number; how: 'throw' | 'hang' };
}

const spec = JSON.parse(await readFile(process.argv[2], 'utf8')) as Spec;
const rank = Number(process.env.RANK ?? 0);
const model = await CrossEncoder.fromPretrained(spec.modelDir);
const steps: StepOutput[] = [];
const trainer = new CrossEncoderTrainer({
  model,
  args: { saveStrategy: 'no', disableTqdm: true, ...spec.args, outputDir: path.join(spec.out, 'output') },
  trainDataset: spec.rows,
  loss: new BinaryCrossEntropyLoss(model),
  callbacks: [
    {
      onStepEnd: async (event) => {
        steps.push(event.step);
        const fail = spec.failAtStep;
        if (fail && fail.rank === rank && event.state.globalStep === fail.step) {
          if (fail.how === 'throw') throw new Error(`rank ${rank} fails on purpose at step ${fail.step}`);
          setInterval(() => {}, 1000); // stuck for good (alive, silent): only the others' timeouts end the run
          await new Promise(() => {});
        }
      },
    },
  ],
});
const output = await trainer.train({ resumeFromCheckpoint: spec.resume ? true : undefined });
if (rank === 0) await model.savePretrained(path.join(spec.out, 'final'));
await writeFile(
  path.join(spec.out, `rank-${rank}.json`),
  JSON.stringify({ steps, trainingLoss: output.trainingLoss, globalStep: output.globalStep, maxSteps: trainer.state.maxSteps }),
);
