// Reading the fields of the option objects JS passes in, with errors that name the field.
// lib/ fills every default and validates first (it is the one place defaults live); these
// checks keep the native side safe on its own.
#pragma once

#include <cstdint>
#include <string>

#include <napi.h>

namespace tce {

// `owner` prefixes messages: "config.hidden_size must be an integer".
double optional_number(const Napi::Object& object, const char* key, double fallback, const char* owner);
// A finite integer within ±2^53 (what a JS number holds exactly).
int64_t optional_integer(const Napi::Object& object, const char* key, int64_t fallback, const char* owner);
std::string optional_string(const Napi::Object& object, const char* key, const std::string& fallback, const char* owner);

// The same for fields that must be present: ArgumentError("config.hidden_size is required").
double required_number(const Napi::Object& object, const char* key, const char* owner);
int64_t required_integer(const Napi::Object& object, const char* key, const char* owner);
std::string required_string(const Napi::Object& object, const char* key, const char* owner);

}  // namespace tce
