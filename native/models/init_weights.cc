#include "models/init_weights.h"

namespace tce {

void init_bert_style(torch::nn::Module& root, double std, const ParameterFilter& wanted, const std::string& prefix) {
  for (const auto& item : root.named_modules(prefix, /*include_self=*/true)) {
    torch::nn::Module& module = *item.value();
    const std::string at = item.key().empty() ? "" : item.key() + ".";
    if (auto* linear = module.as<torch::nn::LinearImpl>()) {
      if (wanted(at + "weight")) linear->weight.normal_(0.0, std);
      if (linear->bias.defined() && wanted(at + "bias")) linear->bias.zero_();
    } else if (auto* embedding = module.as<torch::nn::EmbeddingImpl>()) {
      if (!wanted(at + "weight")) continue;
      embedding->weight.normal_(0.0, std);
      if (const auto& pad = embedding->options.padding_idx()) embedding->weight[*pad].zero_();
    } else if (auto* norm = module.as<torch::nn::LayerNormImpl>()) {
      if (norm->weight.defined() && wanted(at + "weight")) norm->weight.fill_(1.0);
      if (norm->bias.defined() && wanted(at + "bias")) norm->bias.zero_();
    }
  }
}

}  // namespace tce
