#include "training/losses.h"

#include "runtime/errors.h"

namespace tce {

void validate_loss_options(const LossOptions& options, int64_t num_labels) {
  if (options.name == "binary_cross_entropy") {
    if (num_labels != 1) {
      throw ArgumentError("BinaryCrossEntropyLoss needs a model with one label, this one has " + std::to_string(num_labels));
    }
    if (options.pos_weight && !(*options.pos_weight > 0.0)) throw ArgumentError("posWeight must be > 0");
  } else if (options.name == "cross_entropy") {
    if (num_labels < 2) throw ArgumentError("CrossEntropyLoss needs a model with at least two labels");
  } else {
    throw ArgumentError("unknown loss '" + options.name + "'; supported: binary_cross_entropy, cross_entropy");
  }
}

torch::Tensor compute_loss(const LossOptions& options, const torch::Tensor& logits, const torch::Tensor& labels) {
  if (options.name == "binary_cross_entropy") {
    auto bce = torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kMean);
    if (options.pos_weight) bce.pos_weight(torch::full({1}, *options.pos_weight, logits.options()));
    return torch::nn::functional::binary_cross_entropy_with_logits(logits.view({-1}), labels.to(logits.dtype()), bce);
  }
  const auto classes = labels.to(torch::kLong);
  return torch::nn::functional::cross_entropy(logits, classes);
}

}  // namespace tce
