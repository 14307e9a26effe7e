/**
 * RoBERTa and XLM-RoBERTa (`model_type: roberta`, `xlm-roberta`): BERT's encoder with position
 * ids counted from the non-padding tokens, no pooler and a two-layer head
 * (`classifier.dense`, `classifier.out_proj`). The two configs differ only in their defaults.
 */
import type { NativeModelConfig } from '../../native.js';
import type { ConfigJson } from '../config.js';
import type { ParameterCount } from '../model-size.js';

import { type BertStyleDefaults, bertLayerParameters, bertStyleConfig, embeddingParameters } from './bert.js';
import type { ModelFamily } from './index.js';

/** RobertaConfig's defaults. */
const ROBERTA_DEFAULTS: BertStyleDefaults = {
  vocab_size: 50265,
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
  pad_token_id: 1,
};

/** XLMRobertaConfig's defaults: RoBERTa's, with BERT's vocabulary size. */
const XLM_ROBERTA_DEFAULTS: BertStyleDefaults = { ...ROBERTA_DEFAULTS, vocab_size: 30522 };

/** The head RobertaClassificationHead: dense H→H, then out_proj H→labels. */
export function classificationHeadParameters(hidden: number, labels: number): number {
  return hidden * hidden + hidden + labels * hidden + labels;
}

function robertaParameterCount(c: NativeModelConfig): ParameterCount {
  const h = c.hidden_size as number;
  const layers = (c.num_hidden_layers as number) * bertLayerParameters(h, c.intermediate_size as number);
  const head = classificationHeadParameters(h, c.num_labels as number);
  return { total: embeddingParameters(c, h) + layers + head, head };
}

function family(modelType: string, architecture: string, defaults: BertStyleDefaults): ModelFamily {
  return {
    architecture,
    nativeConfig: (config: ConfigJson, numLabels: number, file: string) => bertStyleConfig(config, modelType, defaults, numLabels, file),
    parameterCount: robertaParameterCount,
    // Positions start at pad_token_id + 1 (create_position_ids_from_input_ids).
    maxPositions: (c) => (c.max_position_embeddings as number) - (c.pad_token_id as number) - 1,
    headParameters: ['classifier.dense.weight', 'classifier.dense.bias', 'classifier.out_proj.weight', 'classifier.out_proj.bias'],
    // The masked-LM head and the pooler of base checkpoints, and the position-id buffer.
    ignoredTensors: [/(^|\.)position_ids$/, /^lm_head\./, /^(roberta\.)?pooler\./],
  };
}

export const ROBERTA = family('roberta', 'RobertaForSequenceClassification', ROBERTA_DEFAULTS);
export const XLM_ROBERTA = family('xlm-roberta', 'XLMRobertaForSequenceClassification', XLM_ROBERTA_DEFAULTS);
