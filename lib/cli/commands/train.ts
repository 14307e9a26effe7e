/** `crossencoder train`: fine-tune a model on labelled pairs with the library's trainer. */
import path from 'node:path';

import { AbortError } from '../../errors.js';
import { listCheckpoints } from '../../training/checkpoints.js';
import { CrossEncoderTrainer } from '../../training/trainer.js';
import { resolveTrainingArguments } from '../../training/training-arguments.js';
import { defineCommand } from '../command.js';
import { loadPairFile } from '../input.js';
import { loadModel, MAX_LENGTH_OPTION, MODEL_OPTIONS } from '../model-options.js';
import { writeOut } from '../output.js';
import { trainingArgumentsFrom, trainingOptionSpecs } from '../training-options.js';
import { PROGRAM } from '../usage-error.js';

const TRAINING_OPTIONS = trainingOptionSpecs();

export const trainCommand = defineCommand('train', {
  summary: 'Fine-tune a model on labelled pairs',
  usage: '--train <rows.jsonl|rows.csv> --output <dir> [options]',
  description:
    'Trains on rows {query, document, label} (JSON lines, or CSV with a header) with the trainer\n' +
    'of the library API. Checkpoints go to <dir>/checkpoint-<step>; the final model is saved to\n' +
    '<dir>/final, whose path is printed. --eval adds an evaluation set (for --eval-strategy).\n' +
    'Boolean training flags take no value; --no-<flag> sets false. Negative numbers are written\n' +
    '--max-steps=-1.',
  options: {
    train: { kind: 'string', value: '<file>', help: 'Training rows (.jsonl or .csv)', required: true },
    output: { kind: 'string', short: 'o', value: '<dir>', help: 'Output directory: checkpoints, and the final model in <dir>/final', required: true },
    eval: { kind: 'string', value: '<file>', help: 'Evaluation rows (.jsonl or .csv)' },
    'resume-from-checkpoint': {
      kind: 'string',
      value: '<dir|latest>',
      help: "Continue from a checkpoint directory, or 'latest' for the newest in --output",
    },
    'max-length': MAX_LENGTH_OPTION,
    ...MODEL_OPTIONS,
    ...TRAINING_OPTIONS,
  },
  async run(values) {
    const args = { ...trainingArgumentsFrom(TRAINING_OPTIONS, values), outputDir: values.output };
    resolveTrainingArguments(args); // reject bad arguments before the slow loads
    const trainDataset = await loadPairFile(values.train, 'train');
    const evalDataset = values.eval === undefined ? undefined : await loadPairFile(values.eval, 'eval');
    const model = await loadModel(values);
    const resume = values['resume-from-checkpoint'];
    const trainer = new CrossEncoderTrainer({ model, args, trainDataset, evalDataset });
    const output = await whileCatchingCtrlC((signal) =>
      trainer.train({ resumeFromCheckpoint: resume === 'latest' ? true : resume, signal }).catch(async (error: unknown) => {
        if (!(error instanceof AbortError)) throw error;
        const { globalStep, maxSteps } = trainer.state;
        const latest = (await listCheckpoints(values.output)).pop();
        throw new AbortError(
          `interrupted: training stopped at step ${globalStep} of ${maxSteps}` +
            (latest
              ? `; ${latest.dir} holds step ${latest.step}. Resume with: ${resumeCommand()}`
              : '; no checkpoint was saved (--save-strategy no), so a new run starts over'),
          { cause: error },
        );
      }),
    );
    const finalDir = path.resolve(values.output, 'final');
    await model.savePretrained(finalDir);
    process.stderr.write(
      `${PROGRAM}: trained ${output.globalStep} steps, training loss ${output.trainingLoss.toFixed(4)}, ` +
        `${output.metrics.trainRuntime.toFixed(1)} s\n`,
    );
    await writeOut(`${finalDir}\n`);
  },
});

/**
 * Runs `work` with Ctrl-C (SIGINT) turned into an abort of its signal: the trainer stops after
 * the step in progress and saves a checkpoint. A second Ctrl-C exits at once.
 */
async function whileCatchingCtrlC<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onInterrupt = () => {
    if (controller.signal.aborted) {
      process.stderr.write(`\n${PROGRAM}: interrupted again: exiting without a checkpoint of this step\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${PROGRAM}: interrupted: stopping after this step and saving a checkpoint (Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onInterrupt);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** This command line again, resuming from the latest checkpoint. */
function resumeCommand(): string {
  const argv = process.argv.slice(2);
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--resume-from-checkpoint') i++;
    else if (!argv[i].startsWith('--resume-from-checkpoint=')) kept.push(argv[i]);
  }
  const quoted = kept.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`));
  return [PROGRAM, ...quoted, '--resume-from-checkpoint', 'latest'].join(' ');
}
