/**
 * How big a model config.json may ask for, checked before the native model allocates anything:
 * a 2 KB config.json can otherwise request gigabytes (`hidden_size: 65536`, 1024 layers).
 */
import { stat } from 'node:fs/promises';

import { InvalidArgumentError, ModelFormatError } from '../errors.js';

/** Default of `maxModelBytes`: 8 GiB of float32 weights, above every reranker of the supported families. */
export const DEFAULT_MAX_MODEL_BYTES = 8 * 2 ** 30;

/** A model's parameters as a family counts them from its config. */
export interface ParameterCount {
  /** Every parameter of the native model. */
  total: number;
  /** Those a checkpoint may lack (a fresh classification head). */
  head: number;
}

// The smallest floating dtypes a weights file may hold (F16, BF16): 2 bytes a parameter.
const MIN_BYTES_PER_STORED_PARAMETER = 2;

const gigabytes = (bytes: number): string => `${(bytes / 1e9).toFixed(bytes < 1e9 ? 3 : 1)} GB`;

/** Checks a `maxModelBytes` option. @throws InvalidArgumentError when it is not a positive number. */
export function resolveMaxModelBytes(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_MODEL_BYTES;
  if (typeof value !== 'number' || !(value > 0)) throw new InvalidArgumentError(`maxModelBytes must be a positive number of bytes, got ${String(value)}`);
  return value;
}

/**
 * Refuses a model whose float32 weights exceed `maxModelBytes`, or, with a weights file, one the
 * file is too small to hold: every parameter but the head must come from it, at 2 bytes or more.
 * @throws ModelFormatError naming config.json, the sizes and the limit.
 */
export async function checkModelSize(count: ParameterCount, configFile: string, maxModelBytes: number, weightsFile?: string): Promise<void> {
  const bytes = count.total * 4;
  if (bytes > maxModelBytes) {
    throw new ModelFormatError(
      `${configFile} asks for a model of ${count.total.toLocaleString('en-US')} parameters (${gigabytes(bytes)} as float32), ` +
        `over the maxModelBytes limit of ${gigabytes(maxModelBytes)}; pass a larger maxModelBytes if it is meant`,
    );
  }
  if (weightsFile === undefined) return;
  const fileBytes = (await stat(weightsFile)).size;
  const stored = count.total - count.head;
  if (stored * MIN_BYTES_PER_STORED_PARAMETER > fileBytes) {
    throw new ModelFormatError(
      `${configFile} asks for ${stored.toLocaleString('en-US')} parameters besides the head, but ${weightsFile} ` +
        `(${fileBytes.toLocaleString('en-US')} bytes) can hold at most ${Math.floor(fileBytes / MIN_BYTES_PER_STORED_PARAMETER).toLocaleString('en-US')} ` +
        `even as float16: config.json and the weights do not belong together`,
    );
  }
}
