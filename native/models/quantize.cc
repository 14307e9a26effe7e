#include "models/quantize.h"

#include <algorithm>
#include <limits>
#include <string>

#include <ATen/core/dispatch/Dispatcher.h>

#include "runtime/errors.h"

namespace tce {

struct PackedLinearWeight {
  c10::IValue params;  // __torch__.torch.classes.quantized.LinearPackedParamsBase
};

namespace {

// The ops by schema name, called boxed: their packed-params class is a TorchBind object whose C++
// header is not part of libtorch's stable surface (and moved between 1.13 and 2.x).
c10::OperatorHandle op(const char* name) { return c10::Dispatcher::singleton().findSchemaOrThrow(name, ""); }

// torch.backends.quantized.engine = 'onednn', the engine the reference uses (Debian's 1.13 has
// no FBGEMM; oneDNN's packed weights are the ones whose numbers we match).
void select_engine() {
  auto& context = at::globalContext();
  const auto& engines = context.supportedQEngines();
  if (std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) == engines.end()) {
    throw ArgumentError("dtype 'int8': this libtorch has no oneDNN quantized engine (needed for dynamic int8 Linear layers)");
  }
  if (context.qEngine() != at::QEngine::ONEDNN) context.setQEngine(at::QEngine::ONEDNN);
}

// nnqd.Linear.from_float with default_dynamic_qconfig: MinMaxObserver(dtype=qint8,
// qscheme=per_tensor_symmetric) over the weight, then torch.quantize_per_tensor. The observer's
// arithmetic is redone with the same tensor ops (float32), so the scale is the same float.
torch::Tensor quantize_weight(const torch::Tensor& weight) {
  const auto w = weight.detach().to(torch::kFloat).contiguous();
  constexpr int64_t quant_min = -128, quant_max = 127;  // qint8, reduce_range=False
  const auto min_val = w.min(), max_val = w.max();
  const auto min_neg = torch::min(min_val, torch::zeros_like(min_val));
  const auto max_pos = torch::max(torch::neg(min_neg), torch::max(max_val, torch::zeros_like(max_val)));
  auto scale = max_pos / (static_cast<double>(quant_max - quant_min) / 2);
  scale = torch::max(scale, torch::full({}, std::numeric_limits<float>::epsilon(), scale.options()));
  return at::quantize_per_tensor(w, static_cast<double>(scale.item<float>()), /*zero_point=*/0, at::kQInt8);
}

}  // namespace

torch::Tensor LinearImpl::forward(const torch::Tensor& input) {
  if (!packed_) return torch::nn::LinearImpl::forward(input);
  if (is_training()) {
    throw ArgumentError("an int8 model cannot be trained: its Linear layers run on quantised weights, which have no gradient");
  }
  // nnqd.Linear.forward: quantized::linear_dynamic(x, packed, reduce_range=True).
  static const auto linear_dynamic = op("quantized::linear_dynamic");
  torch::jit::Stack stack{input.contiguous(), packed_->params, true};
  linear_dynamic.callBoxed(&stack);
  return stack.at(0).toTensor();
}

void quantize_dynamic(torch::nn::Module& model) {
  select_engine();
  torch::NoGradGuard no_grad;
  static const auto linear_prepack = op("quantized::linear_prepack");
  for (const auto& module : model.modules(/*include_self=*/true)) {
    auto* linear = module->as<LinearImpl>();
    if (!linear) continue;
    const auto bias = linear->bias.defined() ? c10::IValue(linear->bias.detach().to(torch::kFloat).contiguous()) : c10::IValue();
    torch::jit::Stack stack{quantize_weight(linear->weight), bias};
    linear_prepack.callBoxed(&stack);
    linear->packed_ = std::make_shared<const PackedLinearWeight>(PackedLinearWeight{stack.at(0)});
  }
}

bool is_quantized(const torch::nn::Module& model) {
  for (const auto& module : model.modules(/*include_self=*/true)) {
    if (const auto* linear = module->as<LinearImpl>(); linear && linear->quantized()) return true;
  }
  return false;
}

}  // namespace tce
