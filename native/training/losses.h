// Training losses on the classifier's logits, as Sentence Transformers' cross-encoder losses
// compute them with torch.nn.
#pragma once

#include <optional>
#include <string>

#include <torch/torch.h>

namespace tce {

struct LossOptions {
  std::string name;  // "binary_cross_entropy" or "cross_entropy"
  std::optional<double> pos_weight;           // BinaryCrossEntropyLoss(pos_weight=...)
};

// BinaryCrossEntropyLoss: BCEWithLogitsLoss on the single logit, mean over the batch.
// CrossEntropyLoss: labels are class indices, mean over the batch.
// logits [B, num_labels], labels float [B]. Throws ArgumentError for labels the loss rejects.
torch::Tensor compute_loss(const LossOptions& options, const torch::Tensor& logits, const torch::Tensor& labels);

void validate_loss_options(const LossOptions& options, int64_t num_labels);

}  // namespace tce
