/**
 * CrossEncoderTrainer: fine-tunes a CrossEncoder on labelled (query, document) pairs with the
 * semantics of Sentence Transformers' CrossEncoderTrainer (transformers.Trainer underneath):
 * the same batches, loss, AdamW, schedule, clipping, logging and checkpoints. JS runs the loop
 * and the bookkeeping; each optimiser step runs natively on the compute thread. What a run
 * prints and records for the model card are callbacks (progress-callback, model-card-callback).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';

import { checkSignal } from '../abort.js';
import { checkDirectoryCreatable, makeDirectory, recoverInterruptedSaves, writeDirectoryAtomic, writeJsonAtomic } from '../atomic-file.js';
import { AbortError, InvalidArgumentError, NonFiniteLossError } from '../errors.js';
import type { CrossEncoderEvaluator } from '../evaluation/evaluator.js';
import { checkLogger, type Logger } from '../logger.js';
import { MODEL_FILE } from '../model-files.js';
import { type CrossEncoder, nativeModelOf, weightsLockOf } from '../model/cross-encoder.js';
import { NativeTrainer } from '../native.js';
import { checkOptionNames, optionNames } from '../option-names.js';

import {
  bestMetricKey,
  type CallbackEvent,
  dispatch,
  isBetter,
  type StepOutput,
  type TrainerCallback,
  type TrainerControl,
  type TrainerState,
} from './callbacks.js';
import {
  checkpointDir,
  listCheckpoints,
  readTrainerState,
  resolveResumeCheckpoint,
  rotateCheckpoints,
  TRAINER_STATE_FILE,
  TRAINING_ARGS_FILE,
  verifyCheckpoint,
  writeCheckpointHashes,
  writeTrainerState,
} from './checkpoints.js';
import { LoggingCallback } from './logging-callback.js';
import { type CrossEncoderLoss, defaultLoss } from './losses/index.js';
import { type Distributed, isWorldProcessZero, processGroup, shardBatches, shardLength } from './distributed.js';
import { lengthGroupedBatches } from './length-grouped-sampler.js';
import { ModelCardCallback } from './model-card-callback.js';
import { ProgressCallback } from './progress-callback.js';
import { batchesPerEpoch, epochBatches, multiDatasetBatchesPerEpoch, multiDatasetEpochBatches } from './sampler.js';
import { distinctLosses, type NamedSamples, prepareDatasets, type TrainingDataset, TrainingRows, type TrainingLoss } from './training-datasets.js';
import {
  type CrossEncoderTrainingArguments,
  type ResolvedTrainingArguments,
  resolveTrainingArguments,
} from './training-arguments.js';

/** Options of {@link CrossEncoderTrainer}. */
export interface CrossEncoderTrainerOptions {
  model: CrossEncoder;
  args?: CrossEncoderTrainingArguments;
  /**
   * Rows or columns in the loss's data format (see the README's loss table): for the default
   * loss, rows `{ query, document, label }` or columns `{ query: [...], document: [...], label: [...] }`;
   * or a {@link ColumnDataset} from `loadDataset`. Several datasets trained together (ST's
   * `DatasetDict`): an object of datasets by name, each batch from one of them, interleaved as
   * `args.multiDatasetBatchSampler` says.
   */
  trainDataset: TrainingDataset;
  /**
   * Rows whose loss is reported as `eval_loss` at each evaluation, in the same format; an object
   * of datasets by name reports `eval_{name}_loss` for each.
   */
  evalDataset?: TrainingDataset;
  /**
   * Default: {@link BinaryCrossEntropyLoss} for one label, {@link CrossEntropyLoss} for several.
   * With datasets by name, one loss for all or an object of losses by dataset name.
   */
  loss?: TrainingLoss;
  /** Evaluators run at each evaluation; their metrics are logged with an `eval_` prefix. */
  evaluator?: CrossEncoderEvaluator | CrossEncoderEvaluator[];
  callbacks?: TrainerCallback[];
  /**
   * Where the run reports its progress (start, log entries, checkpoints, end) instead of the
   * progress bar and JSON lines on stderr: a pino-compatible `{ info, warn, error }`.
   */
  logger?: Logger;
  /**
   * Stop with a {@link NonFiniteLossError} naming the step at the first loss that is NaN or
   * infinite, instead of training on (default true).
   */
  stopOnNonFiniteLoss?: boolean;
}

