// Sentence Transformers' modular CrossEncoder (v5.4+, `model_type: modular` here): a
// modules.json chain of a Transformer module loading a family's base model (AutoModel) — the
// Ettin rerankers' ModernBERT, say — then Pooling, and Dense / LayerNorm modules whose last
// writes the scores. Modules are registered under their modules.json names ("0" the base
// model, "2" a Dense with its `linear`, "3" a LayerNorm with its `norm`…), so each module
// folder's weights are the parameters under its name.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/config_values.h"
#include "models/quantize.h"
#include "models/sequence_classifier.h"
#include "models/token_encoder.h"

namespace tce {

// Pooling of the token embeddings [B, S, H] under a 0/1 mask into [B, H], as Pooling does on
// right-padded batches: cls, mean, max, mean_sqrt_len_tokens, weightedmean or lasttoken.
torch::Tensor pool_tokens(const std::string& mode, const torch::Tensor& tokens, const torch::Tensor& attention_mask);

class ModularCrossEncoder : public SequenceClassifier {
 public:
  // `trunk` is the base model built from the "trunk." fields; the head from "pooling_mode" and
  // "head.<i>." fields (type "dense": name, in_features, out_features, bias, activation; type
  // "layer_norm": name, dimension).
  ModularCrossEncoder(const ConfigValues& values, std::shared_ptr<TokenEncoder> trunk, ModelShape shape);
  torch::Tensor forward(const BatchTensors& batch) override;

 protected:
  // Modular models are loaded whole from their files: no weight is drawn afresh.
  void init_selected(const ParameterFilter& wanted) override;

 private:
  struct Step {
    std::string type;  // "dense" or "layer_norm"
    std::string activation;
    Linear linear{nullptr};
    torch::nn::LayerNorm norm{nullptr};
  };

  std::shared_ptr<TokenEncoder> trunk_;
  std::string pooling_mode_;
  std::vector<Step> steps_;
};

}  // namespace tce
