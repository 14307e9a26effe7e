#include "napi/napi_errors.h"

#include <c10/util/Exception.h>

#include "runtime/errors.h"

namespace tce {

ErrorInfo describe_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    return {e.code(), e.what()};
  } catch (const c10::Error& e) {
    return {kTorch, e.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {kTorch, "out of memory"};
  } catch (const std::exception& e) {
    return {"ERR_INTERNAL", e.what()};
  } catch (...) {
    return {"ERR_INTERNAL", "unknown native exception"};
  }
}

Napi::Error make_js_error(Napi::Env env, const ErrorInfo& info) {
  auto error = Napi::Error::New(env, info.message);
  error.Set("code", Napi::String::New(env, info.code));
  return error;
}

}  // namespace tce
