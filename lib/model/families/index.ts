/**
 * The model families, by config.json `model_type`: the one registry a new family is added to on
 * the JS side (a file beside this one, and a line below); native/models/registry.cc is the
 * native side's, under the same names.
 */
import { ModelFormatError } from '../../errors.js';
import type { NativeModelConfig } from '../../native.js';
import type { ConfigJson } from '../config.js';
import type { ParameterCount } from '../model-size.js';

import { BERT } from './bert.js';
import { ELECTRA } from './electra.js';
import { MODERNBERT } from './modernbert.js';
import { ROBERTA, XLM_ROBERTA } from './roberta.js';

/** What the package needs of a family, apart from its native model. */
export interface ModelFamily {
  /** transformers' sequence-classification class (config.json `architectures`). */
  readonly architecture: string;
  /** Validates `config` (read from `file`), fills the family's defaults and returns what the native model takes. */
  nativeConfig(config: ConfigJson, numLabels: number, file: string): NativeModelConfig;
  /** The native model's parameters, counted without building it (to check its size first). */
  parameterCount(config: NativeModelConfig): ParameterCount;
  /** Tokens per pair the position embeddings allow. */
  maxPositions(config: NativeModelConfig): number;
  /** The classification head's parameters: a bare encoder's checkpoint lacks them, and they are drawn afresh. */
  readonly headParameters: readonly string[];
  /** Checkpoint tensors transformers also skips when loading the sequence classifier (pre-training heads, buffers). */
  readonly ignoredTensors: readonly RegExp[];
}

const FAMILIES: Readonly<Record<string, ModelFamily>> = {
  bert: BERT,
  electra: ELECTRA,
  modernbert: MODERNBERT,
  roberta: ROBERTA,
  'xlm-roberta': XLM_ROBERTA,
};

/** The `model_type` values this package can run. */
export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);

/**
 * The family of a config.json (read from `file`); a config without `model_type` is taken for
 * BERT, as the first checkpoints of the format were.
 * @throws ModelFormatError naming the supported types when `model_type` is not one of them.
 */
export function modelFamily(config: ConfigJson, file: string): ModelFamily {
  const family = Object.hasOwn(FAMILIES, modelTypeOf(config)) ? FAMILIES[modelTypeOf(config)] : undefined;
  if (!family) {
    throw new ModelFormatError(`${file}: model_type '${String(config.model_type)}' is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  return family;
}

/** config.json's `model_type`, BERT when absent. */
export function modelTypeOf(config: ConfigJson): string {
  const modelType = config.model_type ?? 'bert';
  return typeof modelType === 'string' ? modelType : String(modelType);
}
