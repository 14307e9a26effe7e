#include "napi/trainer_wrap.h"

#include <cmath>

#include "models/model_handle.h"
#include "napi/async_task.h"
#include "napi/batch_args.h"
#include "napi/model_wrap.h"
#include "napi/napi_args.h"
#include "runtime/errors.h"
#include "training/trainer.h"

namespace tce {
namespace {

TrainerOptions options_from_js(const Napi::Value& value) {
  if (!value.IsObject()) throw ArgumentError("Trainer(model, options): options must be an object");
  const auto o = value.As<Napi::Object>();
  // lib/training/ resolves every argument (Hugging Face's defaults live there): all are required.
  const auto number = [&](const char* key) { return required_number(o, key, "trainer"); };
  const auto integer = [&](const char* key) { return required_integer(o, key, "trainer"); };
  TrainerOptions options;
  options.loss.name = required_string(o, "loss", "trainer");
  const double pos_weight = optional_number(o, "posWeight", std::nan(""), "trainer");
  if (!std::isnan(pos_weight)) options.loss.pos_weight = pos_weight;
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
                      InstanceMethod("stepsTaken", &TrainerWrap::StepsTaken)});
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
    std::vector<LabelledBatch> batches;
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

Napi::Value TrainerWrap::StepsTaken(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(trainer_->steps_taken()));
}

Napi::Value Randperm(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) throw ArgumentError("randperm(n, seed): numbers expected");
    const double n = info[0].As<Napi::Number>().DoubleValue();
    const double seed = info[1].As<Napi::Number>().DoubleValue();
    if (!(n >= 0 && n <= 1e9) || n != std::floor(n)) throw ArgumentError("randperm(n, seed): n must be a non-negative integer");
    if (!(seed >= 0) || seed != std::floor(seed)) throw ArgumentError("randperm(n, seed): seed must be a non-negative integer");
    return AsyncTask<std::vector<int64_t>>::Run(
        info.Env(), [n, seed] { return seeded_randperm(static_cast<int64_t>(n), static_cast<uint64_t>(seed)); },
        [](Napi::Env env, std::vector<int64_t>& perm) -> Napi::Value {
          auto array = Napi::Float64Array::New(env, perm.size());
          for (size_t i = 0; i < perm.size(); ++i) array[i] = static_cast<double>(perm[i]);
          return array;
        });
  });
}

}  // namespace tce
