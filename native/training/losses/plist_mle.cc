// PListMLELoss and ListMLELoss (PListMLE without lambda weights), ST v5.1 losses/PListMLELoss.py
// and ListMLELoss.py: the Plackett-Luce log-likelihood of the documents in input order (or sorted
// by label, respectInputOrder false). As in ST, padded positions hold the logit 1e-16: their
// exp(1e-16) = 1 each enters the suffix sums of the real documents' denominators (a query with
// fewer documents than the longest of its batch gets larger denominators); their own terms are
// then zeroed. Lambda weights 2^(n - rank) - 1 over the real positions, normalised to sum 1.
#include "runtime/errors.h"
#include "training/losses/common.h"
#include "training/losses/factories.h"

namespace tce {
namespace {

class PListMLE : public Loss {
 public:
  explicit PListMLE(const LossOptions& o)
      : lambda_weight_(o.string_or("lambdaWeight", "default") == "default"),
        respect_input_order_(o.number_or("respectInputOrder", 1.0) != 0.0),
        activation_(o.string_or("activationFn", "identity")) {
    const auto weight = o.string_or("lambdaWeight", "default");
    if (weight != "default" && weight != "none") throw ArgumentError("PListMLELoss: lambdaWeight must be 'default' or 'none'");
    check_activation("PListMLELoss", activation_);
  }

  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    const double eps = 1e-10;
    const ListLayout layout(batch);
    const auto logits = activate(activation_, forward_chunks(batch, forward).view({-1}));
    const auto logits_matrix = layout.matrix(logits, 1e-16);
    const auto mask = layout.mask();
    const auto labels_matrix = layout.matrix(labels_of(batch), -INFINITY);
    const auto zero = [&] { return at::zeros({}, logits.options()).requires_grad_(logits.requires_grad()); };

    at::Tensor sorted_logits = logits_matrix;
    if (!respect_input_order_) {
      const auto indices = std::get<1>(labels_matrix.sort(1, true));
      sorted_logits = at::gather(logits_matrix, 1, indices);
    }
    const auto scores = sorted_logits.exp();
    const auto cumsum_scores = at::flip(at::cumsum(at::flip(scores, {1}), 1), {1});
    auto log_probs = sorted_logits - at::log(cumsum_scores + eps);
    if (lambda_weight_) {
      const auto docs = mask.sum(1, true);
      const auto ranks = at::arange(mask.size(1), at::TensorOptions().dtype(at::kLong)).expand_as(mask);
      auto weights = (at::pow(2.0, docs - ranks) - 1.0) * mask;
      weights = weights / (weights.sum(1, true) + eps);
      log_probs = log_probs * weights;
    }
    log_probs.index_put_({mask.logical_not()}, at::zeros({}, log_probs.options().requires_grad(false)));
    const auto per_query = -at::sum(log_probs, 1);
    if (!at::any(per_query).item<bool>()) return {zero(), {}};
    return {at::mean(per_query), {}};
  }

 private:
  bool lambda_weight_;
  bool respect_input_order_;
  std::string activation_;
};

}  // namespace

std::unique_ptr<Loss> make_plist_mle(const LossOptions& options, int64_t num_labels) {
  if (num_labels != 1) throw ArgumentError("PListMLELoss needs a model with one label, this one has " + std::to_string(num_labels));
  return std::make_unique<PListMLE>(options);
}

}  // namespace tce
