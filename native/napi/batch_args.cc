#include "napi/batch_args.h"

#include <string>

#include "runtime/errors.h"

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

}  // namespace

TokenBatch token_batch_from_object(const Napi::Object& o, std::vector<Napi::Value>& keep_alive) {
  const auto input_ids = o.Get("inputIds");
  const auto token_type_ids = o.Get("tokenTypeIds");
  const auto attention_mask = o.Get("attentionMask");
  TokenBatch batch;
  batch.batch_size = positive_int(o.Get("batchSize"), "batchSize");
  batch.seq_length = positive_int(o.Get("seqLength"), "seqLength");
  const auto n = static_cast<size_t>(batch.batch_size * batch.seq_length);
  batch.input_ids = int32_data(input_ids, "inputIds", n);
  batch.token_type_ids = int32_data(token_type_ids, "tokenTypeIds", n);
  batch.attention_mask = int32_data(attention_mask, "attentionMask", n);
  keep_alive.insert(keep_alive.end(), {input_ids, token_type_ids, attention_mask});
  return batch;
}

LabelledBatch labelled_batch_from_js(const Napi::Value& value, std::vector<Napi::Value>& keep_alive) {
  if (!value.IsObject()) throw ArgumentError("a training batch must be an object");
  const auto object = value.As<Napi::Object>();
  LabelledBatch batch{token_batch_from_object(object, keep_alive), nullptr};
  const auto labels = object.Get("labels");
  if (!labels.IsTypedArray() || labels.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
      labels.As<Napi::Float32Array>().ElementLength() != static_cast<size_t>(batch.tokens.batch_size)) {
    throw ArgumentError("batch.labels must be a Float32Array of batchSize values");
  }
  batch.labels = labels.As<Napi::Float32Array>().Data();
  keep_alive.push_back(labels);
  return batch;
}

}  // namespace tce
