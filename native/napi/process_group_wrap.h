// N-API face of native/distributed: a ProcessGroup JS creates from the launcher's environment
// (lib/training/distributed.ts), connects, and hands to a trainer. Every collective runs on the
// compute thread, after the work queued before it, and resolves a Promise.
#pragma once

#include <memory>

#include <napi.h>

namespace tce {

class ProcessGroup;

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);
  // The connected group of a JS ProcessGroup object (throws for anything else, or before connect()).
  static std::shared_ptr<ProcessGroup> GroupOf(const Napi::Value& value);

 private:
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value BroadcastModel(const Napi::CallbackInfo& info);
  Napi::Value AllReduceMax(const Napi::CallbackInfo& info);
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  Napi::Value SaveRngStates(const Napi::CallbackInfo& info);
  Napi::Value LoadRngState(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<struct ProcessGroupOptions> options_;
  std::shared_ptr<std::shared_ptr<ProcessGroup>> group_;  // set on the compute thread by connect()
};

}  // namespace tce
