#include "models/registry.h"

#include <functional>
#include <map>

#include "models/bert.h"
#include "models/electra.h"
#include "models/modernbert.h"
#include "models/modular.h"
#include "models/roberta.h"
#include "runtime/errors.h"

namespace tce {
namespace {

// A family: its sequence classifier, and its base model (for modular cross-encoders).
struct Family {
  std::function<std::shared_ptr<SequenceClassifier>(const ConfigValues&)> classifier;
  std::function<std::pair<std::shared_ptr<TokenEncoder>, ModelShape>(const ConfigValues&)> encoder;
};

template <typename Classifier, typename BaseModel, typename Config>
Family family() {
  return Family{
      [](const ConfigValues& values) { return std::make_shared<Classifier>(Config::from(values)); },
      [](const ConfigValues& values) {
        const Config config = Config::from(values);
        return std::make_pair(std::static_pointer_cast<TokenEncoder>(std::make_shared<BaseModel>(config)), config.shape());
      },
  };
}

const std::map<std::string, Family>& families() {
  static const std::map<std::string, Family> registry = {
      {"bert", family<BertForSequenceClassification, BertModelImpl, BertConfig>()},
      {"electra", family<ElectraForSequenceClassification, ElectraModelImpl, ElectraConfig>()},
      {"modernbert", family<ModernBertForSequenceClassification, ModernBertModelImpl, ModernBertConfig>()},
      {"roberta", family<RobertaForSequenceClassification, RobertaModelImpl, RobertaConfig>()},
      {"xlm-roberta", family<RobertaForSequenceClassification, RobertaModelImpl, RobertaConfig>()},
  };
  return registry;
}

const Family& family_of(const std::string& type) {
  const auto found = families().find(type);
  if (found == families().end()) {
    std::string supported;
    for (const auto& name : supported_model_types()) supported += (supported.empty() ? "" : ", ") + name;
    throw ArgumentError("config.model_type '" + type + "' is not supported; supported: " + supported);
  }
  return found->second;
}

// A modular cross-encoder over the base model of "trunk.model_type"; its shape is the trunk's,
// with the head's number of scores.
std::shared_ptr<SequenceClassifier> create_modular(const ConfigValues& values) {
  const ConfigValues trunk_values = values.sub("trunk.");
  auto [trunk, shape] = family_of(trunk_values.string("model_type")).encoder(trunk_values);
  shape.num_labels = values.integer("num_labels", 1, 1 << 20);
  shape.base_model_prefix = "0";
  return std::make_shared<ModularCrossEncoder>(values, std::move(trunk), std::move(shape));
}

}  // namespace

std::vector<std::string> supported_model_types() {
  std::vector<std::string> names;
  for (const auto& entry : families()) names.push_back(entry.first);
  return names;
}

std::shared_ptr<SequenceClassifier> create_model(const ConfigValues& values) {
  const std::string& type = values.string("model_type");
  if (type == "modular") return create_modular(values);
  return family_of(type).classifier(values);
}

}  // namespace tce