/** Options of {@link CrossEncoderTrainer.train}. */
export interface TrainOptions {
  /**
   * A checkpoint directory, or `true` for the latest one in `outputDir`. Its files are checked
   * against the sha256 recorded in its `checkpoint_hashes.json` first: a weight, optimiser, RNG
   * or state file changed since the save is a `ModelFormatError` naming it. A checkpoint
   * saved without that file (by an older version) resumes unverified, with a `CrossEncoderWarning`.
   */
  resumeFromCheckpoint?: string | boolean;
  /**
   * Stops the run after the step in progress: a checkpoint of that step is saved (unless
   * `saveStrategy` is `no`), then `train` rejects with an {@link AbortError} saying where it
   * stopped; `resumeFromCheckpoint: true` continues from there.
   */
  signal?: AbortSignal;
}

const TRAINER_OPTION_NAMES = optionNames<CrossEncoderTrainerOptions>({
  model: true,
  args: true,
  trainDataset: true,
  evalDataset: true,
  loss: true,
  evaluator: true,
  callbacks: true,
  logger: true,
  stopOnNonFiniteLoss: true,
});
const TRAIN_OPTION_NAMES = optionNames<TrainOptions>({ resumeFromCheckpoint: true, signal: true });

/** What {@link CrossEncoderTrainer.train} returns (transformers' TrainOutput). */
export interface TrainOutput {
  globalStep: number;
  /** Mean training loss over all steps. */
  trainingLoss: number;
  metrics: {
    trainRuntime: number;
    trainSamplesPerSecond: number;
    trainStepsPerSecond: number;
    trainLoss: number;
    epoch: number;
  };
}

interface Schedule {
  batchesPerEpoch: number;
  updatesPerEpoch: number;
  maxSteps: number;
  numEpochs: number;
  warmupSteps: number;
}

/** Fine-tunes a {@link CrossEncoder}; see the README's training section. */
export class CrossEncoderTrainer {
  readonly model: CrossEncoder;
  readonly args: ResolvedTrainingArguments;
  /** The training rows as their losses checked them, every dataset's numbered one after another. */
  readonly trainDataset: TrainingRows;
  /** The evaluation datasets as their losses checked them (one, unnamed, or several by name). */
  readonly evalDatasets: readonly NamedSamples[] | undefined;
  /** The loss of the (first) training dataset. */
  readonly loss: CrossEncoderLoss;
  /** Every distinct loss, in the order the native trainer holds them. */
  private readonly losses: CrossEncoderLoss[];
  readonly evaluators: CrossEncoderEvaluator[];
  readonly callbacks: TrainerCallback[];
  readonly state: TrainerState;

  private readonly stopOnNonFiniteLoss: boolean;
  #training = false;
  /** Each training row's token count, for groupByLength (tokenising every row once). */
  #lengths: number[] | undefined;
  private readonly control: TrainerControl = { shouldTrainingStop: false, shouldSave: false, shouldEvaluate: false, shouldLog: false };
  /** The native optimiser state of the current run (created by train, or by a lone evaluate). */
  private nativeTrainer: NativeTrainer | undefined;
  /** The last evaluation set a new best: the checkpoint saved at this step becomes the best one. */
  private pendingBest = false;
  /** The process group of a data-parallel run (see distributed.ts), undefined in a process alone. */
  private distributed: Distributed | undefined;
  /** The newest checkpoint of a data-parallel run: every rank decides the same way from it. */
  private lastCheckpoint: { step: number; dir: string } | undefined;

