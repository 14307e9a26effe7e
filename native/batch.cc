#include "batch.h"

#include <string>

#include "errors.h"

namespace tce {
namespace {

int32_t* int32_data(const Napi::Value& value, const char* name, size_t expected) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw ArgumentError(std::string(name) + " must be an Int32Array");
  }
  auto array = value.As<Napi::Int32Array>();
  if (array.ElementLength() != expected) {
    throw ArgumentError(std::string(name) + " has " + std::to_string(array.ElementLength()) +
                        " elements, expected batchSize * seqLength = " + std::to_string(expected));
  }
  return array.Data();
}

int64_t positive_int(const Napi::Value& value, const char* name) {
  if (!value.IsNumber()) throw ArgumentError(std::string(name) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 1 && number <= (1 << 24)) || number != static_cast<double>(static_cast<int64_t>(number))) {
    throw ArgumentError(std::string(name) + " must be a positive integer");
  }
  return static_cast<int64_t>(number);
}

void check_range(const at::Tensor& ids, int64_t limit, const char* what, const char* field) {
  const auto min = ids.min().item<int32_t>();
  const auto max = ids.max().item<int32_t>();
  if (min < 0 || max >= limit) {
    const std::string source = field ? std::string(" (config.") + field + ")" : "";
    throw ArgumentError(std::string(what) + " must be in [0, " + std::to_string(limit) + ")" + source +
                        ", got values in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
}

TokenBatch make_batch(const Napi::Value& input_ids, const Napi::Value& token_type_ids, const Napi::Value& attention_mask,
                      const Napi::Value& batch_size, const Napi::Value& seq_length, std::vector<Napi::Value>& keep_alive) {
  TokenBatch batch;
  batch.batch_size = positive_int(batch_size, "batchSize");
  batch.seq_length = positive_int(seq_length, "seqLength");
  const auto n = static_cast<size_t>(batch.batch_size * batch.seq_length);
  batch.input_ids = int32_data(input_ids, "inputIds", n);
  batch.token_type_ids = int32_data(token_type_ids, "tokenTypeIds", n);
  batch.attention_mask = int32_data(attention_mask, "attentionMask", n);
  keep_alive.insert(keep_alive.end(), {input_ids, token_type_ids, attention_mask});
  return batch;
}

}  // namespace

TokenBatch TokenBatch::FromJs(const Napi::CallbackInfo& info, size_t first, std::vector<Napi::Value>& keep_alive) {
  if (info.Length() < first + 5) {
    throw ArgumentError("expected (inputIds, tokenTypeIds, attentionMask, batchSize, seqLength)");
  }
  return make_batch(info[first], info[first + 1], info[first + 2], info[first + 3], info[first + 4], keep_alive);
}

TokenBatch TokenBatch::FromObject(const Napi::Object& o, std::vector<Napi::Value>& keep_alive) {
  return make_batch(o.Get("inputIds"), o.Get("tokenTypeIds"), o.Get("attentionMask"), o.Get("batchSize"),
                    o.Get("seqLength"), keep_alive);
}

BatchTensors TokenBatch::to_tensors(const BertConfig& config) const {
  if (seq_length > config.max_position_embeddings) {
    throw ArgumentError("sequence length " + std::to_string(seq_length) + " exceeds config.max_position_embeddings (" +
                        std::to_string(config.max_position_embeddings) + ")");
  }
  const auto options = at::TensorOptions().dtype(at::kInt);
  BatchTensors t{at::from_blob(input_ids, {batch_size, seq_length}, options),
                 at::from_blob(token_type_ids, {batch_size, seq_length}, options),
                 at::from_blob(attention_mask, {batch_size, seq_length}, options)};
  check_range(t.input_ids, config.vocab_size, "token ids", "vocab_size");
  check_range(t.token_type_ids, config.type_vocab_size, "token type ids", "type_vocab_size");
  check_range(t.attention_mask, 2, "attention mask values", nullptr);
  return t;
}

}  // namespace tce
