// The subset of Hugging Face's BertConfig that shapes the model. lib/model/families/bert.ts reads
// config.json, fills Hugging Face's defaults (the one place they live) and validates; the native
// side requires every field and re-checks sizes, so that no config can make it allocate
// nonsense or index out of bounds.
#pragma once

#include <cstdint>
#include <string>

namespace tce {

struct BertConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  std::string hidden_act;
  double hidden_dropout_prob = 0;
  double attention_probs_dropout_prob = 0;
  double classifier_dropout = 0;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;
  double layer_norm_eps = 0;
  double initializer_range = 0;
  int64_t num_labels = 0;

  // Throws tce::Error(kInvalidArgument) naming the first bad field.
  void validate() const;
};

}  // namespace tce
