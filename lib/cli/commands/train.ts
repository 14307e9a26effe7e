/** `crossencoder train`: fine-tune a model on labelled pairs with the library's trainer. */
import path from 'node:path';

import { loadDataset } from '../../datasets.js';
import { AbortError } from '../../errors.js';
import { createLoss, LOSSES, schemeByName } from '../../training/losses/index.js';
import { listCheckpoints } from '../../training/checkpoints.js';
import { distributedEnv, isWorldProcessZero } from '../../training/distributed.js';
import { CrossEncoderTrainer } from '../../training/trainer.js';
import { resolveTrainingArguments } from '../../training/training-arguments.js';
import { defineCommand } from '../command.js';
import { loadPairFile } from '../input.js';
import { loadModel, MAX_LENGTH_OPTION, MODEL_OPTIONS } from '../model-options.js';
import { writeOut } from '../output.js';
import { trainingArgumentsFrom, trainingOptionSpecs } from '../training-options.js';
import { PROGRAM, UsageError } from '../usage-error.js';

import { relaunchTrain } from './launch.js';

const TRAINING_OPTIONS = trainingOptionSpecs();

export const trainCommand = defineCommand('train', {
  summary: 'Fine-tune a model on labelled pairs',
  usage: '--train <rows.jsonl|rows.csv> --output <dir> [options]',
  description:
    'Trains on rows {query, document, label} (JSON lines, or CSV with a header) with the trainer\n' +
    'of the library API; with --loss NAME, on rows in that loss\'s format (see the README\'s loss\n' +
    'table; in CSV, list fields are JSON: "[""a"", ""b""]").\n' +
    'Checkpoints go to <dir>/checkpoint-<step>; the final model is saved to\n' +
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
    'nproc-per-node': {
      kind: 'integer',
      value: '<n>',
      min: 1,
      help: 'Train data-parallel on n processes of this machine (as `crossencoder launch --nproc-per-node n train …`)',
    },
    loss: {
      kind: 'string',
      value: '<name>',
      help: `A loss by its class name (${Object.keys(LOSSES).join(', ')}); the files are then read in its data format`,
    },
    'num-negatives': { kind: 'integer', value: '<n>', help: 'MNRL: in-batch negatives per query (default 4)', min: 1 },
    scale: { kind: 'number', value: '<x>', help: 'MNRL: multiplier of the activated scores (default 10)' },
    'mini-batch-size': { kind: 'integer', value: '<n>', help: 'Listwise losses, CachedMNRL: pairs per forward pass' },
    'weighting-scheme': { kind: 'string', value: '<class>', help: 'LambdaLoss: NDCGLoss2PPScheme (default), NDCGLoss2Scheme, NDCGLoss1Scheme, LambdaRankScheme, NoWeightingScheme' },
    mu: { kind: 'number', value: '<x>', help: 'LambdaLoss NDCGLoss2PPScheme: the NDCGLoss2 weight (default 10)' },
    k: { kind: 'integer', value: '<n>', help: 'LambdaLoss, RankNetLoss: only pairs within the top k', min: 1 },
    sigma: { kind: 'number', value: '<x>', help: 'LambdaLoss, RankNetLoss: sigmoid steepness (default 1)' },
    eps: { kind: 'number', value: '<x>', help: 'LambdaLoss, RankNetLoss: clamp (default 1e-10)' },
    'reduction-log': { kind: 'string', value: '<natural|binary>', help: 'LambdaLoss, RankNetLoss: the logarithm (default binary)' },
    'activation-fn': { kind: 'string', value: '<identity|sigmoid|tanh>', help: "The loss's activation_fn" },
    'respect-input-order': { kind: 'boolean', negatable: true, help: 'ListMLELoss, PListMLELoss: documents are in ideal order (default)' },
    'pos-weight': { kind: 'number', value: '<x>', help: 'BinaryCrossEntropyLoss: weight of positives' },
    alpha: { kind: 'number', value: '<x>', help: 'ADRMSELoss: temperature of the ApproxRank sigmoid (default 1)' },
    'max-length': MAX_LENGTH_OPTION,
    ...MODEL_OPTIONS,
    ...TRAINING_OPTIONS,
  },
  async run(values) {
    const nproc = values['nproc-per-node'];
    if (nproc !== undefined && nproc > 1 && distributedEnv() === undefined) {
      const argv = process.argv.slice(2);
      if (argv[0] !== 'train') throw new UsageError('--nproc-per-node needs the crossencoder command line (crossencoder train …)', 'train');
      resolveTrainingArguments({ ...trainingArgumentsFrom(TRAINING_OPTIONS, values), outputDir: values.output });
      return relaunchTrain(nproc, argv.slice(1));
    }
    const args = { ...trainingArgumentsFrom(TRAINING_OPTIONS, values), outputDir: values.output };
    resolveTrainingArguments(args); // reject bad arguments before the slow loads
    const byLoss = values.loss !== undefined;
    const load = (file: string, what: string) => (byLoss ? loadDataset(file) : loadPairFile(file, what));
    const trainDataset = await load(values.train, 'train');
    const evalDataset = values.eval === undefined ? undefined : await load(values.eval, 'eval');
    const model = await loadModel(values);
    const resume = values['resume-from-checkpoint'];
    const loss = byLoss ? createLoss(values.loss!, model, lossOptionsFrom(values)) : undefined;
    const trainer = new CrossEncoderTrainer({ model, args, trainDataset, evalDataset, loss });
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
    // In a data-parallel run, rank 0 saves and prints; the other ranks are done.
    if (!isWorldProcessZero()) return;
    const finalDir = path.resolve(values.output, 'final');
    await model.savePretrained(finalDir);
    process.stderr.write(
      `${PROGRAM}: trained ${output.globalStep} steps, training loss ${output.trainingLoss.toFixed(4)}, ` +
        `${output.metrics.trainRuntime.toFixed(1)} s\n`,
    );
    await writeOut(`${finalDir}\n`);
  },
});

/** The loss options given as flags, under the API's names (flags not given are left out). */
function lossOptionsFrom(values: Record<string, unknown>): Record<string, unknown> {
  const names: Record<string, string> = {
    'num-negatives': 'numNegatives',
    scale: 'scale',
    'mini-batch-size': 'miniBatchSize',
    k: 'k',
    sigma: 'sigma',
    eps: 'eps',
    'reduction-log': 'reductionLog',
    'activation-fn': 'activationFn',
    'respect-input-order': 'respectInputOrder',
    'pos-weight': 'posWeight',
    alpha: 'alpha',
  };
  const options: Record<string, unknown> = {};
  for (const [flag, name] of Object.entries(names)) if (values[flag] !== undefined) options[name] = values[flag];
  if (values['weighting-scheme'] !== undefined) options.weightingScheme = schemeByName(values['weighting-scheme'] as string, values.mu as number | undefined);
  else if (values.mu !== undefined) options.weightingScheme = schemeByName('NDCGLoss2PPScheme', values.mu as number);
  return options;
}

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
