/**
 * ModernBERT (`model_type: modernbert`): pre-norm layers with rotary embeddings, sliding-window
 * attention on all but every `global_attn_every_n_layers`-th layer, a GeGLU MLP, and a head
 * (dense → act → norm) over the `cls` token or the `mean` of the tokens. Reads both config
 * formats on the hub: `global_rope_theta` / `local_rope_theta` (ModernBERT's own), and
 * `rope_parameters` / `layer_types` (what transformers ≥ 5 writes).
 */
import { ModelFormatError } from '../../errors.js';
import type { NativeModelConfig } from '../../native.js';
import type { ConfigJson } from '../config.js';
import type { ParameterCount } from '../model-size.js';

import { configField, SUPPORTED_HIDDEN_ACTS } from './bert.js';
import type { ModelFamily } from './index.js';

/** ModernBertConfig's defaults. */
const DEFAULTS = {
  vocab_size: 50368,
  hidden_size: 768,
  intermediate_size: 1152,
  num_hidden_layers: 22,
  num_attention_heads: 12,
  hidden_activation: 'gelu',
  max_position_embeddings: 8192,
  initializer_range: 0.02,
  initializer_cutoff_factor: 2.0,
  norm_eps: 1e-5,
  norm_bias: false,
  pad_token_id: 50283,
  global_rope_theta: 160000.0,
  local_rope_theta: 10000.0,
  attention_bias: false,
  attention_dropout: 0.0,
  global_attn_every_n_layers: 3,
  local_attention: 128,
  embedding_dropout: 0.0,
  mlp_bias: false,
  mlp_dropout: 0.0,
  classifier_pooling: 'cls',
  classifier_dropout: 0.0,
  classifier_bias: false,
  classifier_activation: 'gelu',
} as const;

const POSITIVE_INTEGERS = [
  'vocab_size',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'max_position_embeddings',
  'global_attn_every_n_layers',
] as const;
const NUMBERS = ['initializer_range', 'initializer_cutoff_factor', 'norm_eps', 'attention_dropout', 'embedding_dropout', 'mlp_dropout', 'classifier_dropout'] as const;
const BOOLEANS = ['norm_bias', 'attention_bias', 'mlp_bias', 'classifier_bias'] as const;

function booleanField(config: ConfigJson, key: (typeof BOOLEANS)[number], file: string): boolean {
  const value = config[key] ?? DEFAULTS[key];
  if (typeof value !== 'boolean') throw new ModelFormatError(`${file}: "${key}" must be a boolean, got ${JSON.stringify(config[key])}`);
  return value;
}

/** A rope_theta from `rope_parameters[kind]` (transformers ≥ 5), else the flat field, else the default. */
function ropeTheta(config: ConfigJson, kind: 'full_attention' | 'sliding_attention', flat: 'global_rope_theta' | 'local_rope_theta', file: string): number {
  const parameters = config.rope_parameters as Record<string, { rope_theta?: unknown; rope_type?: unknown } | null> | undefined;
  const nested = parameters?.[kind];
  if (nested?.rope_type !== undefined && nested.rope_type !== 'default') {
    throw new ModelFormatError(`${file}: rope_parameters.${kind}.rope_type '${String(nested.rope_type)}' is not supported; supported: default`);
  }
  const theta = nested?.rope_theta ?? config[flat] ?? DEFAULTS[flat];
  if (typeof theta !== 'number' || !(theta > 0)) throw new ModelFormatError(`${file}: the ${kind} rope_theta must be a positive number, got ${JSON.stringify(theta)}`);
  return theta;
}

