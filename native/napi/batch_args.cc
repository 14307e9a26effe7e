#include "napi/batch_args.h"

#include <cmath>
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

namespace {

const int32_t* int32_array(const Napi::Value& value, const std::string& name, std::vector<Napi::Value>& keep_alive) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw ArgumentError(name + " must be an Int32Array");
  }
  keep_alive.push_back(value);
  return value.As<Napi::Int32Array>().Data();
}

size_t int32_length(const Napi::Value& value) { return value.As<Napi::Int32Array>().ElementLength(); }

}  // namespace

LossBatch labelled_batch_from_js(const Napi::Value& value, std::vector<Napi::Value>& keep_alive) {
  if (!value.IsObject()) throw ArgumentError("a training batch must be an object");
  const auto object = value.As<Napi::Object>();
  LossBatch batch;
  const auto chunks = object.Get("chunks");
  if (chunks.IsUndefined()) {
    // One token batch with one label per row (the pointwise losses' shape).
    batch.chunks.push_back(token_batch_from_object(object, keep_alive));
    batch.rows = batch.chunks[0].batch_size;
  } else {
    if (!chunks.IsArray()) throw ArgumentError("batch.chunks must be an array of token batches");
    const auto array = chunks.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      const auto chunk = array.Get(i);
      if (!chunk.IsObject()) throw ArgumentError("batch.chunks[" + std::to_string(i) + "] must be a token batch");
      batch.chunks.push_back(token_batch_from_object(chunk.As<Napi::Object>(), keep_alive));
    }
    batch.rows = positive_int(object.Get("rows"), "batch.rows");
  }
  const auto labels = object.Get("labels");
  if (!labels.IsUndefined()) {
    if (!labels.IsTypedArray() || labels.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw ArgumentError("batch.labels must be a Float32Array");
    }
    batch.labels = labels.As<Napi::Float32Array>().Data();
    batch.label_count = static_cast<int64_t>(labels.As<Napi::Float32Array>().ElementLength());
    keep_alive.push_back(labels);
  }
  const auto loss_index = object.Get("lossIndex");
  if (!loss_index.IsUndefined()) {
    const double index = loss_index.IsNumber() ? loss_index.As<Napi::Number>().DoubleValue() : -1;
    if (!(index >= 0 && index < 1e6) || index != std::floor(index)) throw ArgumentError("batch.lossIndex must be a non-negative integer");
    batch.loss_index = static_cast<int64_t>(index);
  }
  const auto label_columns = object.Get("labelColumns");
  batch.label_columns = label_columns.IsUndefined() ? 1 : positive_int(label_columns, "batch.labelColumns");
  const auto groups = object.Get("groupSizes");
  int64_t pairs = 0;
  if (!groups.IsUndefined()) {
    const auto* sizes = int32_array(groups, "batch.groupSizes", keep_alive);
    for (size_t i = 0; i < int32_length(groups); ++i) {
      if (sizes[i] < 1) throw ArgumentError("batch.groupSizes must be positive");
      batch.group_sizes.push_back(sizes[i]);
      pairs += sizes[i];
    }
    int64_t chunked = 0;
    for (const auto& chunk : batch.chunks) chunked += chunk.batch_size;
    if (chunked != pairs || batch.label_count != pairs) {
      throw ArgumentError("batch.groupSizes add up to " + std::to_string(pairs) + " pairs, but the chunks hold " +
                          std::to_string(chunked) + " and labels " + std::to_string(batch.label_count));
    }
  } else if (batch.labels != nullptr && batch.label_count != batch.rows * batch.label_columns) {
    throw ArgumentError("batch.labels must hold rows * labelColumns values");
  }
  const auto candidates = object.Get("candidates");
  if (!candidates.IsUndefined()) {
    if (!candidates.IsObject()) throw ArgumentError("batch.candidates must be an object");
    const auto c = candidates.As<Napi::Object>();
    const auto offsets_value = c.Get("offsets");
    auto& ragged = batch.candidates;
    ragged.offsets = int32_array(offsets_value, "batch.candidates.offsets", keep_alive);
    ragged.input_ids = int32_array(c.Get("inputIds"), "batch.candidates.inputIds", keep_alive);
    ragged.token_type_ids = int32_array(c.Get("tokenTypeIds"), "batch.candidates.tokenTypeIds", keep_alive);
    const auto count = int32_length(offsets_value);
    if (count < 2) throw ArgumentError("batch.candidates.offsets must hold at least two values");
    ragged.count = static_cast<int64_t>(count) - 1;
    const auto total = int32_length(c.Get("inputIds"));
    if (int32_length(c.Get("tokenTypeIds")) != total || ragged.offsets[0] != 0 ||
        static_cast<size_t>(ragged.offsets[ragged.count]) != total) {
      throw ArgumentError("batch.candidates: offsets must run from 0 to the length of inputIds and tokenTypeIds");
    }
    for (int64_t i = 0; i < ragged.count; ++i) {
      if (ragged.offsets[i + 1] <= ragged.offsets[i]) throw ArgumentError("batch.candidates.offsets must increase");
    }
    batch.columns = positive_int(object.Get("columns"), "batch.columns");
    const auto pad = object.Get("padTokenId");
    if (!pad.IsNumber()) throw ArgumentError("batch.padTokenId must be a number");
    batch.pad_token_id = pad.As<Napi::Number>().Int32Value();
  }
  return batch;
}

}  // namespace tce
