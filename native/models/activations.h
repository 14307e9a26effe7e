// Hugging Face's ACT2FN for the activations BERT checkpoints use (config.hidden_act).
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

namespace tce {

bool is_supported_activation(const std::string& name);

// Throws ArgumentError for a name is_supported_activation rejects.
at::Tensor apply_activation(const std::string& name, const at::Tensor& x);

}  // namespace tce
