#include "models/modular.h"

#include "models/activations.h"
#include "models/bert_encoder.h"
#include "runtime/errors.h"

namespace tce {
namespace {

// The torch.nn activation classes a Dense module's config may name, by our short names: those
// of ACT2FN (gelu, tanh, relu, silu) and the two that are not hidden activations.
torch::Tensor apply_module_activation(const std::string& name, const torch::Tensor& x) {
  if (name == "identity") return x;
  if (name == "sigmoid") return torch::sigmoid(x);
  return apply_activation(name, x);
}

}  // namespace

torch::Tensor pool_tokens(const std::string& mode, const torch::Tensor& tokens, const torch::Tensor& attention_mask) {
  const auto mask = attention_mask.unsqueeze(-1).expand_as(tokens).to(tokens.scalar_type());
  if (mode == "cls") {
    // argmax of the 0/1 mask: the first real token (index 0 with right padding).
    const auto first = attention_mask.to(torch::kInt).argmax(1);
    return tokens.gather(1, first.unsqueeze(-1).unsqueeze(1).expand({-1, 1, tokens.size(2)})).squeeze(1);
  }
  if (mode == "max") return tokens.masked_fill(mask == 0, -std::numeric_limits<float>::infinity()).amax(1);
  if (mode == "mean" || mode == "mean_sqrt_len_tokens") {
    const auto sum = (tokens * mask).sum(1);
    const auto count = torch::clamp(mask.sum(1), 1e-9);
    return mode == "mean" ? sum / count : sum / torch::sqrt(count);
  }
  if (mode == "weightedmean") {
    const auto weights = torch::arange(1, tokens.size(1) + 1, torch::kLong).unsqueeze(0).unsqueeze(-1).expand_as(tokens).to(tokens.scalar_type());
    const auto weighted = mask * weights;
    return (tokens * weighted).sum(1) / torch::clamp(weighted.sum(1), 1e-9);
  }
  if (mode == "lasttoken") {
    const int64_t length = tokens.size(1);
    const auto flipped = attention_mask.flip(1).max(1);
    const auto values = std::get<0>(flipped), indices = std::get<1>(flipped);
    const auto last = torch::where(values == 0, torch::full_like(indices, length - 1), indices);
    const auto gather = (length - last - 1).unsqueeze(-1).unsqueeze(1).expand({-1, 1, tokens.size(2)});
    return (tokens * mask).gather(1, gather).squeeze(1);
  }
  throw ArgumentError("unsupported pooling_mode '" + mode + "'");
}

ModularCrossEncoder::ModularCrossEncoder(const ConfigValues& v, std::shared_ptr<TokenEncoder> trunk, ModelShape shape)
    : SequenceClassifier(std::move(shape)), trunk_(std::move(trunk)), pooling_mode_(v.string("pooling_mode")) {
  register_module("0", trunk_);
  const int64_t count = v.integer("head.count", 1, 64);
  int64_t width = v.integer("hidden_size", 1, 65536);
  for (int64_t i = 0; i < count; ++i) {
    const ConfigValues part = v.sub("head." + std::to_string(i) + ".");
    const std::string& name = part.string("name");
    if (name == "0") throw ArgumentError("config.head." + std::to_string(i) + ".name '0' is the base model's");
    Step step;
    step.type = part.string("type");
    auto module = std::make_shared<torch::nn::Module>();
    if (step.type == "dense") {
      const int64_t in = part.integer("in_features", 1, 1 << 20), out = part.integer("out_features", 1, 1 << 20);
      if (in != width) {
        throw ArgumentError("config.head." + std::to_string(i) + ".in_features (" + std::to_string(in) +
                            ") is not the width of its input (" + std::to_string(width) + ")");
      }
      step.activation = part.string("activation");
      apply_module_activation(step.activation, torch::zeros({1}));  // refuses an unknown one now
      step.linear = module->register_module("linear", Linear(torch::nn::LinearOptions(in, out).bias(part.boolean("bias"))));
      width = out;
    } else if (step.type == "layer_norm") {
      const int64_t dimension = part.integer("dimension", 1, 1 << 20);
      if (dimension != width) throw ArgumentError("config.head." + std::to_string(i) + ".dimension does not match its input width");
      step.norm = module->register_module("norm", make_layer_norm(dimension, 1e-5));
    } else {
      throw ArgumentError("config.head." + std::to_string(i) + ".type '" + step.type + "' is not dense or layer_norm");
    }
    register_module(name, module);
    steps_.push_back(std::move(step));
  }
  if (width != this->shape().num_labels) {
    throw ArgumentError("the last module writes " + std::to_string(width) + " scores, but the model has " +
                        std::to_string(this->shape().num_labels) + " labels");
  }
  pool_tokens(pooling_mode_, torch::zeros({1, 1, 1}), torch::ones({1, 1}));  // refuses an unknown mode now
}

torch::Tensor ModularCrossEncoder::forward(const BatchTensors& batch) {
  auto x = pool_tokens(pooling_mode_, trunk_->forward(batch), batch.attention_mask);
  for (auto& step : steps_) {
    x = step.type == "dense" ? apply_module_activation(step.activation, step.linear(x)) : step.norm(x);
  }
  return x;
}

void ModularCrossEncoder::init_selected(const ParameterFilter& wanted) {
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    if (wanted(item.key())) {
      throw ArgumentError("a modular CrossEncoder has no initialisation of its own: '" + item.key() +
                          "' must come from its module's files");
    }
  }
}

}  // namespace tce
