#include "training/losses/probe.h"

#include "runtime/errors.h"

namespace tce {

LossProbe probe_loss(const LossOptions& options, int64_t num_labels, std::vector<float> logits, const LossBatch& batch) {
  const auto rows = static_cast<int64_t>(logits.size()) / num_labels;
  if (rows * num_labels != static_cast<int64_t>(logits.size()) || rows == 0) throw ArgumentError("probe: logits must be rows * numLabels values");
  auto loss = make_loss(options, num_labels);
  auto leaf = at::from_blob(logits.data(), {rows, num_labels}, at::TensorOptions().dtype(at::kFloat)).clone().requires_grad_();
  const Forward forward = [&](const TokenBatch& tokens) {
    const auto ids = at::from_blob(tokens.input_ids, {tokens.batch_size, tokens.seq_length}, at::TensorOptions().dtype(at::kInt));
    const auto index = ids.select(1, 0).to(at::kLong);
    if (index.min().item<int64_t>() < 0 || index.max().item<int64_t>() >= rows) throw ArgumentError("probe: a pair's id is not a row of logits");
    return leaf.index_select(0, index);
  };
  auto value = loss->compute(batch, forward);
  if (value.backward) {
    value.backward(1.0);
  } else if (value.value.requires_grad()) {
    value.value.backward();
  }
  LossProbe probe;
  probe.loss = value.value.item<double>();
  const auto grad = leaf.grad().defined() ? leaf.grad().contiguous() : at::zeros_like(leaf);
  probe.gradient.assign(grad.data_ptr<float>(), grad.data_ptr<float>() + grad.numel());
  return probe;
}

}  // namespace tce
