#include "napi/trainer_wrap.h"

#include <cmath>

#include "models/model_handle.h"
#include "napi/async_task.h"
#include "napi/batch_args.h"
#include "napi/model_wrap.h"
#include "napi/napi_args.h"
#include "napi/process_group_wrap.h"
#include "runtime/errors.h"
#include "training/losses/probe.h"
#include "training/trainer.h"

namespace tce {
namespace {

// { loss, lossOptions }: the loss's options as lib/training/losses/ resolved them: numbers,
// booleans (1/0) and strings; null or absent is Python's None.
LossOptions options_from_js_loss(const Napi::Object& o) {
  LossOptions loss;
  loss.name = required_string(o, "loss", "trainer");
  const auto loss_options = o.Get("lossOptions");
  if (loss_options.IsObject()) {
    const auto object = loss_options.As<Napi::Object>();
    const auto keys = object.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const auto key = keys.Get(i).As<Napi::String>().Utf8Value();
      const auto value = object.Get(key);
      if (value.IsNumber()) loss.numbers[key] = value.As<Napi::Number>().DoubleValue();
      else if (value.IsBoolean()) loss.numbers[key] = value.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
      else if (value.IsString()) loss.strings[key] = value.As<Napi::String>().Utf8Value();
      else if (!value.IsNull() && !value.IsUndefined()) throw ArgumentError("trainer.lossOptions." + key + " must be a number, boolean, string or null");
    }
  } else if (!loss_options.IsUndefined()) {
    throw ArgumentError("trainer.lossOptions must be an object");
  }
  return loss;
}

TrainerOptions options_from_js(const Napi::Value& value) {
  if (!value.IsObject()) throw ArgumentError("Trainer(model, options): options must be an object");
  const auto o = value.As<Napi::Object>();
  // lib/training/ resolves every argument (Hugging Face's defaults live there): all are required.
  const auto number = [&](const char* key) { return required_number(o, key, "trainer"); };
  const auto integer = [&](const char* key) { return required_integer(o, key, "trainer"); };
  TrainerOptions options;
  const auto losses = o.Get("losses");
  if (!losses.IsArray() || losses.As<Napi::Array>().Length() == 0) throw ArgumentError("trainer.losses must be a non-empty array of { loss, lossOptions }");
  for (uint32_t i = 0; i < losses.As<Napi::Array>().Length(); ++i) {
    const auto loss = losses.As<Napi::Array>().Get(i);
    if (!loss.IsObject()) throw ArgumentError("trainer.losses[" + std::to_string(i) + "] must be { loss, lossOptions }");
    options.losses.push_back(options_from_js_loss(loss.As<Napi::Object>()));
  }
  options.learning_rate = number("learningRate");
  options.weight_decay = number("weightDecay");
  options.adam_beta1 = number("adamBeta1");
  options.adam_beta2 = number("adamBeta2");
  options.adam_epsilon = number("adamEpsilon");
  options.max_grad_norm = number("maxGradNorm");
  options.schedule.type = required_string(o, "lrSchedulerType", "trainer");
  options.schedule.warmup_steps = integer("warmupSteps");
  options.schedule.total_steps = integer("totalSteps");
  options.seed = integer("seed");
  return options;
}

std::string dir_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw ArgumentError("expected a directory path string");
  return info[0].As<Napi::String>().Utf8Value();
}

Napi::Value undefined(Napi::Env env, bool&) { return env.Undefined(); }

}  // namespace

Napi::Function TrainerWrap::Define(Napi::Env env) {
  return DefineClass(env, "Trainer",
                     {InstanceMethod("step", &TrainerWrap::Step), InstanceMethod("evalLoss", &TrainerWrap::EvalLoss),
                      InstanceMethod("drawLoaderSeed", &TrainerWrap::DrawLoaderSeed),
                      InstanceMethod("saveState", &TrainerWrap::SaveState),
                      InstanceMethod("loadState", &TrainerWrap::LoadState),
                      InstanceMethod("stepsTaken", &TrainerWrap::StepsTaken),
                      InstanceMethod("setProcessGroup", &TrainerWrap::SetProcessGroup)});
}

TrainerWrap::TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
  guard(info.Env(), [&] {
    auto handle = ModelWrap::HandleOf(info[0]);
    trainer_ = std::make_shared<Trainer>(handle, options_from_js(info[1]));
    // The optimiser holds the model's parameters (and twice their size in moments): disposing
    // the model must free those too.
    handle->on_dispose([weak = std::weak_ptr<Trainer>(trainer_)] {
      if (auto trainer = weak.lock()) trainer->release();
    });
  });
}

Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 1 || !info[0].IsArray()) throw ArgumentError("step(batches): batches must be an array");
    const auto array = info[0].As<Napi::Array>();
    std::vector<Napi::Value> keep_alive;
    std::vector<LossBatch> batches;
    for (uint32_t i = 0; i < array.Length(); ++i) batches.push_back(labelled_batch_from_js(array.Get(i), keep_alive));
    auto trainer = trainer_;
    return AsyncTask<StepResult>::Run(
        info.Env(), [trainer, batches] { return trainer->step(batches); },
        [](Napi::Env env, StepResult& r) -> Napi::Value {
          auto result = Napi::Object::New(env);
          result.Set("loss", r.loss);
          result.Set("gradNorm", r.grad_norm);
          result.Set("learningRate", r.learning_rate);
          return result;
        },
        keep_alive);
  });
}

