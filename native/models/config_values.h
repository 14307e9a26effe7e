// A model's config as the JS side passes it: the config.json fields a family reads, each already
// defaulted and validated by lib/model/families/ (the one place defaults live). Each family's
// config struct reads its fields from here, requiring every one and re-checking ranges, so that no
// config can make the native side allocate nonsense or index out of bounds. The N-API layer only
// copies values in: a new family's fields need no change there.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

namespace tce {

class ConfigValues {
 public:
  using Value = std::variant<double, bool, std::string>;

  void set(const std::string& key, Value value) { values_[key] = std::move(value); }

  // Each throws ArgumentError("config.<key> ...") when the field is absent, of another type or
  // outside its range.
  int64_t integer(const char* key, int64_t min, int64_t max) const;
  double number(const char* key) const;
  double probability(const char* key) const;  // in [0, 1)
  double positive(const char* key) const;     // > 0 and finite
  bool boolean(const char* key) const;
  const std::string& string(const char* key) const;
  bool has(const std::string& key) const { return values_.count(key) > 0; }

  // The fields whose keys start with `prefix`, without it: a part's config ("trunk." fields).
  ConfigValues sub(const std::string& prefix) const;

 private:
  const Value& get(const char* key, const char* type) const;

  std::map<std::string, Value> values_;
};

}  // namespace tce
