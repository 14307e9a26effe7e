#include "models/activations.h"

#include <cmath>

#include <ATen/ATen.h>

#include "runtime/errors.h"

namespace tce {
namespace {

// Hugging Face's NewGELUActivation, written out because its float rounding differs from
// torch's own tanh approximation (which HF calls gelu_pytorch_tanh).
at::Tensor gelu_new(const at::Tensor& x) {
  return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * at::pow(x, 3.0))));
}

at::Tensor gelu_fast(const at::Tensor& x) {
  return 0.5 * x * (1.0 + at::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
}

}  // namespace

bool is_supported_activation(const std::string& name) {
  return name == "gelu" || name == "gelu_new" || name == "gelu_pytorch_tanh" ||
         name == "gelu_fast" || name == "relu" || name == "silu" || name == "swish" || name == "tanh";
}

at::Tensor apply_activation(const std::string& name, const at::Tensor& x) {
  if (name == "gelu") return at::gelu(x);
  if (name == "gelu_new") return gelu_new(x);
  if (name == "gelu_pytorch_tanh") return at::gelu(x, "tanh");
  if (name == "gelu_fast") return gelu_fast(x);
  if (name == "relu") return at::relu(x);
  if (name == "silu" || name == "swish") return at::silu(x);
  if (name == "tanh") return at::tanh(x);
  throw ArgumentError("unsupported hidden_act '" + name + "'");
}

}  // namespace tce
