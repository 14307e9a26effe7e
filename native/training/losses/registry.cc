// Loss name (as lib/training/losses/ sends it) -> factory. A new loss: its file, and a line here.
#include <utility>
#include <vector>

#include "runtime/errors.h"
#include "training/losses/factories.h"

namespace tce {
namespace {

using Factory = std::unique_ptr<Loss> (*)(const LossOptions&, int64_t);

const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> losses = {
      {"binary_cross_entropy", make_binary_cross_entropy},
      {"cross_entropy", make_cross_entropy},
      {"mse", make_mse},
      {"margin_mse", make_margin_mse},
      {"lambda_loss", make_lambda_loss},  // also RankNetLoss (scheme "none")
      {"list_net", make_list_net},
      {"adr_mse", make_adr_mse},
      {"plist_mle", make_plist_mle},  // also ListMLELoss (no lambda weight)
      {"multiple_negatives_ranking", make_mnrl},
      {"cached_multiple_negatives_ranking", make_cached_mnrl},
  };
  return losses;
}

}  // namespace

std::string known_losses() {
  std::string names;
  for (const auto& [name, factory] : registry()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

std::unique_ptr<Loss> make_loss(const LossOptions& options, int64_t num_labels) {
  for (const auto& [name, factory] : registry()) {
    if (name == options.name) return factory(options, num_labels);
  }
  throw ArgumentError("unknown loss '" + options.name + "'; supported: " + known_losses());
}

}  // namespace tce
