/**
 * Training checkpoints on disk, laid out as transformers.Trainer lays them out:
 * `outputDir/checkpoint-<step>/` with the model files, the optimiser and RNG state and
 * `trainer_state.json`, plus `checkpoint_hashes.json`, the sha256 of the files a resume reads.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import { writeJsonAtomic } from '../atomic-file.js';
import { FileSystemError, InvalidArgumentError, ModelFormatError } from '../errors.js';

import type { TrainerState } from './callbacks.js';
import type { ResolvedTrainingArguments } from './training-arguments.js';

const PREFIX = 'checkpoint-';
export const TRAINER_STATE_FILE = 'trainer_state.json';
export const TRAINING_ARGS_FILE = 'training_args.json';
/**
 * The content hashes of a checkpoint, in a file of its own: transformers' `TrainerState(**json)`
 * refuses unknown keys in trainer_state.json.
 */
export const CHECKPOINT_HASHES_FILE = 'checkpoint_hashes.json';
const HASHES_FORMAT = 'torch-crossencoder-checkpoint-hashes';

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

/** The sha256 of `file`, read as a stream (weights can be gigabytes). */
async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * Writes {@link CHECKPOINT_HASHES_FILE} into checkpoint directory `dir`: the global step and the
 * sha256 of each of `files` (names inside `dir`), once they are all written.
 */
export async function writeCheckpointHashes(dir: string, globalStep: number, files: readonly string[]): Promise<void> {
  const sha256: Record<string, string> = {};
  for (const file of files) sha256[file] = await sha256File(path.join(dir, file));
  await writeJsonAtomic(path.join(dir, CHECKPOINT_HASHES_FILE), { format: HASHES_FORMAT, version: 1, global_step: globalStep, sha256 });
}

let warnedUnverified = false;

/**
 * Checks, before a resume reads them, that checkpoint `dir` holds the files it was saved with:
 * {@link CHECKPOINT_HASHES_FILE} names the step `globalStep` (trainer_state.json's) and every file
 * it lists has its recorded sha256. A file swapped for another checkpoint's, truncated or
 * flipped is refused rather than resumed from silently. A checkpoint without the file (saved by
 * an older version of the package) is resumed unverified, with a `CrossEncoderWarning` (once per
 * process).
 * @throws ModelFormatError naming the checkpoint and the file that does not match (or is missing).
 */
export async function verifyCheckpoint(dir: string, globalStep: number): Promise<void> {
  const hashesFile = path.join(dir, CHECKPOINT_HASHES_FILE);
  let text: string;
  try {
    text = await readFile(hashesFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new FileSystemError(`cannot resume from ${dir}: cannot read ${hashesFile}: ${(error as Error).message}`, { cause: error });
    }
    if (!warnedUnverified) {
      warnedUnverified = true;
      process.emitWarning(
        `checkpoint ${dir} has no ${CHECKPOINT_HASHES_FILE} (saved by an older version): its files are resumed from unverified`,
        'CrossEncoderWarning',
      );
    }
    return;
  }
  let json: { format?: unknown; global_step?: unknown; sha256?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (error) {
    throw new ModelFormatError(`cannot resume from ${dir}: ${hashesFile} is not valid JSON`, { cause: error });
  }
  const sha256 = json?.sha256;
  if (json?.format !== HASHES_FORMAT || !Number.isInteger(json.global_step) || !sha256 || typeof sha256 !== 'object' || Array.isArray(sha256)) {
    throw new ModelFormatError(`cannot resume from ${dir}: ${hashesFile} is not a ${HASHES_FORMAT} file`);
  }
  if (json.global_step !== globalStep) {
    throw new ModelFormatError(
      `cannot resume from ${dir}: ${hashesFile} records step ${json.global_step} but ${TRAINER_STATE_FILE} says ${globalStep}; ` +
        'the files come from different checkpoints',
    );
  }
  for (const [name, expected] of Object.entries(sha256 as Record<string, unknown>)) {
    // Names are ours (plain file names); anything else would read outside the checkpoint.
    if (typeof expected !== 'string' || name !== path.basename(name) || name === '..' || name === '.') {
      throw new ModelFormatError(`cannot resume from ${dir}: ${hashesFile} has a malformed entry ${JSON.stringify(name)}`);
    }
    const file = path.join(dir, name);
    let actual: string;
    try {
      actual = await sha256File(file);
    } catch (error) {
      throw new ModelFormatError(`cannot resume from ${dir}: ${file} is listed in ${CHECKPOINT_HASHES_FILE} but cannot be read (${(error as Error).message})`, {
        cause: error,
      });
    }
    if (actual !== expected) {
      throw new ModelFormatError(
        `cannot resume from ${dir}: ${file} does not match the sha256 recorded when checkpoint ${globalStep} was saved ` +
          `(${CHECKPOINT_HASHES_FILE}); it was changed or replaced since`,
      );
    }
  }
}
