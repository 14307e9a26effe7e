#include "training/losses/common.h"

#include <algorithm>

#include "runtime/errors.h"

namespace tce {

std::optional<double> LossOptions::number(const std::string& key) const {
  const auto found = numbers.find(key);
  if (found == numbers.end()) return std::nullopt;
  return found->second;
}

double LossOptions::number_or(const std::string& key, double fallback) const {
  return number(key).value_or(fallback);
}

std::string LossOptions::string_or(const std::string& key, const std::string& fallback) const {
  const auto found = strings.find(key);
  return found == strings.end() ? fallback : found->second;
}

void check_activation(const std::string& loss, const std::string& name) {
  if (name != "identity" && name != "sigmoid" && name != "tanh") {
    throw ArgumentError(loss + ": unknown activationFn '" + name + "'; supported: identity, sigmoid, tanh");
  }
}

at::Tensor activate(const std::string& name, const at::Tensor& x) {
  if (name == "sigmoid") return at::sigmoid(x);
  if (name == "tanh") return at::tanh(x);
  return x;
}

at::Tensor forward_chunks(const LossBatch& batch, const Forward& forward) {
  if (batch.chunks.empty()) throw ArgumentError("this loss needs its pairs in batch.chunks");
  std::vector<at::Tensor> logits;
  logits.reserve(batch.chunks.size());
  for (const auto& chunk : batch.chunks) logits.push_back(forward(chunk));
  return logits.size() == 1 ? logits[0] : at::cat(logits, 0);
}

at::Tensor labels_of(const LossBatch& batch) {
  if (batch.labels == nullptr) throw ArgumentError("this loss needs labels");
  return at::from_blob(const_cast<float*>(batch.labels), {batch.label_count}, at::TensorOptions().dtype(at::kFloat));
}

ListLayout::ListLayout(const LossBatch& batch) : queries(static_cast<int64_t>(batch.group_sizes.size())) {
  if (queries == 0) throw ArgumentError("a listwise batch needs groupSizes (documents per query)");
  std::vector<int64_t> q, d;
  for (int64_t i = 0; i < queries; ++i) {
    const auto n = batch.group_sizes[static_cast<size_t>(i)];
    max_docs = std::max(max_docs, n);
    for (int64_t j = 0; j < n; ++j) {
      q.push_back(i);
      d.push_back(j);
    }
  }
  const auto options = at::TensorOptions().dtype(at::kLong);
  query_index = at::tensor(q, options);
  doc_index = at::tensor(d, options);
}

at::Tensor ListLayout::matrix(const at::Tensor& values, double fill) const {
  auto m = at::full({queries, max_docs}, fill, values.options().requires_grad(false));
  m.index_put_({query_index, doc_index}, values);
  return m;
}

at::Tensor ListLayout::mask() const {
  auto m = at::zeros({queries, max_docs}, at::TensorOptions().dtype(at::kBool));
  m.index_put_({query_index, doc_index}, at::ones({query_index.size(0)}, m.options()));
  return m;
}

CollatedPairs collate_pairs(const RaggedPairs& pairs, const std::vector<int64_t>& picked, int32_t pad_id) {
  if (picked.empty()) throw ArgumentError("collate_pairs: no pairs picked");
  int64_t longest = 0;
  for (const auto p : picked) {
    if (p < 0 || p >= pairs.count) throw ArgumentError("a pair index is outside the batch's candidates");
    longest = std::max<int64_t>(longest, pairs.offsets[p + 1] - pairs.offsets[p]);
  }
  const auto n = static_cast<int64_t>(picked.size());
  const auto options = at::TensorOptions().dtype(at::kInt);
  CollatedPairs out{at::full({n, longest}, pad_id, options), at::zeros({n, longest}, options), at::zeros({n, longest}, options), {}};
  auto* ids = out.input_ids.data_ptr<int32_t>();
  auto* types = out.token_type_ids.data_ptr<int32_t>();
  auto* mask = out.attention_mask.data_ptr<int32_t>();
  for (int64_t row = 0; row < n; ++row) {
    const auto start = pairs.offsets[picked[row]];
    const auto length = pairs.offsets[picked[row] + 1] - start;
    std::copy(pairs.input_ids + start, pairs.input_ids + start + length, ids + row * longest);
    std::copy(pairs.token_type_ids + start, pairs.token_type_ids + start + length, types + row * longest);
    std::fill(mask + row * longest, mask + row * longest + length, 1);
  }
  out.batch = TokenBatch{ids, types, mask, n, longest};
  return out;
}

}  // namespace tce
