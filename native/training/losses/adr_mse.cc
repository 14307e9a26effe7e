// ADRMSELoss (ST v5.x losses/ADRMSELoss.py, Rank-DistiLLM): the squared error between each
// document's true rank and its ApproxRank 1 + sum_{j != i} sigmoid(alpha * (s_j - s_i)), weighted
// by 1 / log2(true rank + 1), averaged over the real (unpadded) documents. True ranks of tied
// labels are their average rank, which the ApproxRank reaches when tied scores are equal.
#include "runtime/errors.h"
#include "training/losses/common.h"
#include "training/losses/factories.h"

namespace tce {
namespace {

class ADRMSE : public Loss {
 public:
  explicit ADRMSE(const LossOptions& o) : alpha_(o.number_or("alpha", 1.0)), activation_(o.string_or("activationFn", "identity")) {
    check_activation("ADRMSELoss", activation_);
  }

  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    const ListLayout layout(batch);
    const auto logits = activate(activation_, forward_chunks(batch, forward).view({-1}).to(at::kFloat));
    const auto scores = layout.matrix(logits, -1e16);
    const auto mask = layout.mask();
    const auto valid = mask.to(at::kFloat);
    const auto labels = layout.matrix(labels_of(batch), 0.0);

    // Average ranks of the labels among each query's real documents (self counted in `equal`).
    const auto labels_j = labels.unsqueeze(1);
    const auto labels_i = labels.unsqueeze(2);
    const auto valid_j = mask.unsqueeze(1);
    const auto greater = labels_j.gt(labels_i).logical_and(valid_j).sum(-1).to(at::kFloat);
    const auto equal = labels_j.eq(labels_i).logical_and(valid_j).sum(-1).to(at::kFloat);
    const auto true_ranks = greater + (equal + 1.0) / 2.0;

    // [b, i, j] = sigmoid(alpha * (s_j - s_i)) over real j; the diagonal's sigmoid(0) taken off.
    const auto pairwise = at::sigmoid(alpha_ * (scores.unsqueeze(1) - scores.unsqueeze(2))) * valid.unsqueeze(1);
    const auto approx_ranks = 1.0 + pairwise.sum(2) - 0.5 * valid;

    const auto discount = 1.0 / at::log2(true_ranks + 1.0);
    const auto loss = discount * (true_ranks - approx_ranks).pow(2) * valid;
    return {loss.sum() / mask.sum(), {}};
  }

 private:
  double alpha_;
  std::string activation_;
};

}  // namespace

std::unique_ptr<Loss> make_adr_mse(const LossOptions& options, int64_t num_labels) {
  if (num_labels != 1) throw ArgumentError("ADRMSELoss needs a model with one label, this one has " + std::to_string(num_labels));
  return std::make_unique<ADRMSE>(options);
}

}  // namespace tce
