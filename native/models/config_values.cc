#include "models/config_values.h"

#include <cmath>

#include "runtime/errors.h"

namespace tce {

const ConfigValues::Value& ConfigValues::get(const char* key, const char* type) const {
  const auto found = values_.find(key);
  if (found == values_.end()) throw ArgumentError(std::string("config.") + key + " is required (" + type + ")");
  return found->second;
}

double ConfigValues::number(const char* key) const {
  const Value& value = get(key, "a number");
  if (!std::holds_alternative<double>(value)) throw ArgumentError(std::string("config.") + key + " must be a number");
  const double number = std::get<double>(value);
  if (!std::isfinite(number)) throw ArgumentError(std::string("config.") + key + " must be finite");
  return number;
}

int64_t ConfigValues::integer(const char* key, int64_t min, int64_t max) const {
  const double value = number(key);
  if (std::floor(value) != value || value < static_cast<double>(min) || value > static_cast<double>(max)) {
    throw ArgumentError(std::string("config.") + key + " must be an integer in [" + std::to_string(min) + ", " +
                        std::to_string(max) + "], got " + std::to_string(value));
  }
  return static_cast<int64_t>(value);
}

double ConfigValues::probability(const char* key) const {
  const double p = number(key);
  if (!(p >= 0.0 && p < 1.0)) throw ArgumentError(std::string("config.") + key + " must be a probability in [0, 1)");
  return p;
}

double ConfigValues::positive(const char* key) const {
  const double value = number(key);
  if (!(value > 0.0)) throw ArgumentError(std::string("config.") + key + " must be > 0");
  return value;
}

bool ConfigValues::boolean(const char* key) const {
  const Value& value = get(key, "a boolean");
  if (!std::holds_alternative<bool>(value)) throw ArgumentError(std::string("config.") + key + " must be a boolean");
  return std::get<bool>(value);
}

const std::string& ConfigValues::string(const char* key) const {
  const Value& value = get(key, "a string");
  if (!std::holds_alternative<std::string>(value)) throw ArgumentError(std::string("config.") + key + " must be a string");
  return std::get<std::string>(value);
}

ConfigValues ConfigValues::sub(const std::string& prefix) const {
  ConfigValues part;
  for (auto it = values_.lower_bound(prefix); it != values_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    part.set(it->first.substr(prefix.size()), it->second);
  }
  return part;
}

}  // namespace tce
