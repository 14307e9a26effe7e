// The model families by config.json `model_type`: the one place a new family is added on the
// native side (its file in models/ and a line in registry.cc). lib/model/families/ is the JS
// side's registry of the same names.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/config_values.h"
#include "models/sequence_classifier.h"

namespace tce {

// The model `values` (with its `model_type`) describes, with weights as the constructors leave
// them (init_weights or a checkpoint fills them): a family's sequence classifier, or with
// `model_type: modular` a Sentence Transformers modular cross-encoder over the base model of
// `trunk.model_type`. ArgumentError for an unknown model_type or a bad field.
std::shared_ptr<SequenceClassifier> create_model(const ConfigValues& values);

std::vector<std::string> supported_model_types();

}  // namespace tce