function modernBertNativeConfig(config: ConfigJson, numLabels: number, file: string): NativeModelConfig {
  const native: NativeModelConfig = { model_type: 'modernbert', num_labels: numLabels };
  for (const key of POSITIVE_INTEGERS) {
    const value = configField(config, key, DEFAULTS[key], file);
    if (!Number.isInteger(value) || value < 1) throw new ModelFormatError(`${file}: "${key}" must be a positive integer, got ${value}`);
    native[key] = value;
  }
  const [hidden, heads] = [native.hidden_size as number, native.num_attention_heads as number];
  if (hidden % heads !== 0 || (hidden / heads) % 2 !== 0) {
    throw new ModelFormatError(`${file}: hidden_size (${hidden}) must be num_attention_heads (${heads}) times an even head size`);
  }
  for (const key of NUMBERS) native[key] = configField(config, key, DEFAULTS[key], file);
  for (const key of BOOLEANS) native[key] = booleanField(config, key, file);
  const localAttention = configField(config, 'local_attention', DEFAULTS.local_attention, file);
  if (!Number.isInteger(localAttention) || localAttention < 0) throw new ModelFormatError(`${file}: "local_attention" must be an integer ≥ 0, got ${localAttention}`);
  native.local_attention = localAttention;
  const pad = configField(config, 'pad_token_id', DEFAULTS.pad_token_id, file);
  if (!Number.isInteger(pad) || pad < 0 || pad >= (native.vocab_size as number)) {
    throw new ModelFormatError(`${file}: "pad_token_id" must be an integer in [0, vocab_size), got ${pad}`);
  }
  native.pad_token_id = pad;
  for (const key of ['hidden_activation', 'classifier_activation'] as const) {
    const act = configField(config, key, DEFAULTS[key], file);
    if (!SUPPORTED_HIDDEN_ACTS.includes(act)) throw new ModelFormatError(`${file}: ${key} '${act}' is not supported; supported: ${SUPPORTED_HIDDEN_ACTS.join(', ')}`);
    native[key] = act;
  }
  const pooling = configField(config, 'classifier_pooling', DEFAULTS.classifier_pooling, file);
  if (pooling !== 'cls' && pooling !== 'mean') throw new ModelFormatError(`${file}: classifier_pooling must be 'cls' or 'mean', got '${pooling}'`);
  native.classifier_pooling = pooling;
  native.global_rope_theta = ropeTheta(config, 'full_attention', 'global_rope_theta', file);
  native.local_rope_theta = ropeTheta(config, 'sliding_attention', 'local_rope_theta', file);
  checkLayerTypes(config, native, file);
  return native;
}

/** `layer_types` (transformers ≥ 5), when given, must be the pattern global_attn_every_n_layers makes. */
function checkLayerTypes(config: ConfigJson, native: NativeModelConfig, file: string): void {
  if (config.layer_types === undefined || config.layer_types === null) return;
  const every = native.global_attn_every_n_layers as number;
  const expected = Array.from({ length: native.num_hidden_layers as number }, (_, i) => (i % every ? 'sliding_attention' : 'full_attention'));
  if (JSON.stringify(config.layer_types) !== JSON.stringify(expected)) {
    throw new ModelFormatError(`${file}: layer_types must be full attention on every ${every}-th layer from 0 and sliding attention elsewhere (other patterns are not supported)`);
  }
}

function modernBertParameterCount(c: NativeModelConfig): ParameterCount {
  const [h, i, labels] = [c.hidden_size as number, c.intermediate_size as number, c.num_labels as number];
  const norm = h + (c.norm_bias ? h : 0);
  const attention = 3 * h * h + h * h + (c.attention_bias ? 4 * h : 0);
  const mlp = h * 2 * i + i * h + (c.mlp_bias ? 2 * i + h : 0);
  const layers = (c.num_hidden_layers as number) * (attention + mlp + 2 * norm) - norm; // layer 0 has no attn_norm
  const embeddings = (c.vocab_size as number) * h + norm;
  const head = h * h + (c.classifier_bias ? h : 0) + norm;
  const classifier = labels * h + labels;
  return { total: embeddings + layers + norm + head + classifier, head: head + classifier };
}

export const MODERNBERT: ModelFamily = {
  architecture: 'ModernBertForSequenceClassification',
  nativeConfig: modernBertNativeConfig,
  parameterCount: modernBertParameterCount,
  maxPositions: (c) => c.max_position_embeddings as number,
  // A masked-LM checkpoint has the prediction head (and a decoder); a bare ModernBertModel has neither.
  headParameters: ['head.dense.weight', 'head.dense.bias', 'head.norm.weight', 'head.norm.bias', 'classifier.weight', 'classifier.bias'],
  // The masked-LM decoder of base checkpoints.
  ignoredTensors: [/^decoder\./],
};