  constructor(options: CrossEncoderTrainerOptions) {
    if (!options || typeof options !== 'object') throw new InvalidArgumentError('CrossEncoderTrainer(options): options must be an object');
    checkOptionNames('CrossEncoderTrainer', options, TRAINER_OPTION_NAMES);
    const { model, args, trainDataset, evalDataset, loss, evaluator, callbacks = [] } = options;
    if (!model || typeof model.predict !== 'function') throw new InvalidArgumentError('CrossEncoderTrainer: options.model must be a CrossEncoder');
    const logger = checkLogger(options.logger, 'CrossEncoderTrainer: options.logger');
    const { stopOnNonFiniteLoss = true } = options;
    if (typeof stopOnNonFiniteLoss !== 'boolean') {
      throw new InvalidArgumentError(`CrossEncoderTrainer: options.stopOnNonFiniteLoss must be a boolean, got ${JSON.stringify(stopOnNonFiniteLoss)}`);
    }
    this.stopOnNonFiniteLoss = stopOnNonFiniteLoss;
    this.model = model;
    this.evaluators = evaluator === undefined ? [] : Array.isArray(evaluator) ? evaluator : [evaluator];
    this.args = resolveTrainingArguments(withBestMetricDefault(args, this.evaluators, model.numLabels));
    if (trainDataset === undefined) throw new InvalidArgumentError('CrossEncoderTrainer: options.trainDataset is required');
    const lossOption = loss ?? defaultLoss(model);
    if (!lossOption || typeof lossOption !== 'object') throw new InvalidArgumentError('CrossEncoderTrainer: options.loss must be a loss');
    const train = prepareDatasets(model, trainDataset, lossOption, 'trainDataset');
    this.evalDatasets = evalDataset === undefined ? undefined : prepareDatasets(model, evalDataset, lossOption, 'evalDataset');
    this.losses = distinctLosses([...train, ...(this.evalDatasets ?? [])]);
    this.trainDataset = new TrainingRows(train, train.map((d) => this.losses.indexOf(d.loss)));
    this.loss = train[0].loss;
    if (this.args.groupByLength && this.trainDataset.isMulti) {
      throw new InvalidArgumentError('groupByLength takes one training dataset; with datasets by name, batches come from multiDatasetBatchSampler');
    }
    checkEvaluationPlan(this.args, this.evalDatasets?.map((d) => (d.name === undefined ? 'eval_loss' : `eval_${d.name}_loss`)), this.evaluators, model.numLabels);
    checkDirectoryCreatable(this.args.outputDir, 'the output directory (outputDir)');
    // As transformers: the default callbacks first, so that user callbacks see their work done.
    // In a data-parallel run, only rank 0 reports (transformers' is_world_process_zero).
    const reporting = !isWorldProcessZero() ? [] : logger ? [new LoggingCallback(logger)] : this.args.disableTqdm ? [] : [new ProgressCallback()];
    this.callbacks = [new ModelCardCallback(this), ...reporting, ...callbacks];
    this.state = { globalStep: 0, maxSteps: 0, epoch: 0, numTrainEpochs: 0, logHistory: [] };
  }

