/**
 * The BERT family (`model_type: bert`): what Hugging Face's BertConfig reads from config.json
 * (absent fields take its defaults) and the checks the native BertForSequenceClassification
 * relies on.
 */
import { ModelFormatError } from '../../errors.js';
import type { NativeBertConfig } from '../../native.js';
import type { ConfigJson } from '../config.js';
import type { ParameterCount } from '../model-size.js';

/** The `hidden_act` values of Hugging Face's ACT2FN that the native model implements. */
export const SUPPORTED_HIDDEN_ACTS: readonly string[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu', 'silu', 'swish'];

/** BertConfig's defaults, for fields a config.json leaves out. */
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

function field<T extends string | number>(config: ConfigJson, key: string, fallback: T, file: string): T {
  const value = config[key] ?? fallback;
  if (typeof value !== typeof fallback || (typeof value === 'number' && !Number.isFinite(value))) {
    throw new ModelFormatError(`${file}: "${key}" must be a ${typeof fallback}, got ${JSON.stringify(config[key])}`);
  }
  return value as T;
}

/** Validates a BERT config.json and returns the fields the native model needs. */
export function bertNativeConfig(config: ConfigJson, numLabels: number, file: string): NativeBertConfig {
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

/** BertForSequenceClassification's parameters: embeddings, layers, pooler, then the head. */
export function bertParameterCount(c: NativeBertConfig): ParameterCount {
  const { hidden_size: h, intermediate_size: i } = c;
  const layerNorm = 2 * h;
  const embeddings = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * h + layerNorm;
  const attention = 4 * (h * h + h) + layerNorm;
  const feedForward = h * i + i + i * h + h + layerNorm;
  const pooler = h * h + h;
  const head = c.num_labels * (h + 1);
  return { total: embeddings + c.num_hidden_layers * (attention + feedForward) + pooler + head, head };
}
