/**
 * The model families, by config.json `model_type`: the one registry a new family is added to
 * (a file beside this one, and a line below).
 */
import { ModelFormatError } from '../../errors.js';
import type { NativeBertConfig } from '../../native.js';
import type { ConfigJson } from '../config.js';
import type { ParameterCount } from '../model-size.js';

import { bertNativeConfig, bertParameterCount } from './bert.js';

/** What the package needs of a family: the validated config its native model is built from. */
export interface ModelFamily {
  /** Validates `config` (read from `file`) and returns what the native model takes. */
  nativeConfig(config: ConfigJson, numLabels: number, file: string): NativeBertConfig;
  /** The native model's parameters, counted without building it (to check its size first). */
  parameterCount(config: NativeBertConfig): ParameterCount;
}

const FAMILIES: Readonly<Record<string, ModelFamily>> = {
  bert: { nativeConfig: bertNativeConfig, parameterCount: bertParameterCount },
};

/** The `model_type` values this package can run. */
export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);

/**
 * The family of a config.json (read from `file`); a config without `model_type` is taken for
 * BERT, as the first checkpoints of the format were.
 * @throws ModelFormatError naming the supported types when `model_type` is not one of them.
 */
export function modelFamily(config: ConfigJson, file: string): ModelFamily {
  const modelType = config.model_type ?? 'bert';
  const family = typeof modelType === 'string' && Object.hasOwn(FAMILIES, modelType) ? FAMILIES[modelType] : undefined;
  if (!family) {
    throw new ModelFormatError(`${file}: model_type '${String(modelType)}' is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  return family;
}