  /**
   * Trains; resolves when the last step (or an early stop) is done. One run at a time: a second
   * call while one runs is refused, since both would step the same weights and optimiser. It
   * first cleans `outputDir` of what checkpoint saves of a killed process left (hidden
   * `.checkpoint-<step>.saving-<pid>-…` directories of pids no longer running).
   */
  async train(options: TrainOptions = {}): Promise<TrainOutput> {
    checkOptionNames('train()', options, TRAIN_OPTION_NAMES);
    if (this.#training) throw new InvalidArgumentError('train(): this trainer is already training; await the running train() first');
    this.#training = true;
    try {
      return await this.run(options);
    } catch (error) {
      // A rank that fails closes its connections: the others' next collective fails at once.
      if (this.distributed && !(error instanceof AbortError)) await this.distributed.abort();
      throw error;
    } finally {
      this.#training = false;
    }
  }

  private async run(options: TrainOptions): Promise<TrainOutput> {
    const signal = checkSignal(options.signal, 'train(): options.signal');
    const args = this.args;
    await makeDirectory(args.outputDir, 'the output directory (outputDir)');
    // Checkpoint saves of a killed run: put back or delete what they left, before listing checkpoints.
    await recoverInterruptedSaves(args.outputDir);
    const distributed = (this.distributed = await processGroup());
    const schedule = this.schedule();
    const trainer = (this.nativeTrainer = this.createNativeTrainer(schedule));
    trainer.setProcessGroup(distributed?.group ?? null);
    Object.assign(this.state, { globalStep: 0, maxSteps: schedule.maxSteps, epoch: 0, numTrainEpochs: schedule.numEpochs, logHistory: [] });
    Object.assign(this.control, { shouldTrainingStop: false });

    const resumeDir = await resolveResumeCheckpoint(options.resumeFromCheckpoint ?? false, args.outputDir);
    if (resumeDir) await this.resume(resumeDir, trainer);
    const firstStep = this.state.globalStep;
    if (distributed) await this.joinRanks(distributed, resumeDir);

    const started = performance.now();
    await this.emit('onTrainBegin', {});
    if (args.evalOnStart && firstStep === 0 && this.isMainProcess()) await this.evaluate();

    let lossSinceLog = 0;
    let stepsSinceLog = 0;
    let totalLoss = 0;
    const firstEpoch = Math.floor(firstStep / schedule.updatesPerEpoch);
    for (let epoch = firstEpoch; epoch < schedule.numEpochs && !this.control.shouldTrainingStop; epoch++) {
      const batches = await this.epochBatches(epoch);
      const steps = groupSteps(
        distributed
          ? shardBatches(batches, args.perDeviceTrainBatchSize, distributed.worldSize, distributed.rank, args.dataloaderDropLast)
          : batches,
        args.gradientAccumulationSteps,
      );
      // A resumed run skips the steps of this epoch it already took.
      const skip = epoch === firstEpoch ? firstStep - epoch * schedule.updatesPerEpoch : 0;
      // Iterating the epoch's DataLoader draws from the global generator; transformers restores a
      // mid-epoch checkpoint's RNG state after that draw, so a resumed epoch does not draw again.
      if (skip === 0) await trainer.drawLoaderSeed();
      let batchesDone = skip * args.gradientAccumulationSteps;
      for (const micro of steps.slice(skip)) {
        const batches = micro.map((rows) => this.trainDataset.batch(rows));
        const result = await weightsLockOf(this.model).write(() => trainer.step(batches));
        if (this.stopOnNonFiniteLoss && !Number.isFinite(result.loss)) {
          throw new NonFiniteLossError(
            `training stopped at step ${this.state.globalStep + 1} of ${schedule.maxSteps}: the loss is ${result.loss} ` +
              `(learning rate ${result.learningRate}). The model's weights may no longer be finite: reload it, then lower ` +
              'learningRate or check the labels (stopOnNonFiniteLoss: false trains on regardless).',
          );
        }
        batchesDone += micro.length;
        this.state.globalStep += 1;
        this.state.epoch = epoch + batchesDone / schedule.batchesPerEpoch;
        lossSinceLog += result.loss;
        stepsSinceLog += 1;
        totalLoss += result.loss;
        const step: StepOutput = { ...result, batchIndices: micro };
        this.setStepControl();
        await this.emit('onStepEnd', { step });
        if (this.control.shouldLog) {
          await this.log({ loss: lossSinceLog / stepsSinceLog, grad_norm: result.gradNorm, learning_rate: result.learningRate });
          lossSinceLog = 0;
          stepsSinceLog = 0;
        }
        await this.maybeEvaluateAndSave(trainer);
        // Every rank stops at the same step: when any rank's callbacks or signal say so.
        const [stop, aborted] = await this.anyRank([this.control.shouldTrainingStop, signal?.aborted === true], `step ${this.state.globalStep}`);
        this.control.shouldTrainingStop = stop;
        if (aborted) await this.stopForAbort(trainer, signal);
        if (this.control.shouldTrainingStop) break;
      }
      this.control.shouldEvaluate = args.evalStrategy === 'epoch';
      this.control.shouldSave = args.saveStrategy === 'epoch';
      await this.emit('onEpochEnd', {});
      await this.maybeEvaluateAndSave(trainer);
    }

    const best = this.state.bestModelCheckpoint;
    if (args.loadBestModelAtEnd && best) {
      await weightsLockOf(this.model).write(() => nativeModelOf(this.model).loadWeights(path.join(best, MODEL_FILE.safetensors)));
    }
    const runtime = (performance.now() - started) / 1000;
    const stepsRun = this.state.globalStep - firstStep;
    const trainLoss = stepsRun > 0 ? totalLoss / stepsRun : 0;
    const samples = stepsRun * args.perDeviceTrainBatchSize * args.gradientAccumulationSteps * (distributed?.worldSize ?? 1);
    const summary = {
      train_runtime: runtime,
      train_samples_per_second: samples / runtime,
      train_steps_per_second: stepsRun / runtime,
      train_loss: trainLoss,
      epoch: this.state.epoch,
    };
    this.state.logHistory.push({ ...summary, step: this.state.globalStep });
    if (this.isMainProcess()) await writeTrainerState(args.outputDir, this.state, args);
    await distributed?.group.barrier('the end of training');
    await this.emit('onTrainEnd', {});
    return {
      globalStep: this.state.globalStep,
      trainingLoss: trainLoss,
      metrics: {
        trainRuntime: runtime,
        trainSamplesPerSecond: summary.train_samples_per_second,
        trainStepsPerSecond: summary.train_steps_per_second,
        trainLoss,
        epoch: this.state.epoch,
      },
    };
  }

  /**
   * Runs the evaluation: `eval_loss` on the eval dataset and every evaluator's metrics (prefixed
   * `eval_`), logged into the history and passed to callbacks.
   */
  async evaluate(): Promise<Record<string, number>> {
    const metrics: Record<string, number> = {};
    if (this.evalDatasets) {
      this.nativeTrainer ??= this.createNativeTrainer(this.schedule());
      // transformers evaluates a dict of eval datasets one by one, prefixing eval_{name}_.
      for (const d of this.evalDatasets) {
        metrics[d.name === undefined ? 'eval_loss' : `eval_${d.name}_loss`] = await this.evalLoss(this.nativeTrainer, d);
      }
    }
    const outputPath = path.join(this.args.outputDir, 'eval');
    for (const evaluator of this.evaluators) {
      const results = await evaluator.evaluate(this.model, {
        outputPath,
        epoch: this.state.epoch,
        steps: this.state.globalStep,
      });
      for (const [key, value] of Object.entries(results)) metrics[`eval_${key}`] = value;
    }
    if (Object.keys(metrics).length === 0) {
      throw new InvalidArgumentError('evaluation needs an evalDataset or an evaluator');
    }
    await this.log(metrics);
    await this.emit('onEvaluate', { metrics });
    this.trackBest(metrics);
    return metrics;
  }

  private schedule(): Schedule {
    const args = this.args;
    const rows = this.trainDataset;
    const batches = rows.isMulti
      ? multiDatasetBatchesPerEpoch(rows.sizes, args.perDeviceTrainBatchSize, args.dataloaderDropLast, args.multiDatasetBatchSampler)
      : batchesPerEpoch(rows.length, args.perDeviceTrainBatchSize, args.dataloaderDropLast);
    // Each rank's epoch is its shard of the batches (transformers' len(train_dataloader) per process).
    const perEpoch = this.distributed ? shardLength(batches, this.distributed.worldSize, args.dataloaderDropLast) : batches;
    if (perEpoch === 0) {
      throw new InvalidArgumentError(
        `the dataset (${this.trainDataset.length} rows) is smaller than one batch (${args.perDeviceTrainBatchSize}) and dataloaderDropLast is set`,
      );
    }
    // As transformers counts them: whole accumulation groups per epoch for the step budget,
    // although each epoch also steps on its last, shorter group.
    const updatesPerEpoch = Math.max(1, Math.floor(perEpoch / args.gradientAccumulationSteps));
    const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * updatesPerEpoch);
    const numEpochs = args.maxSteps > 0 ? Math.ceil(maxSteps / updatesPerEpoch) : Math.ceil(args.numTrainEpochs);
    const warmupSteps = args.warmupSteps > 0 ? args.warmupSteps : Math.ceil(args.warmupRatio * maxSteps);
    return { batchesPerEpoch: perEpoch, updatesPerEpoch, maxSteps, numEpochs, warmupSteps };
  }

