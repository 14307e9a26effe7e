#include "napi/napi_args.h"

#include <cmath>

#include "runtime/errors.h"

namespace tce {
namespace {

Napi::Value field(const Napi::Object& object, const char* key) { return object.Get(key); }

bool absent(const Napi::Value& value) { return value.IsUndefined() || value.IsNull(); }

std::string name(const char* owner, const char* key) { return std::string(owner) + "." + key; }

}  // namespace

double optional_number(const Napi::Object& object, const char* key, double fallback, const char* owner) {
  const auto value = field(object, key);
  if (absent(value)) return fallback;
  if (!value.IsNumber()) throw ArgumentError(name(owner, key) + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

int64_t optional_integer(const Napi::Object& object, const char* key, int64_t fallback, const char* owner) {
  const auto value = field(object, key);
  if (absent(value)) return fallback;
  const double number = optional_number(object, key, 0, owner);
  constexpr double kMaxExact = 9007199254740992.0;  // 2^53
  if (!std::isfinite(number) || std::floor(number) != number || std::fabs(number) > kMaxExact) {
    throw ArgumentError(name(owner, key) + " must be an integer");
  }
  return static_cast<int64_t>(number);
}

std::string optional_string(const Napi::Object& object, const char* key, const std::string& fallback, const char* owner) {
  const auto value = field(object, key);
  if (absent(value)) return fallback;
  if (!value.IsString()) throw ArgumentError(name(owner, key) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

static void require(const Napi::Object& object, const char* key, const char* owner) {
  if (absent(field(object, key))) throw ArgumentError(name(owner, key) + " is required");
}

double required_number(const Napi::Object& object, const char* key, const char* owner) {
  require(object, key, owner);
  return optional_number(object, key, 0, owner);
}

int64_t required_integer(const Napi::Object& object, const char* key, const char* owner) {
  require(object, key, owner);
  return optional_integer(object, key, 0, owner);
}

std::string required_string(const Napi::Object& object, const char* key, const char* owner) {
  require(object, key, owner);
  return optional_string(object, key, "", owner);
}

}  // namespace tce
