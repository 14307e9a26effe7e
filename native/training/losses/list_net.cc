// ListNetLoss (ST v5.1 losses/ListNetLoss.py): cross-entropy between the softmax of the padded
// logits (-1e16 where a query has fewer documents) and the softmax of the padded labels (-inf
// there, so padded documents get probability 0): nn.CrossEntropyLoss with probability targets,
// averaged over queries.
#include "runtime/errors.h"
#include "training/losses/common.h"
#include "training/losses/factories.h"

namespace tce {
namespace {

class ListNet : public Loss {
 public:
  explicit ListNet(const LossOptions& o) : activation_(o.string_or("activationFn", "identity")) {
    check_activation("ListNetLoss", activation_);
  }

  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    const ListLayout layout(batch);
    const auto logits = activate(activation_, forward_chunks(batch, forward).view({-1}));
    const auto logits_matrix = layout.matrix(logits, -1e16);
    const auto labels_matrix = layout.matrix(labels_of(batch), -INFINITY);
    return {at::cross_entropy_loss(logits_matrix, labels_matrix.softmax(1)), {}};
  }

 private:
  std::string activation_;
};

}  // namespace

std::unique_ptr<Loss> make_list_net(const LossOptions& options, int64_t num_labels) {
  if (num_labels != 1) throw ArgumentError("ListNetLoss needs a model with one label, this one has " + std::to_string(num_labels));
  return std::make_unique<ListNet>(options);
}

}  // namespace tce
