// One logit per pair against one label per pair (BinaryCrossEntropyLoss, CrossEntropyLoss,
// MSELoss) or per (positive, negative) margin (MarginMSELoss). ST v5.1: losses/
// BinaryCrossEntropyLoss.py, CrossEntropyLoss.py, MSELoss.py, MarginMSELoss.py.
#include "training/losses/factories.h"

#include "runtime/errors.h"
#include "training/losses/common.h"

namespace tce {
namespace {

void require_one_label(const std::string& loss, int64_t num_labels) {
  if (num_labels != 1) throw ArgumentError(loss + " needs a model with one label, this one has " + std::to_string(num_labels));
}

// nn.BCEWithLogitsLoss(pos_weight) on logits.view(-1), mean.
class BinaryCrossEntropy : public Loss {
 public:
  explicit BinaryCrossEntropy(const LossOptions& options) : pos_weight_(options.number("posWeight")) {
    if (pos_weight_ && !(*pos_weight_ > 0.0)) throw ArgumentError("posWeight must be > 0");
  }
  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    const auto logits = forward_chunks(batch, forward).view({-1});
    at::Tensor weight;
    if (pos_weight_) weight = at::full({1}, *pos_weight_, logits.options().requires_grad(false));
    return {at::binary_cross_entropy_with_logits(logits, labels_of(batch), {}, weight, at::Reduction::Mean), {}};
  }

 private:
  std::optional<double> pos_weight_;
};

// nn.CrossEntropyLoss on [B, num_labels] logits, labels class indices.
class CrossEntropy : public Loss {
 public:
  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    const auto logits = forward_chunks(batch, forward);
    return {at::cross_entropy_loss(logits, labels_of(batch).to(at::kLong)), {}};
  }
};

// nn.MSELoss(activation_fn(logits.view(-1)), labels.float()).
class MeanSquaredError : public Loss {
 public:
  explicit MeanSquaredError(const LossOptions& options) : activation_(options.string_or("activationFn", "identity")) {
    check_activation("MSELoss", activation_);
  }
  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    const auto logits = activate(activation_, forward_chunks(batch, forward).view({-1}));
    return {at::mse_loss(logits, labels_of(batch)), {}};
  }

 private:
  std::string activation_;
};

// MarginMSELoss: the positive column's logits minus each negative column's, each column forwarded
// on its own (as ST calls the model per column), against the margins; labels of n + 1 scores per
// row become score_pos - score_neg_i first, as ST does with labels[:, 0:1] - labels[:, 1:].
class MarginMeanSquaredError : public Loss {
 public:
  explicit MarginMeanSquaredError(const LossOptions& options) : activation_(options.string_or("activationFn", "identity")) {
    check_activation("MarginMSELoss", activation_);
  }
  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    const auto negatives = static_cast<int64_t>(batch.chunks.size()) - 1;
    if (negatives < 1) throw ArgumentError("MarginMSELoss needs a positive and at least one negative column");
    const auto rows = batch.rows;
    auto labels = labels_of(batch).view({rows, batch.label_columns});
    if (batch.label_columns == negatives + 1) labels = labels.slice(1, 0, 1) - labels.slice(1, 1);
    if (labels.size(1) != negatives) {
      throw ArgumentError("MarginMSELoss: " + std::to_string(batch.label_columns) + " labels per row for " +
                          std::to_string(negatives) + " negatives");
    }
    const auto positive = activate(activation_, forward(batch.chunks[0]).view({-1}));
    std::vector<at::Tensor> negative;
    for (int64_t i = 1; i <= negatives; ++i) negative.push_back(activate(activation_, forward(batch.chunks[i]).view({-1})));
    const auto margins = positive.unsqueeze(1) - at::stack(negative, 1);
    return {at::mse_loss(margins, labels), {}};
  }

 private:
  std::string activation_;
};

}  // namespace

std::unique_ptr<Loss> make_binary_cross_entropy(const LossOptions& options, int64_t num_labels) {
  require_one_label("BinaryCrossEntropyLoss", num_labels);
  return std::make_unique<BinaryCrossEntropy>(options);
}

std::unique_ptr<Loss> make_cross_entropy(const LossOptions&, int64_t num_labels) {
  if (num_labels < 2) throw ArgumentError("CrossEntropyLoss needs a model with at least two labels");
  return std::make_unique<CrossEntropy>();
}

std::unique_ptr<Loss> make_mse(const LossOptions& options, int64_t num_labels) {
  require_one_label("MSELoss", num_labels);
  return std::make_unique<MeanSquaredError>(options);
}

std::unique_ptr<Loss> make_margin_mse(const LossOptions& options, int64_t num_labels) {
  require_one_label("MarginMSELoss", num_labels);
  return std::make_unique<MarginMeanSquaredError>(options);
}

}  // namespace tce
