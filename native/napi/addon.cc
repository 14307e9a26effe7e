// The addon's entry point: the Model class and process-level functions.
#include <dlfcn.h>

#include <chrono>

#include <napi.h>
#include <ATen/Parallel.h>
#include <torch/version.h>
#include <ATen/Context.h>

#include "napi/model_wrap.h"
#include "napi/napi_errors.h"
#include "napi/process_group_wrap.h"
#include "napi/trainer_wrap.h"
#include "runtime/cancellation.h"

namespace tce {
namespace {

// Which BLAS libtorch's CPU matmuls go through: OpenBLAS is 35-50x faster than the reference one.
std::string blas_in_use() {
  if (dlsym(RTLD_DEFAULT, "openblas_get_config") != nullptr) return "openblas";
  if (at::hasMKL()) return "mkl";
  if (dlsym(RTLD_DEFAULT, "bli_info_get_version_str") != nullptr) return "blis";
  return "reference";
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto result = Napi::Object::New(env);
  result.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  result.Set("blas", Napi::String::New(env, blas_in_use()));
  // libtorch's default, which every thread (the compute thread too) starts with.
  result.Set("intraOpThreads", Napi::Number::New(env, at::get_num_threads()));
  result.Set("parallelInfo", Napi::String::New(env, at::get_parallel_info()));
  return result;
}

// Called from process.on('exit'): exiting while the compute thread is inside libtorch crashes or
// hangs, so running work is cancelled and awaited first.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), shutdown(std::chrono::seconds(10)));
}

}  // namespace
}  // namespace tce

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace tce;
  exports.Set("Model", ModelWrap::Define(env));
  exports.Set("Trainer", TrainerWrap::Define(env));
  exports.Set("ProcessGroup", ProcessGroupWrap::Define(env));
  exports.Set("randperm", Napi::Function::New(env, Randperm, "randperm"));
  exports.Set("probeLoss", Napi::Function::New(env, ProbeLoss, "probeLoss"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  return exports;
}

NODE_API_MODULE(torch_crossencoder, Init)
