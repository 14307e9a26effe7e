#include "napi/process_group_wrap.h"

#include <ATen/core/grad_mode.h>

#include "distributed/process_group.h"
#include "models/model_handle.h"
#include "napi/async_task.h"
#include "napi/model_wrap.h"
#include "napi/napi_args.h"
#include "runtime/errors.h"

namespace tce {
namespace {

Napi::FunctionReference* constructor = nullptr;

Napi::Value undefined(Napi::Env env, bool&) { return env.Undefined(); }

std::shared_ptr<ProcessGroup> connected(const std::shared_ptr<std::shared_ptr<ProcessGroup>>& slot) {
  if (!*slot) throw Error(kDistributed, "distributed: the process group is not connected (call connect() first)");
  return *slot;
}

}  // namespace

Napi::Function ProcessGroupWrap::Define(Napi::Env env) {
  auto func = DefineClass(env, "ProcessGroup",
                          {InstanceMethod("connect", &ProcessGroupWrap::Connect),
                           InstanceMethod("broadcastModel", &ProcessGroupWrap::BroadcastModel),
                           InstanceMethod("allReduceMax", &ProcessGroupWrap::AllReduceMax),
                           InstanceMethod("barrier", &ProcessGroupWrap::Barrier),
                           InstanceMethod("saveRngStates", &ProcessGroupWrap::SaveRngStates),
                           InstanceMethod("loadRngState", &ProcessGroupWrap::LoadRngState),
                           InstanceMethod("close", &ProcessGroupWrap::Close)});
  constructor = new Napi::FunctionReference(Napi::Persistent(func));
  return func;
}

ProcessGroupWrap::ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
  guard(info.Env(), [&] {
    if (info.Length() < 1 || !info[0].IsObject()) throw ArgumentError("ProcessGroup(options): options must be an object");
    const auto o = info[0].As<Napi::Object>();
    options_ = std::make_shared<ProcessGroupOptions>();
    options_->master_addr = required_string(o, "masterAddr", "ProcessGroup");
    options_->master_port = static_cast<int>(required_integer(o, "masterPort", "ProcessGroup"));
    options_->rank = static_cast<int>(required_integer(o, "rank", "ProcessGroup"));
    options_->world_size = static_cast<int>(required_integer(o, "worldSize", "ProcessGroup"));
    options_->timeout = std::chrono::milliseconds(required_integer(o, "timeoutMs", "ProcessGroup"));
    options_->interface = optional_string(o, "interface", "", "ProcessGroup");
    group_ = std::make_shared<std::shared_ptr<ProcessGroup>>();
  });
}

std::shared_ptr<ProcessGroup> ProcessGroupWrap::GroupOf(const Napi::Value& value) {
  if (!value.IsObject() || !constructor || !value.As<Napi::Object>().InstanceOf(constructor->Value())) {
    throw ArgumentError("expected a native ProcessGroup object");
  }
  return connected(ObjectWrap<ProcessGroupWrap>::Unwrap(value.As<Napi::Object>())->group_);
}

Napi::Value ProcessGroupWrap::Connect(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    auto slot = group_;
    auto options = options_;
    return AsyncTask<bool>::Run(info.Env(), [slot, options] {
      if (*slot) throw ArgumentError("distributed: the process group is already connected");
      *slot = std::make_shared<ProcessGroup>(*options);
      return true;
    }, undefined);
  });
}

Napi::Value ProcessGroupWrap::BroadcastModel(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    auto handle = ModelWrap::HandleOf(info[0]);
    auto slot = group_;
    return AsyncTask<bool>::Run(info.Env(), [slot, handle] {
      auto group = connected(slot);
      std::unique_lock<std::shared_mutex> lock(handle->mutex);
      auto& model = handle->live();
      std::vector<at::Tensor> tensors;
      for (const auto& p : model.parameters()) tensors.push_back(p);
      group->broadcast(tensors, 0, "broadcasting the weights from rank 0");
      return true;
    }, undefined);
  });
}

Napi::Value ProcessGroupWrap::AllReduceMax(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsString()) throw ArgumentError("allReduceMax(values, what): an array and a string");
    const auto array = info[0].As<Napi::Array>();
    std::vector<double> values;
    for (uint32_t i = 0; i < array.Length(); ++i) values.push_back(array.Get(i).As<Napi::Number>().DoubleValue());
    const std::string what = info[1].As<Napi::String>().Utf8Value();
    auto slot = group_;
    return AsyncTask<std::vector<double>>::Run(
        info.Env(),
        [slot, values, what] {
          auto group = connected(slot);
          auto flat = at::tensor(values, at::TensorOptions().dtype(at::kDouble));
          group->all_reduce_max(flat, what);
          return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
        },
        [](Napi::Env env, std::vector<double>& result) -> Napi::Value {
          auto out = Napi::Array::New(env, result.size());
          for (size_t i = 0; i < result.size(); ++i) out.Set(static_cast<uint32_t>(i), result[i]);
          return out;
        });
  });
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    const std::string what = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "a barrier";
    auto slot = group_;
    return AsyncTask<bool>::Run(info.Env(), [slot, what] { connected(slot)->barrier(what); return true; }, undefined);
  });
}

Napi::Value ProcessGroupWrap::SaveRngStates(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 1 || !info[0].IsString()) throw ArgumentError("saveRngStates(dir): a directory ('' on ranks other than 0)");
    const std::string dir = info[0].As<Napi::String>().Utf8Value();
    auto slot = group_;
    return AsyncTask<bool>::Run(info.Env(), [slot, dir] { save_rng_states(*connected(slot), dir); return true; }, undefined);
  });
}

Napi::Value ProcessGroupWrap::LoadRngState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 1 || !info[0].IsString()) throw ArgumentError("loadRngState(dir): a checkpoint directory");
    const std::string dir = info[0].As<Napi::String>().Utf8Value();
    auto slot = group_;
    return AsyncTask<bool>::Run(info.Env(), [slot, dir] { load_rng_state(*connected(slot), dir); return true; }, undefined);
  });
}

Napi::Value ProcessGroupWrap::Close(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    auto slot = group_;
    // On the compute thread, after any collective queued before: closing never races one.
    return AsyncTask<bool>::Run(info.Env(), [slot] {
      if (*slot) (*slot)->close();
      slot->reset();
      return true;
    }, undefined);
  });
}

}  // namespace tce
