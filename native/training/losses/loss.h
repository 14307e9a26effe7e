// The training losses: Sentence Transformers' cross-encoder losses, each computed with autograd
// on the logits of the pairs it asks the model for. A loss gets a batch (forward chunks, labels,
// the group layout) and a forward function; it decides which pairs go through the model in
// which order (as its Python counterpart does, so that dropout masks and random draws come in
// the same order) and returns the loss and how to back-propagate it.
// A new loss is a file defining a factory and a line in registry.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "training/labelled_batch.h"

namespace tce {

// The loss and its options as lib/training/losses/ resolved them (every default filled there).
struct LossOptions {
  std::string name;
  std::map<std::string, double> numbers;  // absent = None in Python
  std::map<std::string, std::string> strings;

  std::optional<double> number(const std::string& key) const;
  double number_or(const std::string& key, double fallback) const;
  std::string string_or(const std::string& key, const std::string& fallback) const;
};

// The model on a batch of pairs: logits [n, num_labels], with autograd unless disabled.
using Forward = std::function<at::Tensor(const TokenBatch&)>;

struct LossValue {
  at::Tensor value;  // a scalar
  // Back-propagates value * scale; unset: (value * scale).backward(). CachedMNRL sets its own.
  std::function<void(double scale)> backward;
  // Token tensors the graph reads from (the embedding backward reads the ids): kept until the
  // value is dropped, after backward.
  std::shared_ptr<void> keep_alive;
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual LossValue compute(const LossBatch& batch, const Forward& forward) = 0;
};

// Throws ArgumentError for an unknown loss, options it rejects, or a model it cannot train.
std::unique_ptr<Loss> make_loss(const LossOptions& options, int64_t num_labels);

// The names make_loss knows, for error messages.
std::string known_losses();

}  // namespace tce