  private createNativeTrainer(schedule: Schedule): NativeTrainer {
    const a = this.args;
    return new NativeTrainer(nativeModelOf(this.model), {
      losses: this.losses.map((l) => l.nativeOptions()),
      learningRate: a.learningRate,
      weightDecay: a.weightDecay,
      adamBeta1: a.adamBeta1,
      adamBeta2: a.adamBeta2,
      adamEpsilon: a.adamEpsilon,
      maxGradNorm: a.maxGradNorm,
      lrSchedulerType: a.lrSchedulerType,
      warmupSteps: schedule.warmupSteps,
      totalSteps: schedule.maxSteps,
      seed: a.seed,
    });
  }

  /** The row indices of each batch of `epoch`, over every training dataset. */
  private epochBatches(epoch: number): Promise<number[][]> {
    const { args, trainDataset: rows } = this;
    const { perDeviceTrainBatchSize: size, seed, dataloaderDropLast: dropLast } = args;
    if (rows.isMulti) return multiDatasetEpochBatches(rows.sizes, size, seed, epoch, dropLast, args.multiDatasetBatchSampler);
    if (args.groupByLength) {
      this.#lengths ??= rows.datasets[0].samples.lengths();
      return lengthGroupedBatches(this.#lengths, size, size * args.gradientAccumulationSteps, seed, epoch, dropLast);
    }
    return epochBatches(rows.length, size, seed, epoch, dropLast);
  }

  /** Mean loss over an eval set, weighted by batch size (transformers' evaluation loop). */
  private async evalLoss(trainer: NativeTrainer, { loss, samples }: NamedSamples): Promise<number> {
    const size = this.args.perDeviceEvalBatchSize;
    const lossIndex = this.losses.indexOf(loss);
    await trainer.drawLoaderSeed(); // the eval DataLoader's iteration, as in transformers' evaluation loop
    let sum = 0;
    for (let start = 0; start < samples.length; start += size) {
      const rows = Array.from({ length: Math.min(size, samples.length - start) }, (_, i) => start + i);
      sum += (await trainer.evalLoss({ ...samples.batch(rows), lossIndex })) * rows.length;
    }
    return sum / samples.length;
  }

  /** transformers' DefaultFlowCallback.on_step_end. */
  private setStepControl(): void {
    const { args, state, control } = this;
    const step = state.globalStep;
    control.shouldLog = (args.loggingFirstStep && step === 1) || step % args.loggingSteps === 0;
    control.shouldEvaluate = args.evalStrategy === 'steps' && step % args.evalSteps === 0;
    control.shouldSave = args.saveStrategy === 'steps' && step % args.saveSteps === 0;
    if (step >= state.maxSteps) {
      control.shouldTrainingStop = true;
      if (args.saveStrategy !== 'no') control.shouldSave = true;
    }
  }

  private async maybeEvaluateAndSave(trainer: NativeTrainer): Promise<void> {
    if (this.control.shouldEvaluate) {
      this.control.shouldEvaluate = false;
      if (this.isMainProcess()) await this.evaluate();
    }
    if (this.control.shouldSave) {
      this.control.shouldSave = false;
      await this.saveCheckpoint(trainer);
    }
  }

  private trackBest(metrics: Record<string, number>): void {
    if (!this.args.loadBestModelAtEnd) return;
    const key = bestMetricKey(this.args);
    const value = metrics[key];
    if (value === undefined) {
      throw new InvalidArgumentError(
        `metricForBestModel '${this.args.metricForBestModel}' is not among the evaluation metrics: ${Object.keys(metrics).join(', ')}`,
      );
    }
    if (isBetter(value, this.state.bestMetric, this.args.greaterIsBetter)) {
      this.state.bestMetric = value;
      this.pendingBest = true;
    }
  }

  /**
   * Ends an aborted run between two steps: saves a checkpoint of the step just taken (unless
   * saving is off or it was just saved), so that resuming loses nothing, then throws.
   */
  private async stopForAbort(trainer: NativeTrainer, signal: AbortSignal | undefined): Promise<never> {
    const { globalStep, maxSteps } = this.state;
    let saved = this.distributed ? this.lastCheckpoint : (await listCheckpoints(this.args.outputDir)).pop();
    if (this.args.saveStrategy !== 'no' && saved?.step !== globalStep) {
      await this.saveCheckpoint(trainer);
      saved = { step: globalStep, dir: checkpointDir(this.args.outputDir, globalStep) };
    }
    const where = `training stopped at step ${globalStep} of ${maxSteps} (epoch ${this.state.epoch.toFixed(2)})`;
    const resume = saved
      ? `; ${saved.dir} holds step ${saved.step}: train({ resumeFromCheckpoint: true }) continues from there`
      : '; no checkpoint was saved (saveStrategy is no), so a new run starts over';
    throw new AbortError(`${where}${resume}`, { cause: signal?.reason });
  }

  private async saveCheckpoint(trainer: NativeTrainer): Promise<void> {
    const args = this.args;
    const dir = checkpointDir(args.outputDir, this.state.globalStep);
    const distributed = this.distributed;
    if (distributed) this.lastCheckpoint = { step: this.state.globalStep, dir };
    if (distributed && distributed.rank !== 0) {
      // Rank 0 writes the checkpoint; the others hand it their RNG state (dropout masks).
      await distributed.group.saveRngStates('');
      return;
    }
    if (this.pendingBest) {
      this.state.bestModelCheckpoint = dir;
      this.pendingBest = false;
    }
    await writeDirectoryAtomic(
      dir,
      async (staging) => {
        await this.model.savePretrained(staging);
        const modelFiles = new Set(await readdir(staging));
        await trainer.saveState(staging);
        if (distributed) await distributed.group.saveRngStates(staging);
        // Whatever files the native trainer writes (optimiser, RNG state), without naming them here.
        const stateFiles = (await readdir(staging)).filter((name) => !modelFiles.has(name)).sort();
        await writeTrainerState(staging, this.state, args);
        await writeJsonAtomic(path.join(staging, TRAINING_ARGS_FILE), args);
        // The files a resume reads; last, so that they are all complete.
        await writeCheckpointHashes(staging, this.state.globalStep, [MODEL_FILE.safetensors, ...stateFiles, TRAINER_STATE_FILE]);
      },
      `checkpoint ${this.state.globalStep}`,
    );
    await rotateCheckpoints(args.outputDir, args.saveTotalLimit, this.state.bestModelCheckpoint);
    await this.emit('onSave', { checkpointDir: dir });
  }

  private async resume(dir: string, trainer: NativeTrainer): Promise<void> {
    const saved = await readTrainerState(dir);
    await verifyCheckpoint(dir, saved.globalStep);
    await weightsLockOf(this.model).write(() => nativeModelOf(this.model).loadWeights(path.join(dir, MODEL_FILE.safetensors)));
    await trainer.loadState(dir);
    if (trainer.stepsTaken() !== saved.globalStep) {
      throw new InvalidArgumentError(
        `cannot resume from ${dir}: the optimiser took ${trainer.stepsTaken()} steps but trainer_state.json says ${saved.globalStep}`,
      );
    }
    Object.assign(this.state, saved);
  }

  /** transformers' `is_world_process_zero`: rank 0 of a data-parallel run, or a process alone. */
  private isMainProcess(): boolean {
    return (this.distributed?.rank ?? 0) === 0;
  }

  /** Whether any rank's flag is set, flag by flag (this process's flags when it runs alone). */
  private async anyRank(flags: boolean[], where: string): Promise<boolean[]> {
    if (!this.distributed) return flags;
    const any = await this.distributed.group.allReduceMax(flags.map(Number), `agreeing on whether to stop after ${where}`);
    return any.map((value) => value > 0);
  }

  /**
   * The start of a data-parallel run: every rank resumed from the same step (or none), ranks
   * >= 1 restore their own RNG state, and rank 0's weights are copied to all (as
   * DistributedDataParallel does when it wraps the model).
   */
  private async joinRanks(distributed: Distributed, resumeDir: string | undefined): Promise<void> {
    const step = this.state.globalStep;
    const [highest, negatedLowest] = await distributed.group.allReduceMax([step, -step], 'comparing the resumed steps');
    if (highest !== -negatedLowest) {
      throw new InvalidArgumentError(
        `distributed training, rank ${distributed.rank}: the ranks start from different steps (${-negatedLowest} to ${highest}, this one ${step}): ` +
          'every rank must see the same checkpoints in outputDir (a shared directory, or the same copy on every machine)',
      );
    }
    if (resumeDir) await distributed.group.loadRngState(resumeDir);
    this.lastCheckpoint = resumeDir ? { step, dir: resumeDir } : undefined;
    await weightsLockOf(this.model).write(() => distributed.group.broadcastModel(nativeModelOf(this.model)));
  }

  private async log(logs: Record<string, number>): Promise<void> {
    const entry = { ...logs, epoch: this.state.epoch, step: this.state.globalStep };
    this.state.logHistory.push(entry);
    await this.emit('onLog', { logs: entry });
  }

  private emit<K extends keyof TrainerCallback>(
    hook: K,
    extra: Omit<Parameters<NonNullable<TrainerCallback[K]>>[0], keyof CallbackEvent>,
  ): Promise<void> {
    const event = { args: this.args, state: this.state, control: this.control, ...extra };
    return dispatch(this.callbacks, hook, event as Parameters<NonNullable<TrainerCallback[K]>>[0]);
  }

}

/** Trains with a new {@link CrossEncoderTrainer}; the same options, plus those of `train` (`resumeFromCheckpoint`, `signal`). */
export async function train(options: CrossEncoderTrainerOptions & TrainOptions): Promise<TrainOutput> {
  checkOptionNames('train()', options, [...TRAINER_OPTION_NAMES, ...TRAIN_OPTION_NAMES]);
  const { resumeFromCheckpoint, signal, ...trainerOptions } = options;
  return new CrossEncoderTrainer(trainerOptions).train({ resumeFromCheckpoint, signal });
}

/**
 * As Sentence Transformers: with `loadBestModelAtEnd` and an evaluator but no `metricForBestModel`,
 * the best checkpoint is the one with the best primary metric of the (last) evaluator, in its
 * direction, rather than transformers' `loss`.
 */
function withBestMetricDefault(
  args: CrossEncoderTrainingArguments | undefined,
  evaluators: readonly CrossEncoderEvaluator[],
  numLabels: number,
): CrossEncoderTrainingArguments | undefined {
  const evaluator = evaluators[evaluators.length - 1];
  if (!args?.loadBestModelAtEnd || args.metricForBestModel !== undefined || evaluator === undefined) return args;
  const primary = evaluator.expectedMetrics?.(numLabels).primary ?? evaluator.primaryMetric;
  return { ...args, metricForBestModel: `eval_${primary}`, greaterIsBetter: args.greaterIsBetter ?? evaluator.greaterIsBetter };
}

/**
 * Refuses, when the trainer is created, evaluations it could not run: an evaluation strategy
 * with nothing to evaluate on, and a best-model metric no evaluation produces.
 */
function checkEvaluationPlan(
  args: ResolvedTrainingArguments,
  evalLossKeys: readonly string[] | undefined,
  evaluators: readonly CrossEncoderEvaluator[],
  numLabels: number,
): void {
  const evaluates = args.evalStrategy !== 'no' || args.evalOnStart || args.loadBestModelAtEnd;
  if (evaluates && !evalLossKeys && evaluators.length === 0) {
    const why = args.evalStrategy !== 'no' ? `evalStrategy '${args.evalStrategy}'` : args.evalOnStart ? 'evalOnStart' : 'loadBestModelAtEnd';
    throw new InvalidArgumentError(`${why} needs something to evaluate with: pass an evalDataset (for eval_loss) or an evaluator`);
  }
  if (!args.loadBestModelAtEnd || evaluators.some((evaluator) => evaluator.expectedMetrics === undefined)) return;
  const produced = [
    ...(evalLossKeys ?? []),
    ...evaluators.flatMap((evaluator) => evaluator.expectedMetrics!(numLabels).keys.map((key) => `eval_${key}`)),
  ];
  const key = bestMetricKey(args);
  if (!produced.includes(key)) {
    throw new InvalidArgumentError(
      `metricForBestModel '${args.metricForBestModel}' (${key}) is not among the metrics the evaluations produce: ${produced.join(', ')}`,
    );
  }
}

/** Splits an epoch's batches into optimiser steps of `accumulation` batches (the last may be shorter). */
function groupSteps(batches: number[][], accumulation: number): number[][][] {
  const steps: number[][][] = [];
  for (let i = 0; i < batches.length; i += accumulation) steps.push(batches.slice(i, i + accumulation));
  return steps;
}
