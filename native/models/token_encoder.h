// A family's base model (transformers' AutoModel: BertModel, RobertaModel, ModernBertModel…):
// token ids in, the last hidden states [B, S, H] out. The sequence classifiers put their head on
// one; Sentence Transformers' modular cross-encoders put pooling and dense modules on one.
#pragma once

#include <torch/torch.h>

#include "models/batch.h"

namespace tce {

struct TokenEncoder : torch::nn::Module {
  virtual torch::Tensor forward(const BatchTensors& batch) = 0;
};

}  // namespace tce
