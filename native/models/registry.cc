#include "models/registry.h"

#include <functional>
#include <map>

#include "models/bert.h"
#include "models/electra.h"
#include "models/modernbert.h"
#include "models/roberta.h"
#include "runtime/errors.h"

namespace tce {
namespace {

using Factory = std::function<std::shared_ptr<SequenceClassifier>(const ConfigValues&)>;

template <typename Model, typename Config>
Factory factory() {
  return [](const ConfigValues& values) { return std::make_shared<Model>(Config::from(values)); };
}

const std::map<std::string, Factory>& families() {
  static const std::map<std::string, Factory> registry = {
      {"bert", factory<BertForSequenceClassification, BertConfig>()},
      {"electra", factory<ElectraForSequenceClassification, ElectraConfig>()},
      {"modernbert", factory<ModernBertForSequenceClassification, ModernBertConfig>()},
      {"roberta", factory<RobertaForSequenceClassification, RobertaConfig>()},
      {"xlm-roberta", factory<RobertaForSequenceClassification, RobertaConfig>()},
  };
  return registry;
}

}  // namespace

std::vector<std::string> supported_model_types() {
  std::vector<std::string> names;
  for (const auto& entry : families()) names.push_back(entry.first);
  return names;
}

std::shared_ptr<SequenceClassifier> create_model(const ConfigValues& values) {
  const std::string& type = values.string("model_type");
  const auto found = families().find(type);
  if (found == families().end()) {
    std::string supported;
    for (const auto& name : supported_model_types()) supported += (supported.empty() ? "" : ", ") + name;
    throw ArgumentError("config.model_type '" + type + "' is not supported; supported: " + supported);
  }
  return found->second(values);
}

}  // namespace tce
