// Tokens to tensors: a padded batch arrives from JS as three row-major Int32Arrays
// [batch, seq] and becomes tensors without copying (from_blob over the JS memory, which the
// caller keeps alive until the work is done).
#pragma once

#include <cstdint>
#include <vector>

#include <napi.h>
#include <ATen/ATen.h>

#include "bert_config.h"

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

  // Reads (inputIds, tokenTypeIds, attentionMask, batchSize, seqLength) from info[first...];
  // appends the arrays to keep_alive. Throws ArgumentError on wrong types or lengths.
  static TokenBatch FromJs(const Napi::CallbackInfo& info, size_t first, std::vector<Napi::Value>& keep_alive);
  // The same from an object { inputIds, tokenTypeIds, attentionMask, batchSize, seqLength }.
  static TokenBatch FromObject(const Napi::Object& object, std::vector<Napi::Value>& keep_alive);

  // Views over the JS memory; checks ids against the config's table sizes.
  BatchTensors to_tensors(const BertConfig& config) const;
};

}  // namespace tce
