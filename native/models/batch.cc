#include "models/batch.h"

#include <string>

#include <ATen/ATen.h>

#include "runtime/errors.h"

namespace tce {
namespace {

void check_range(const at::Tensor& ids, int64_t limit, const char* what, const char* field) {
  const auto min = ids.min().item<int32_t>();
  const auto max = ids.max().item<int32_t>();
  if (min < 0 || max >= limit) {
    const std::string source = field ? std::string(" (config.") + field + ")" : "";
    throw ArgumentError(std::string(what) + " must be in [0, " + std::to_string(limit) + ")" + source +
                        ", got values in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
}

}  // namespace

BatchTensors TokenBatch::to_tensors(const ModelShape& shape) const {
  if (seq_length > shape.max_sequence_length) {
    throw ArgumentError("sequence length " + std::to_string(seq_length) + " exceeds the " +
                        std::to_string(shape.max_sequence_length) + " tokens the model's position embeddings allow");
  }
  const auto options = at::TensorOptions().dtype(at::kInt);
  BatchTensors t{at::from_blob(input_ids, {batch_size, seq_length}, options),
                 at::from_blob(token_type_ids, {batch_size, seq_length}, options),
                 at::from_blob(attention_mask, {batch_size, seq_length}, options)};
  check_range(t.input_ids, shape.vocab_size, "token ids", "vocab_size");
  if (shape.type_vocab_size > 0) check_range(t.token_type_ids, shape.type_vocab_size, "token type ids", "type_vocab_size");
  check_range(t.attention_mask, 2, "attention mask values", nullptr);
  return t;
}

}  // namespace tce
