/**
 * A model directory's config.json: reading it, and what every model family takes from it the
 * same way (the number of labels, the activation). What a family's architecture reads from it
 * is the family's (families/).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { InvalidArgumentError, ModelFormatError } from '../errors.js';
import { MODEL_FILE } from '../model-files.js';

import { type Activation, activationFromClassPath } from './activation.js';

/** A config.json object; unknown fields are kept so a saved model round-trips them. */
export type ConfigJson = Record<string, unknown>;

/** Reads and parses `dir/config.json`. */
export async function readConfigJson(dir: string): Promise<ConfigJson> {
  const file = path.join(dir, MODEL_FILE.config);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelFormatError(
      code === 'ENOENT' ? `${dir} has no config.json: not a Hugging Face model directory` : `cannot read ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelFormatError(`${file} must hold a JSON object`);
  }
  return json as ConfigJson;
}

/** Whether the checkpoint was saved with a trained sequence-classification head. */
export function hasClassifierArchitecture(config: ConfigJson): boolean {
  const architectures = config.architectures;
  return !Array.isArray(architectures) || architectures.some((a) => String(a).endsWith('ForSequenceClassification'));
}

/**
 * The number of labels: the caller's choice, else `id2label`'s size, else `num_labels`; a base
 * encoder without a classification head gets 1, as Sentence Transformers' CrossEncoder does.
 */
export function resolveNumLabels(config: ConfigJson, requested?: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1) {
      throw new InvalidArgumentError(`numLabels must be a positive integer, got ${requested}`);
    }
    return requested;
  }
  if (!hasClassifierArchitecture(config)) return 1;
  const id2label = config.id2label;
  if (id2label && typeof id2label === 'object') return Object.keys(id2label).length;
  return typeof config.num_labels === 'number' ? config.num_labels : 2; // PretrainedConfig's default
}

/**
 * The activation Sentence Transformers would apply: `sentence_transformers.activation_fn`, then
 * the legacy `sbert_ce_default_activation_function`, then sigmoid for one label, identity otherwise.
 */
export function resolveActivation(config: ConfigJson, numLabels: number, source: string): Activation {
  const st = config.sentence_transformers as { activation_fn?: unknown } | undefined;
  const stored = st?.activation_fn ?? config.sbert_ce_default_activation_function;
  if (typeof stored === 'string') return activationFromClassPath(stored, source);
  return numLabels === 1 ? 'sigmoid' : 'identity';
}
