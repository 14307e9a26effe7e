// The subset of Hugging Face's BertConfig that shapes the model. lib/model/config.ts reads
// config.json, fills Hugging Face's defaults and validates; the native side re-checks sizes
// so that no config can make it allocate nonsense or index out of bounds.
#pragma once

#include <cstdint>
#include <string>

namespace tce {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double classifier_dropout = 0.1;  // Hugging Face: classifier_dropout, else hidden_dropout_prob
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  double initializer_range = 0.02;
  int64_t num_labels = 1;

  // Throws tce::Error(kInvalidArgument) naming the first bad field.
  void validate() const;
};

}  // namespace tce
