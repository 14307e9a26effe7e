#include "models/sequence_classifier.h"

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

}  // namespace tce
