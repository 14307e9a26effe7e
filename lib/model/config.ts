/**
 * A model directory's config.json, read as Hugging Face's BertConfig reads it: absent fields
 * take Hugging Face's defaults, then everything the native model relies on is validated here.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { type Activation, activationFromClassPath } from './activation.js';
import { InvalidArgumentError, ModelFormatError } from '../errors.js';
import type { NativeBertConfig } from '../native.js';
import { MODEL_FILE } from './model-files.js';

/** The `model_type` values this package can run. */
export const SUPPORTED_MODEL_TYPES = ['bert'] as const;

/** The `hidden_act` values of Hugging Face's ACT2FN that the native model implements. */
export const SUPPORTED_HIDDEN_ACTS: readonly string[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu', 'silu', 'swish'];

/** A config.json object; unknown fields are kept so a saved model round-trips them. */
export type ConfigJson = Record<string, unknown>;

const BERT_DEFAULTS = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
} as const;

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

function field<T extends string | number>(config: ConfigJson, key: string, fallback: T, file: string): T {
  const value = config[key] ?? fallback;
  if (typeof value !== typeof fallback || (typeof value === 'number' && !Number.isFinite(value))) {
    throw new ModelFormatError(`${file}: "${key}" must be a ${typeof fallback}, got ${JSON.stringify(config[key])}`);
  }
  return value as T;
}

/** Validates a BERT config.json and returns the fields the native model needs. */
export function toNativeConfig(config: ConfigJson, numLabels: number, file: string): NativeBertConfig {
  const modelType = config.model_type;
  if (modelType !== undefined && !(SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(modelType)) {
    throw new ModelFormatError(
      `${file}: model_type '${String(modelType)}' is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`,
    );
  }
  const positionType = config.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') {
    throw new ModelFormatError(`${file}: position_embedding_type '${String(positionType)}' is not supported; supported: absolute`);
  }
  if (config.is_decoder === true || config.add_cross_attention === true) {
    throw new ModelFormatError(`${file}: decoder / cross-attention BERT configurations are not supported`);
  }
  const integers = [
    'vocab_size',
    'hidden_size',
    'num_hidden_layers',
    'num_attention_heads',
    'intermediate_size',
    'max_position_embeddings',
    'type_vocab_size',
  ] as const;
  const native = {} as NativeBertConfig;
  for (const key of integers) {
    const value = field(config, key, BERT_DEFAULTS[key], file);
    if (!Number.isInteger(value) || value < 1) throw new ModelFormatError(`${file}: "${key}" must be a positive integer, got ${value}`);
    native[key] = value;
  }
  if (native.hidden_size % native.num_attention_heads !== 0) {
    throw new ModelFormatError(
      `${file}: hidden_size (${native.hidden_size}) must be a multiple of num_attention_heads (${native.num_attention_heads})`,
    );
  }
  native.hidden_act = field(config, 'hidden_act', BERT_DEFAULTS.hidden_act, file);
  if (!SUPPORTED_HIDDEN_ACTS.includes(native.hidden_act)) {
    throw new ModelFormatError(`${file}: hidden_act '${native.hidden_act}' is not supported; supported: ${SUPPORTED_HIDDEN_ACTS.join(', ')}`);
  }
  native.hidden_dropout_prob = field(config, 'hidden_dropout_prob', BERT_DEFAULTS.hidden_dropout_prob, file);
  native.attention_probs_dropout_prob = field(
    config,
    'attention_probs_dropout_prob',
    BERT_DEFAULTS.attention_probs_dropout_prob,
    file,
  );
  native.classifier_dropout = field(config, 'classifier_dropout', native.hidden_dropout_prob, file);
  native.layer_norm_eps = field(config, 'layer_norm_eps', BERT_DEFAULTS.layer_norm_eps, file);
  native.initializer_range = field(config, 'initializer_range', BERT_DEFAULTS.initializer_range, file);
  native.num_labels = numLabels;
  return native;
}
