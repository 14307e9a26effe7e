#include "models/sequence_classifier.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "runtime/errors.h"

namespace tce {

void SequenceClassifier::init_weights(uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  init_selected([](const std::string&) { return true; });
}

void SequenceClassifier::init_parameters(const std::vector<std::string>& names) {
  std::set<std::string> unknown(names.begin(), names.end());
  for (const auto& item : named_parameters(/*recurse=*/true)) unknown.erase(item.key());
  if (!unknown.empty()) throw ArgumentError("init_parameters: the model has no parameter '" + *unknown.begin() + "'");
  const std::set<std::string> wanted(names.begin(), names.end());
  torch::NoGradGuard no_grad;
  init_selected([&wanted](const std::string& name) { return wanted.count(name) > 0; });
}

std::set<std::string> SequenceClassifier::no_decay_parameters() const {
  std::set<std::string> names;
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    const auto& module = item.value();
    if (!module->as<torch::nn::LayerNormImpl>() && !dynamic_cast<const NormLayer*>(module.get())) continue;
    for (const auto& parameter : module->named_parameters(/*recurse=*/false)) names.insert(item.key() + "." + parameter.key());
  }
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    std::string lower = item.key();
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* word : {"bias", "layernorm", "rmsnorm"}) {
      if (lower.find(word) != std::string::npos) names.insert(item.key());
    }
  }
  return names;
}

}  // namespace tce
