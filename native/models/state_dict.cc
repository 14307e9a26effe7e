#include "models/state_dict.h"

#include <algorithm>
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

// A NaN or an infinity in a weight makes every score NaN, or some of them: refuse it at load
// rather than serve garbage. Checked a chunk at a time: isfinite allocates a float copy and two
// masks of its input, which for a whole embedding table would nearly double the peak of a load.
void check_finite(const torch::Tensor& tensor, const std::string& name, const std::string& source) {
  constexpr int64_t kChunk = int64_t{1} << 20;
  const torch::Tensor flat = tensor.reshape({-1});
  int64_t count = 0, first = -1;
  for (int64_t start = 0; start < flat.numel(); start += kChunk) {
    const torch::Tensor chunk = flat.narrow(0, start, std::min(kChunk, flat.numel() - start));
    if (torch::isfinite(chunk).all().item<bool>()) continue;
    const torch::Tensor bad = torch::logical_not(torch::isfinite(chunk));
    if (first < 0) first = start + bad.nonzero()[0][0].item<int64_t>();
    count += bad.sum().item<int64_t>();
  }
  if (count == 0) return;
  const float value = flat[first].item<float>();
  throw FormatError(source + ": tensor '" + name + "' holds " + std::to_string(count) +
                    " non-finite value" + (count == 1 ? "" : "s") + " (the first, " + std::to_string(value) +
                    ", at flat index " + std::to_string(first) + "); the weights are corrupt or diverged");
}

}  // namespace

LoadReport load_state_dict(SequenceClassifier& module, const StoredTensors& tensors, const std::string& source,
                           const std::string& scope) {
  // Only the parameters under `scope` are this file's to fill; its names lack the scope.
  std::unordered_map<std::string, torch::Tensor> parameters;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (starts_with(item.key(), scope)) parameters.emplace(item.key().substr(scope.size()), item.value());
  }

  // A bare encoder checkpoint (a BertModel's, without "bert.") loads into the classifier's
  // encoder, as Hugging Face does with base_model_prefix.
  const std::string prefix = scope.empty() ? module.shape().base_model_prefix + "." : "";
  bool has_prefix = prefix.empty();
  for (const auto& stored : tensors) has_prefix = has_prefix || starts_with(stored.name, prefix);

  // Every name, dtype and shape is checked before any tensor is read: a file's header cannot make
  // the loader allocate what the model has no room for.
  LoadReport report;
  std::vector<std::pair<const StoredTensor*, torch::Tensor>> matched;
  std::unordered_set<std::string> loaded;
  for (const StoredTensor& stored : tensors) {
    std::string name = fix_legacy_name(stored.name);
    if (!has_prefix && !parameters.count(name) && parameters.count(prefix + name)) name = prefix + name;
    const auto found = parameters.find(name);
    if (found == parameters.end()) {
      report.unexpected.push_back(stored.name);
      continue;
    }
    const auto& parameter = found->second;
    if (!at::isFloatingType(stored.dtype)) {
      throw FormatError(source + ": tensor '" + stored.name + "' has an integer dtype (" + c10::toString(stored.dtype) +
                        "), expected floating point");
    }
    if (at::IntArrayRef(stored.shape) != parameter.sizes()) {
      throw FormatError(source + ": tensor '" + stored.name + "' has shape " + shape_string(stored.shape) +
                        " but the model (from config.json) expects " + shape_string(parameter.sizes()));
    }
    if (!loaded.insert(name).second) throw FormatError(source + ": tensor '" + name + "' is given twice");
    matched.emplace_back(&stored, parameter);
  }

  // Float32 safetensors go straight into the parameters: loading holds no second copy of them.
  torch::NoGradGuard no_grad;
  for (auto& [stored, parameter] : matched) {
    if (stored->read_into && parameter.scalar_type() == torch::kFloat && parameter.is_contiguous()) {
      stored->read_into(parameter);
      check_finite(parameter, stored->name, source);
      continue;
    }
    const torch::Tensor tensor = stored->read();
    check_finite(tensor, stored->name, source);
    parameter.copy_(tensor);
  }
  for (const auto& item : module.named_parameters(true)) {  // in registration order
    if (starts_with(item.key(), scope) && !loaded.count(item.key().substr(scope.size()))) report.missing.push_back(item.key());
  }
  return report;
}

NamedTensors state_dict(const torch::nn::Module& module, const std::string& scope) {
  NamedTensors out;
  for (const auto& item : module.named_parameters(true)) {
    if (starts_with(item.key(), scope)) out.emplace_back(item.key().substr(scope.size()), item.value().detach().contiguous());
  }
  return out;
}

}  // namespace tce
