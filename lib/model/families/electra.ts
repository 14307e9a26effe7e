/**
 * ELECTRA (`model_type: electra`): embeddings of `embedding_size`, projected to the hidden size
 * when the two differ (`electra.embeddings_project`), BERT's encoder, no pooler, and a head like
 * RoBERTa's with gelu.
 */
import { ModelFormatError } from '../../errors.js';
import type { NativeModelConfig } from '../../native.js';
import type { ConfigJson } from '../config.js';
import type { ParameterCount } from '../model-size.js';

import { type BertStyleDefaults, bertLayerParameters, bertStyleConfig, configField, embeddingParameters } from './bert.js';
import type { ModelFamily } from './index.js';
import { classificationHeadParameters } from './roberta.js';

/** ElectraConfig's defaults (those of the small discriminator). */
const ELECTRA_DEFAULTS: BertStyleDefaults & { embedding_size: number } = {
  vocab_size: 30522,
  embedding_size: 128,
  hidden_size: 256,
  num_hidden_layers: 12,
  num_attention_heads: 4,
  intermediate_size: 1024,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
};

function electraNativeConfig(config: ConfigJson, numLabels: number, file: string): NativeModelConfig {
  const native = bertStyleConfig(config, 'electra', ELECTRA_DEFAULTS, numLabels, file);
  const embeddingSize = configField(config, 'embedding_size', ELECTRA_DEFAULTS.embedding_size, file);
  if (!Number.isInteger(embeddingSize) || embeddingSize < 1) {
    throw new ModelFormatError(`${file}: "embedding_size" must be a positive integer, got ${embeddingSize}`);
  }
  native.embedding_size = embeddingSize;
  return native;
}

function electraParameterCount(c: NativeModelConfig): ParameterCount {
  const [h, e] = [c.hidden_size as number, c.embedding_size as number];
  const project = e === h ? 0 : e * h + h;
  const layers = (c.num_hidden_layers as number) * bertLayerParameters(h, c.intermediate_size as number);
  const head = classificationHeadParameters(h, c.num_labels as number);
  return { total: embeddingParameters(c, e) + project + layers + head, head };
}

export const ELECTRA: ModelFamily = {
  architecture: 'ElectraForSequenceClassification',
  nativeConfig: electraNativeConfig,
  parameterCount: electraParameterCount,
  maxPositions: (c) => c.max_position_embeddings as number,
  headParameters: ['classifier.dense.weight', 'classifier.dense.bias', 'classifier.out_proj.weight', 'classifier.out_proj.bias'],
  // The discriminator's pre-training head, the generator's, and the position-id buffer.
  ignoredTensors: [/(^|\.)position_ids$/, /^discriminator_predictions\./, /^generator/],
};
