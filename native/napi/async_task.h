// Runs native work off the main thread and settles a Promise, so heavy computation never blocks
// the event loop: a libuv worker hands the work to the compute thread (runtime/compute_thread.h) and
// waits. JS values the work reads (typed arrays) are kept alive by references until the Promise
// settles; they are released on the main thread.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include <napi.h>

#include "napi/napi_errors.h"
#include "runtime/cancellation.h"
#include "runtime/compute_thread.h"

namespace tce {

template <typename Result>
class AsyncTask : public Napi::AsyncWorker {
 public:
  using Compute = std::function<Result()>;
  using ToJs = std::function<Napi::Value(Napi::Env, Result&)>;

  static Napi::Promise Run(Napi::Env env, Compute compute, ToJs to_js,
                           const std::vector<Napi::Value>& keep_alive = {}) {
    auto* task = new AsyncTask(env, std::move(compute), std::move(to_js), keep_alive);
    auto promise = task->deferred_.Promise();
    task->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      ActiveWork active;
      run_on_compute_thread([this] { result_ = compute_(); });
    } catch (...) {
      error_ = describe_current_exception();
      SetError(error_.message);
    }
  }

  void OnOK() override {
    Napi::HandleScope scope(Env());
    try {
      deferred_.Resolve(to_js_(Env(), result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(make_js_error(Env(), error_).Value());
  }

 private:
  AsyncTask(Napi::Env env, Compute compute, ToJs to_js, const std::vector<Napi::Value>& keep_alive)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
        compute_(std::move(compute)), to_js_(std::move(to_js)) {
    for (const auto& value : keep_alive) references_.push_back(Napi::Persistent(value));
  }

  Napi::Promise::Deferred deferred_;
  Compute compute_;
  ToJs to_js_;
  Result result_{};
  ErrorInfo error_;
  std::vector<Napi::Reference<Napi::Value>> references_;
};

}  // namespace tce