Napi::Value TrainerWrap::EvalLoss(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    std::vector<Napi::Value> keep_alive;
    const auto batch = labelled_batch_from_js(info[0], keep_alive);
    auto trainer = trainer_;
    return AsyncTask<double>::Run(
        info.Env(), [trainer, batch] { return trainer->eval_loss(batch); },
        [](Napi::Env env, double& loss) -> Napi::Value { return Napi::Number::New(env, loss); }, keep_alive);
  });
}

Napi::Value TrainerWrap::DrawLoaderSeed(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    auto trainer = trainer_;
    return AsyncTask<bool>::Run(info.Env(), [trainer] { trainer->draw_loader_seed(); return true; }, undefined);
  });
}

Napi::Value TrainerWrap::SaveState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    auto trainer = trainer_;
    const auto dir = dir_arg(info);
    return AsyncTask<bool>::Run(info.Env(), [trainer, dir] { trainer->save_state(dir); return true; }, undefined);
  });
}

Napi::Value TrainerWrap::LoadState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    auto trainer = trainer_;
    const auto dir = dir_arg(info);
    return AsyncTask<bool>::Run(info.Env(), [trainer, dir] { trainer->load_state(dir); return true; }, undefined);
  });
}

// setProcessGroup(group | null): later steps all-reduce their gradients over the group's ranks.
// Set between steps (JS awaits each step), so the compute thread never sees it change mid-step.
Napi::Value TrainerWrap::SetProcessGroup(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    const bool none = info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined();
    trainer_->set_process_group(none ? nullptr : ProcessGroupWrap::GroupOf(info[0]));
    return info.Env().Undefined();
  });
}

Napi::Value TrainerWrap::StepsTaken(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(trainer_->steps_taken()));
}

Napi::Value ProbeLoss(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsNumber() || !info[2].IsTypedArray()) {
      throw ArgumentError("probeLoss(options, numLabels, logits, batch): wrong arguments");
    }
    const auto num_labels = static_cast<int64_t>(info[1].As<Napi::Number>().Int64Value());
    const auto array = info[2].As<Napi::Float32Array>();
    std::vector<float> logits(array.Data(), array.Data() + array.ElementLength());
    std::vector<Napi::Value> keep_alive;
    const auto batch = labelled_batch_from_js(info[3], keep_alive);
    const auto options = options_from_js_loss(info[0].As<Napi::Object>());
    return AsyncTask<LossProbe>::Run(
        info.Env(), [options, num_labels, logits, batch] { return probe_loss(options, num_labels, logits, batch); },
        [](Napi::Env env, LossProbe& probe) -> Napi::Value {
          auto result = Napi::Object::New(env);
          result.Set("loss", probe.loss);
          auto gradient = Napi::Float32Array::New(env, probe.gradient.size());
          std::copy(probe.gradient.begin(), probe.gradient.end(), gradient.Data());
          result.Set("gradient", gradient);
          return result;
        },
        keep_alive);
  });
}

Napi::Value Randperm(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 2 || !(info[0].IsNumber() || info[0].IsArray()) || !info[1].IsNumber()) {
      throw ArgumentError("randperm(n or [n, ...], seed): numbers expected");
    }
    std::vector<int64_t> sizes;
    const auto add = [&](const Napi::Value& value) {
      const double n = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
      if (!(n >= 0 && n <= 1e9) || n != std::floor(n)) throw ArgumentError("randperm(n, seed): n must be a non-negative integer");
      sizes.push_back(static_cast<int64_t>(n));
    };
    if (info[0].IsNumber()) add(info[0]);
    else for (uint32_t i = 0; i < info[0].As<Napi::Array>().Length(); ++i) add(info[0].As<Napi::Array>().Get(i));
    const double seed = info[1].As<Napi::Number>().DoubleValue();
    if (!(seed >= 0) || seed != std::floor(seed)) throw ArgumentError("randperm(n, seed): seed must be a non-negative integer");
    return AsyncTask<std::vector<int64_t>>::Run(
        info.Env(), [sizes, seed] { return seeded_randperms(sizes, static_cast<uint64_t>(seed)); },
        [](Napi::Env env, std::vector<int64_t>& perm) -> Napi::Value {
          auto array = Napi::Float64Array::New(env, perm.size());
          for (size_t i = 0; i < perm.size(); ++i) array[i] = static_cast<double>(perm[i]);
          return array;
        });
  });
}

}  // namespace tce
