#include "model/state_dict.h"

#include <unordered_map>
#include <unordered_set>

#include "runtime/errors.h"

namespace tce {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Old TensorFlow-converted checkpoints name LayerNorm parameters gamma/beta; Hugging Face
// renames them on load.
std::string fix_legacy_name(std::string name) {
  if (ends_with(name, ".gamma")) return name.substr(0, name.size() - 6) + ".weight";
  if (ends_with(name, ".beta")) return name.substr(0, name.size() - 5) + ".bias";
  return name;
}

}  // namespace

LoadReport load_state_dict(torch::nn::Module& module, const NamedTensors& tensors, const std::string& source) {
  std::unordered_map<std::string, torch::Tensor> parameters;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) parameters.emplace(item.key(), item.value());

  // A bare BertModel checkpoint (no "bert." prefix) loads into the classifier's encoder, as
  // Hugging Face does with base_model_prefix.
  bool has_prefix = false;
  for (const auto& entry : tensors) has_prefix = has_prefix || starts_with(entry.first, "bert.");

  LoadReport report;
  std::unordered_set<std::string> loaded;
  torch::NoGradGuard no_grad;
  for (const auto& [file_name, tensor] : tensors) {
    std::string name = fix_legacy_name(file_name);
    if (!has_prefix && !parameters.count(name) && parameters.count("bert." + name)) name = "bert." + name;
    const auto found = parameters.find(name);
    if (found == parameters.end()) {
      report.unexpected.push_back(file_name);
      continue;
    }
    auto& parameter = found->second;
    if (!tensor.is_floating_point()) {
      throw FormatError(source + ": tensor '" + file_name + "' has an integer dtype, expected floating point");
    }
    if (tensor.sizes() != parameter.sizes()) {
      throw FormatError(source + ": tensor '" + file_name + "' has shape " + shape_string(tensor.sizes()) +
                        " but the model (from config.json) expects " + shape_string(parameter.sizes()));
    }
    parameter.copy_(tensor);
    loaded.insert(name);
  }
  for (const auto& item : module.named_parameters(true)) {
    if (!loaded.count(item.key())) report.missing.push_back(item.key());
  }
  return report;
}

NamedTensors state_dict(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& item : module.named_parameters(true)) {
    out.emplace_back(item.key(), item.value().detach().contiguous());
  }
  return out;
}

}  // namespace tce
