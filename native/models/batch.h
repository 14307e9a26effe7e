// Tokens to tensors: a padded batch is three row-major int32 arrays [batch, seq] (the JS
// Int32Arrays, read by napi/batch_args.h) and becomes tensors without copying: from_blob over
// that memory, which the caller keeps alive until the work is done.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "models/model_shape.h"

namespace tce {

struct BatchTensors {
  at::Tensor input_ids, token_type_ids, attention_mask;  // int32 [B, S]
};

struct TokenBatch {
  int32_t* input_ids = nullptr;
  int32_t* token_type_ids = nullptr;
  int32_t* attention_mask = nullptr;
  int64_t batch_size = 0;
  int64_t seq_length = 0;

  // Views over the arrays; checks ids against the model's table sizes.
  BatchTensors to_tensors(const ModelShape& shape) const;
};

}  // namespace tce
