/**
 * The BERT family (`model_type: bert`): what Hugging Face's BertConfig reads from config.json
 * (absent fields take its defaults), and the BERT-style encoder fields RoBERTa, XLM-R and ELECTRA
 * share with it.
 */
import { ModelFormatError } from '../../errors.js';
import type { NativeModelConfig } from '../../native.js';
import type { ConfigJson } from '../config.js';
import type { ParameterCount } from '../model-size.js';

import type { ModelFamily } from './index.js';

/** The `hidden_act` values of Hugging Face's ACT2FN that the native encoders implement. */
export const SUPPORTED_HIDDEN_ACTS: readonly string[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu', 'silu', 'swish'];

/** The fields of a BERT-style config the native model reads, with a family's defaults. */
export interface BertStyleDefaults {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
}

/** BertConfig's defaults, for fields a config.json leaves out. */
const BERT_DEFAULTS: BertStyleDefaults = {
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
  pad_token_id: 0,
};

const INTEGER_FIELDS = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
  'max_position_embeddings',
  'type_vocab_size',
] as const;

/** `config[key]`, or `fallback` when absent; a value of another type is a ModelFormatError. */
export function configField<T extends string | number>(config: ConfigJson, key: string, fallback: T, file: string): T {
  const value = config[key] ?? fallback;
  if (typeof value !== typeof fallback || (typeof value === 'number' && !Number.isFinite(value))) {
    throw new ModelFormatError(`${file}: "${key}" must be a ${typeof fallback}, got ${JSON.stringify(config[key])}`);
  }
  return value as T;
}

/**
 * Validates the BERT-style encoder fields of `config` (absent ones take `defaults`) and returns
 * them as the native model takes them, with `model_type` and `num_labels`.
 */
export function bertStyleConfig(config: ConfigJson, modelType: string, defaults: BertStyleDefaults, numLabels: number, file: string): NativeModelConfig {
  const positionType = config.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') {
    throw new ModelFormatError(`${file}: position_embedding_type '${String(positionType)}' is not supported; supported: absolute`);
  }
  if (config.is_decoder === true || config.add_cross_attention === true) {
    throw new ModelFormatError(`${file}: decoder / cross-attention configurations are not supported`);
  }
  const native: NativeModelConfig = { model_type: modelType, num_labels: numLabels };
  for (const key of INTEGER_FIELDS) {
    const value = configField(config, key, defaults[key], file);
    if (!Number.isInteger(value) || value < 1) throw new ModelFormatError(`${file}: "${key}" must be a positive integer, got ${value}`);
    native[key] = value;
  }
  const [hidden, heads] = [native.hidden_size as number, native.num_attention_heads as number];
  if (hidden % heads !== 0) {
    throw new ModelFormatError(`${file}: hidden_size (${hidden}) must be a multiple of num_attention_heads (${heads})`);
  }
  const pad = configField(config, 'pad_token_id', defaults.pad_token_id, file);
  if (!Number.isInteger(pad) || pad < 0 || pad >= (native.vocab_size as number)) {
    throw new ModelFormatError(`${file}: "pad_token_id" must be an integer in [0, vocab_size), got ${pad}`);
  }
  native.pad_token_id = pad;
  const act = configField(config, 'hidden_act', defaults.hidden_act, file);
  if (!SUPPORTED_HIDDEN_ACTS.includes(act)) {
    throw new ModelFormatError(`${file}: hidden_act '${act}' is not supported; supported: ${SUPPORTED_HIDDEN_ACTS.join(', ')}`);
  }
  native.hidden_act = act;
  native.hidden_dropout_prob = configField(config, 'hidden_dropout_prob', defaults.hidden_dropout_prob, file);
  native.attention_probs_dropout_prob = configField(config, 'attention_probs_dropout_prob', defaults.attention_probs_dropout_prob, file);
  native.classifier_dropout = configField(config, 'classifier_dropout', native.hidden_dropout_prob, file);
  native.layer_norm_eps = configField(config, 'layer_norm_eps', defaults.layer_norm_eps, file);
  native.initializer_range = configField(config, 'initializer_range', defaults.initializer_range, file);
  return native;
}

/** One BERT-style encoder layer's parameters: attention (q, k, v, output, LayerNorm) and feed-forward. */
export function bertLayerParameters(hidden: number, intermediate: number): number {
  const layerNorm = 2 * hidden;
  return 4 * (hidden * hidden + hidden) + layerNorm + (hidden * intermediate + intermediate) + (intermediate * hidden + hidden) + layerNorm;
}

/** Word, position and token-type embeddings of width `width` and their LayerNorm. */
export function embeddingParameters(c: NativeModelConfig, width: number): number {
  return ((c.vocab_size as number) + (c.max_position_embeddings as number) + (c.type_vocab_size as number)) * width + 2 * width;
}

/** Validates a BERT config.json and returns the fields the native model needs. */
export function bertNativeConfig(config: ConfigJson, numLabels: number, file: string): NativeModelConfig {
  return bertStyleConfig(config, 'bert', BERT_DEFAULTS, numLabels, file);
}

/** BertForSequenceClassification's parameters: embeddings, layers, pooler, then the head. */
export function bertParameterCount(c: NativeModelConfig): ParameterCount {
  const [h, labels] = [c.hidden_size as number, c.num_labels as number];
  const layers = (c.num_hidden_layers as number) * bertLayerParameters(h, c.intermediate_size as number);
  const head = labels * (h + 1);
  return { total: embeddingParameters(c, h) + layers + (h * h + h) + head, head };
}

export const BERT: ModelFamily = {
  architecture: 'BertForSequenceClassification',
  nativeConfig: bertNativeConfig,
  parameterCount: bertParameterCount,
  maxPositions: (c) => c.max_position_embeddings as number,
  headParameters: ['classifier.weight', 'classifier.bias'],
  // The position-id buffer older versions saved, and the pre-training heads of base checkpoints.
  ignoredTensors: [/(^|\.)position_ids$/, /^cls\./],
};
