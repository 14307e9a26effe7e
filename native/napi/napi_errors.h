// Turning C++ exceptions into JS errors at the N-API boundary: tce::Error keeps its code,
// c10::Error loses its C++ backtrace, anything else becomes ERR_TORCH / ERR_INTERNAL.
#pragma once

#include <exception>
#include <string>

#include <napi.h>

namespace tce {

struct ErrorInfo {
  std::string code;
  std::string message;
};

// Describes the exception currently being handled (call only inside a catch block).
ErrorInfo describe_current_exception();

Napi::Error make_js_error(Napi::Env env, const ErrorInfo& info);

// Runs `body` and rethrows any C++ exception as a JS exception with a code.
template <typename Body>
auto guard(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw make_js_error(env, describe_current_exception());
  }
}

}  // namespace tce
