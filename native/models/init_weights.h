// The initialisations of transformers' _init_weights that the families share.
#pragma once

#include <torch/torch.h>

#include "models/sequence_classifier.h"

namespace tce {

// BertPreTrainedModel._init_weights (also RoBERTa's, XLM-R's, ELECTRA's) over every submodule
// of `root`: Linear weights normal(0, std) and zero biases, Embedding weights normal(0, std) with
// the padding_idx row zeroed, LayerNorm weights 1 and biases 0. Only the parameters `wanted`
// picks are touched; `prefix` is root's own name in the state dict ("" for the whole model).
void init_bert_style(torch::nn::Module& root, double std, const ParameterFilter& wanted, const std::string& prefix = "");

}  // namespace tce
