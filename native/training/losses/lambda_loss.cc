// LambdaLoss with its weighting schemes, and RankNetLoss (LambdaLoss with NoWeightingScheme).
// ST v5.1 losses/LambdaLoss.py and RankNetLoss.py, step by step: the logits and labels padded into
// [queries, max docs] matrices (logits -1e16, labels -inf where a query has fewer documents),
// both sorted descending, pairs (i, j) of the prediction order kept where both are documents and
// (but for NDCGLoss1) label_i > label_j, and within the top k.
#include "runtime/errors.h"
#include "training/losses/common.h"
#include "training/losses/factories.h"

namespace tce {
namespace {

// The schemes' weights from gain [B, M], discount [1, M]: a tensor broadcastable to [B, M, M].
at::Tensor lambda_rank_weights(const at::Tensor& gain, const at::Tensor& discount) {
  return at::abs(at::pow(discount.unsqueeze(2), -1.0) - at::pow(discount.unsqueeze(1), -1.0)) *
         at::abs(gain.unsqueeze(2) - gain.unsqueeze(1));
}

at::Tensor ndcg_loss2_weights(const at::Tensor& gain, const at::Tensor& discount) {
  const auto m = gain.size(1);
  const auto positions = at::arange(1, m + 1, at::TensorOptions().dtype(at::kLong));
  const auto delta = at::abs(positions.unsqueeze(1) - positions.unsqueeze(0));
  const auto d = discount[0];
  // Python's discount[0, delta - 1] wraps -1 (the diagonal, zeroed below) to the last position.
  const auto below = at::where(delta == 0, at::full_like(delta, m - 1), delta - 1);
  auto deltas = at::abs(at::pow(at::abs(d.index({below})), -1.0) - at::pow(at::abs(d.index({delta})), -1.0));
  deltas.diagonal().zero_();
  return deltas.unsqueeze(0) * at::abs(gain.unsqueeze(2) - gain.unsqueeze(1));
}

class LambdaLoss : public Loss {
 public:
  explicit LambdaLoss(const LossOptions& o)
      : scheme_(o.string_or("weightingScheme", "ndcg_loss2pp")),
        k_(o.number("k")),
        sigma_(o.number_or("sigma", 1.0)),
        eps_(o.number_or("eps", 1e-10)),
        mu_(o.number_or("mu", 10.0)),
        natural_log_(o.string_or("reductionLog", "binary") == "natural"),
        activation_(o.string_or("activationFn", "identity")) {
    if (scheme_ != "none" && scheme_ != "ndcg_loss1" && scheme_ != "ndcg_loss2" && scheme_ != "lambda_rank" &&
        scheme_ != "ndcg_loss2pp") {
      throw ArgumentError("LambdaLoss: unknown weightingScheme '" + scheme_ + "'");
    }
    const auto log = o.string_or("reductionLog", "binary");
    if (log != "binary" && log != "natural") throw ArgumentError("LambdaLoss: reductionLog must be 'natural' or 'binary'");
    if (k_ && !(*k_ >= 1)) throw ArgumentError("LambdaLoss: k must be a positive integer");
    check_activation("LambdaLoss", activation_);
  }

  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    const ListLayout layout(batch);
    const auto m = layout.max_docs;
    const auto logits = activate(activation_, forward_chunks(batch, forward).view({-1}));
    const auto logits_matrix = layout.matrix(logits, -1e16);
    const auto labels_matrix = layout.matrix(labels_of(batch), -INFINITY);

    const auto [logits_sorted, indices_pred] = logits_matrix.sort(-1, true);
    auto labels_sorted = std::get<0>(labels_matrix.sort(-1, true));
    auto true_sorted_by_preds = at::gather(labels_matrix, 1, indices_pred);
    const auto true_diffs = true_sorted_by_preds.unsqueeze(2) - true_sorted_by_preds.unsqueeze(1);
    auto pairs_mask = at::isfinite(true_diffs);
    if (scheme_ != "ndcg_loss1") pairs_mask = pairs_mask & (true_diffs > 0);
    const auto k = k_ ? static_cast<int64_t>(*k_) : m;
    auto at_k = at::zeros({m, m}, at::TensorOptions().dtype(at::kBool));
    at_k.slice(0, 0, k).slice(1, 0, k).fill_(true);

    true_sorted_by_preds.clamp_min_(0.0);
    labels_sorted.clamp_min_(0.0);
    const auto positions = at::arange(1, m + 1, at::TensorOptions().dtype(at::kLong));
    const auto discount = at::log2(1.0 + positions.to(at::kFloat)).unsqueeze(0);
    const auto max_dcgs = ((at::pow(2, labels_sorted) - 1) / discount).slice(1, 0, k).sum(-1).clamp_min(eps_);
    const auto gain = (at::pow(2, true_sorted_by_preds) - 1) / max_dcgs.unsqueeze(1);

    at::Tensor weights;
    if (scheme_ == "none") weights = at::scalar_tensor(1.0, at::TensorOptions().dtype(at::kFloat));
    else if (scheme_ == "ndcg_loss1") weights = (gain / discount).unsqueeze(2);
    else if (scheme_ == "ndcg_loss2") weights = ndcg_loss2_weights(gain, discount);
    else if (scheme_ == "lambda_rank") weights = lambda_rank_weights(gain, discount);
    else weights = mu_ * ndcg_loss2_weights(gain, discount) + lambda_rank_weights(gain, discount);

    auto scores_diffs = (logits_sorted.unsqueeze(2) - logits_sorted.unsqueeze(1)).clamp(-1e8, 1e8);
    scores_diffs.masked_fill_(at::isnan(scores_diffs), 0.0);
    const auto weighted_probas = at::pow(at::sigmoid(sigma_ * scores_diffs).clamp_min(eps_), weights).clamp_min(eps_);
    const auto losses = natural_log_ ? at::log(weighted_probas) : at::log2(weighted_probas);
    return {-at::mean(losses.index({pairs_mask & at_k})), {}};
  }

 private:
  std::string scheme_;
  std::optional<double> k_;
  double sigma_, eps_, mu_;
  bool natural_log_;
  std::string activation_;
};

}  // namespace

std::unique_ptr<Loss> make_lambda_loss(const LossOptions& options, int64_t num_labels) {
  if (num_labels != 1) throw ArgumentError("LambdaLoss needs a model with one label, this one has " + std::to_string(num_labels));
  return std::make_unique<LambdaLoss>(options);
}

}  // namespace tce
