// Moving named tensors in and out of a module. Names are Hugging Face's state-dict keys,
// so this is a lookup plus the two renames Hugging Face itself applies when loading.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "formats/tensor_file.h"
#include "models/sequence_classifier.h"

namespace tce {

struct LoadReport {
  std::vector<std::string> missing;     // parameters of the module the file does not have
  std::vector<std::string> unexpected;  // tensors of the file the module does not have
};

// Copies every stored tensor whose (normalised) name matches a parameter, reading only those and
// only after every name, dtype and shape has been checked. A mismatch, a name given twice or a
// non-finite value throws a FormatError naming the tensor. `source` names the file in messages.
// With a `scope` ("2." for a modular model's module "2"), the file fills the parameters under it,
// its names without the scope, and `missing` counts only those.
LoadReport load_state_dict(SequenceClassifier& module, const StoredTensors& tensors, const std::string& source,
                           const std::string& scope = "");

// Parameters in registration order, detached, contiguous; with a `scope`, those under it, named
// without it.
NamedTensors state_dict(const torch::nn::Module& module, const std::string& scope = "");

}  // namespace tce
