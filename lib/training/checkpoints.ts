/**
 * Training checkpoints on disk, laid out as transformers.Trainer lays them out:
 * `outputDir/checkpoint-<step>/` with the model files, the optimiser and RNG state and
 * `trainer_state.json`.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import { writeJsonAtomic } from '../atomic-file.js';
import { FileSystemError, InvalidArgumentError, ModelFormatError } from '../errors.js';

import type { TrainerState } from './callbacks.js';
import type { ResolvedTrainingArguments } from './training-arguments.js';

const PREFIX = 'checkpoint-';
export const TRAINER_STATE_FILE = 'trainer_state.json';
export const TRAINING_ARGS_FILE = 'training_args.json';

/** `outputDir/checkpoint-<step>`. */
export function checkpointDir(outputDir: string, step: number): string {
  return path.join(outputDir, `${PREFIX}${step}`);
}

/** The checkpoints in `outputDir`, oldest (lowest step) first. */
export async function listCheckpoints(outputDir: string): Promise<{ step: number; dir: string }[]> {
  let names: string[];
  try {
    names = await readdir(outputDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FileSystemError(`cannot list ${outputDir}: ${(error as Error).message}`, { cause: error });
  }
  return names
    .filter((name) => new RegExp(`^${PREFIX}\\d+$`).test(name))
    .map((name) => ({ step: Number(name.slice(PREFIX.length)), dir: path.join(outputDir, name) }))
    .sort((a, b) => a.step - b.step);
}

/** Resolves `resumeFromCheckpoint`: a path as is, `true` the latest checkpoint in outputDir. */
export async function resolveResumeCheckpoint(resume: string | boolean, outputDir: string): Promise<string | undefined> {
  if (resume === false) return undefined;
  if (typeof resume === 'string') return resume;
  const latest = (await listCheckpoints(outputDir)).pop();
  if (!latest) throw new InvalidArgumentError(`resumeFromCheckpoint: true, but ${outputDir} has no checkpoint-<step> directory`);
  return latest.dir;
}

/**
 * Deletes the oldest checkpoints beyond `limit`, never the best one (transformers'
 * _rotate_checkpoints keeps it by moving it to the end of the list).
 */
export async function rotateCheckpoints(outputDir: string, limit: number | undefined, best?: string): Promise<void> {
  if (limit === undefined) return;
  const dirs = (await listCheckpoints(outputDir)).map((c) => c.dir);
  const bestIndex = best === undefined ? -1 : dirs.indexOf(best);
  if (bestIndex >= 0) dirs.push(...dirs.splice(bestIndex, 1));
  // With a limit of 1 and a best checkpoint that is not the latest, keep both (as transformers).
  const keep = limit === 1 && bestIndex >= 0 && bestIndex !== dirs.length - 1 ? 2 : limit;
  for (const dir of dirs.slice(0, Math.max(0, dirs.length - keep))) await rm(dir, { recursive: true, force: true });
}

/** trainer_state.json as transformers writes it (snake_case keys). */
export function trainerStateJson(state: TrainerState, args: ResolvedTrainingArguments): Record<string, unknown> {
  return {
    best_metric: state.bestMetric ?? null,
    best_model_checkpoint: state.bestModelCheckpoint ?? null,
    epoch: state.epoch,
    eval_steps: args.evalSteps,
    global_step: state.globalStep,
    is_hyper_param_search: false,
    is_local_process_zero: true,
    is_world_process_zero: true,
    log_history: state.logHistory,
    logging_steps: args.loggingSteps,
    max_steps: state.maxSteps,
    num_input_tokens_seen: 0,
    num_train_epochs: state.numTrainEpochs,
    save_steps: args.saveSteps,
    total_flos: 0,
    train_batch_size: args.perDeviceTrainBatchSize,
    trial_name: null,
    trial_params: null,
  };
}

export function writeTrainerState(dir: string, state: TrainerState, args: ResolvedTrainingArguments): Promise<void> {
  return writeJsonAtomic(path.join(dir, TRAINER_STATE_FILE), trainerStateJson(state, args));
}

/** Reads a checkpoint's trainer_state.json back into the fields a resumed run continues from. */
export async function readTrainerState(dir: string): Promise<Pick<TrainerState, 'globalStep' | 'logHistory' | 'bestMetric' | 'bestModelCheckpoint'>> {
  const file = path.join(dir, TRAINER_STATE_FILE);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new ModelFormatError(`cannot resume from ${dir}: ${file} is missing or not valid JSON`, { cause: error });
  }
  if (!Number.isInteger(json.global_step) || !Array.isArray(json.log_history)) {
    throw new ModelFormatError(`cannot resume from ${dir}: ${file} lacks global_step or log_history`);
  }
  return {
    globalStep: json.global_step as number,
    logHistory: json.log_history as Record<string, number>[],
    bestMetric: typeof json.best_metric === 'number' ? json.best_metric : undefined,
    bestModelCheckpoint: typeof json.best_model_checkpoint === 'string' ? json.best_model_checkpoint : undefined,
  };
}
