// What every model family gives the rest of the addon (the loader, the forward, the trainer): a
// module whose parameters carry Hugging Face's state-dict names and that turns a token batch into
// logits. A family is a class deriving from this, in a file of its own, plus a line in
// registry.cc; nothing outside models/ names a family.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/batch.h"
#include "models/model_shape.h"

namespace tce {

// Picks parameters by their full state-dict name.
using ParameterFilter = std::function<bool(const std::string& name)>;

// Marks a normalization module that is not a torch::nn::LayerNorm (ModernBERT's bias-less one),
// so that training treats its weight as transformers treats every nn.LayerNorm's.
struct NormLayer {
  virtual ~NormLayer() = default;
};

class SequenceClassifier : public torch::nn::Module {
 public:
  explicit SequenceClassifier(ModelShape shape) : shape_(std::move(shape)) {}

  const ModelShape& shape() const { return shape_; }

  // Logits [B, num_labels].
  virtual torch::Tensor forward(const BatchTensors& batch) = 0;

  // Every weight as the family's _init_weights draws it, from `seed`.
  void init_weights(uint64_t seed);
  // The named parameters only, as transformers initialises those a checkpoint lacks (a loaded
  // classifier.weight survives a missing classifier.bias). ArgumentError for an unknown name.
  void init_parameters(const std::vector<std::string>& names);

  // transformers' get_decay_parameter_names: the parameters weight decay skips — those of
  // LayerNorm modules (by type) and any whose name has "bias", "layernorm" or "rmsnorm".
  std::set<std::string> no_decay_parameters() const;

 protected:
  // The family's _init_weights, applied to the parameters `wanted` picks. Called under
  // NoGradGuard, after the generator is seeded when all are drawn.
  virtual void init_selected(const ParameterFilter& wanted) = 0;

 private:
  ModelShape shape_;
};

}  // namespace tce
