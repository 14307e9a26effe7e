/**
 * What a loaded model's card starts from: the hub id it came from (a local path is never
 * written into a card), and the card and loss plot saved with it, which `savePretrained` writes
 * again unchanged while the model is not trained (as Sentence Transformers keeps a loaded card),
 * so re-saving a fine-tuned model keeps its training section.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { FileSystemError } from '../errors.js';
import { MODEL_FILE } from '../model-files.js';

import { LOSS_PLOT_FILE } from './loss-plot.js';

/** The origin and saved card of a loaded model. */
export interface LoadedCard {
  /** The hub id the model was loaded by, or whose cache snapshot its directory is. */
  hubId?: string;
  /** The README.md (model card) in its directory. */
  readme?: string;
  /** The training_loss.svg beside it. */
  lossPlot?: string;
}

/** `…/models--org--name/snapshots/<commit>`: a Hugging Face cache snapshot (repo ids never hold `--`). */
const SNAPSHOT = /(?:^|[/\\])models--([^/\\]+)[/\\]snapshots[/\\][^/\\]+[/\\]?$/;

/** The hub id of `nameOrPath` as fromPretrained resolved it to `modelPath`, if it has one. */
export function hubIdOf(nameOrPath: string, modelPath: string): string | undefined {
  const snapshot = SNAPSHOT.exec(modelPath);
  if (snapshot) return snapshot[1].split('--').join('/');
  // Not a snapshot but resolved from the hub: a repo without an org, or a cache outside the layout.
  return path.resolve(nameOrPath) === modelPath ? undefined : nameOrPath;
}

export async function readLoadedCard(nameOrPath: string, modelPath: string): Promise<LoadedCard> {
  return {
    hubId: hubIdOf(nameOrPath, modelPath),
    readme: await readOptional(path.join(modelPath, MODEL_FILE.readme)),
    lossPlot: await readOptional(path.join(modelPath, LOSS_PLOT_FILE)),
  };
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FileSystemError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}
