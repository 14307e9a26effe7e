// What the code around a model needs to know of it without knowing its family: the sizes token
// batches are checked against and the name prefix of its base encoder.
#pragma once

#include <cstdint>
#include <string>

namespace tce {

struct ModelShape {
  int64_t num_labels = 0;
  int64_t vocab_size = 0;
  int64_t type_vocab_size = 0;  // 0: the model has no token types and ignores them
  int64_t max_sequence_length = 0;  // tokens per row the position embeddings allow
  // The base model's attribute ("bert", "roberta"): a bare-encoder checkpoint's names lack it,
  // and loading adds it, as transformers does with base_model_prefix.
  std::string base_model_prefix;
};

}  // namespace tce
