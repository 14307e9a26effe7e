#include "napi/model_wrap.h"

#include <map>
#include <mutex>

#include "formats/safetensors.h"
#include "formats/weights_file.h"
#include "models/batch.h"
#include "models/model_handle.h"
#include "models/quantize.h"
#include "models/registry.h"
#include "models/state_dict.h"
#include "napi/async_task.h"
#include "napi/batch_args.h"
#include "napi/napi_args.h"
#include "runtime/errors.h"

namespace tce {
namespace {

Napi::FunctionReference* constructor = nullptr;

// The config object lib/model/families/ builds (defaults filled, validated): copied as is, for
// the family's config struct to read (models/config_values.h).
ConfigValues config_from_js(const Napi::Value& value) {
  if (!value.IsObject()) throw ArgumentError("Model(config): config must be an object");
  const auto object = value.As<Napi::Object>();
  const auto keys = object.GetPropertyNames();
  ConfigValues values;
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    const Napi::Value field = object.Get(key);
    if (field.IsNumber()) values.set(key, field.As<Napi::Number>().DoubleValue());
    else if (field.IsBoolean()) values.set(key, field.As<Napi::Boolean>().Value());
    else if (field.IsString()) values.set(key, field.As<Napi::String>().Utf8Value());
    else throw ArgumentError("Model(config): config." + key + " must be a number, a boolean or a string");
  }
  return values;
}

Napi::Value undefined(Napi::Env env, bool&) { return env.Undefined(); }

// Weights that are finite can still overflow float32 on the way (a corrupt exponent, a diverged
// run): refuse such logits rather than hand out NaN scores.
void check_finite_logits(const torch::Tensor& logits) {
  const auto bad = torch::logical_not(torch::isfinite(logits)).any(/*dim=*/1);
  if (!bad.any().item<bool>()) return;
  const int64_t row = bad.nonzero()[0][0].item<int64_t>();
  throw FormatError("the model's logits for row " + std::to_string(row) + " of the batch are not finite (" +
                    std::to_string(logits[row][0].item<float>()) +
                    "): its weights overflow float32 on this input; they are corrupt or diverged");
}

// Runs `change` on the compute thread under the exclusive lock (it changes or frees the weights,
// so no forward may read them meanwhile); the Promise resolves to undefined.
template <typename Change>
Napi::Promise run_exclusive(Napi::Env env, std::shared_ptr<ModelHandle> handle, Change change) {
  return AsyncTask<bool>::Run(
      env,
      [handle, change] {
        std::unique_lock<std::shared_mutex> lock(handle->mutex);
        change(*handle);
        return true;
      },
      undefined);
}

std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsString()) throw ArgumentError(std::string(what) + " must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

Napi::Array to_js_strings(Napi::Env env, const std::vector<std::string>& strings) {
  auto array = Napi::Array::New(env, strings.size());
  for (size_t i = 0; i < strings.size(); ++i) array.Set(i, Napi::String::New(env, strings[i]));
  return array;
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  auto func = DefineClass(env, "Model",
                          {InstanceMethod("loadWeights", &ModelWrap::LoadWeights),
                           InstanceMethod("saveWeights", &ModelWrap::SaveWeights),
                           InstanceMethod("forward", &ModelWrap::Forward),
                           InstanceMethod("initParameters", &ModelWrap::InitParameters),
                           InstanceMethod("initWeights", &ModelWrap::InitWeights),
                           InstanceMethod("quantize", &ModelWrap::Quantize),
                           InstanceMethod("dispose", &ModelWrap::Dispose)});
  constructor = new Napi::FunctionReference(Napi::Persistent(func));
  return func;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  guard(info.Env(), [&] {
    handle_ = std::make_shared<ModelHandle>(create_model(config_from_js(info[0])));
    handle_->model->eval();
    int64_t bytes = 0;
    for (const auto& parameter : handle_->model->parameters()) bytes += parameter.numel() * parameter.element_size();
    report_external_memory(info.Env(), bytes);
  });
}

ModelWrap::~ModelWrap() { report_external_memory(Env(), 0); }

void ModelWrap::report_external_memory(Napi::Env env, int64_t bytes) {
  if (bytes == external_bytes_) return;
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes - external_bytes_);
  external_bytes_ = bytes;
}

std::shared_ptr<ModelHandle> ModelWrap::HandleOf(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor->Value())) {
    throw ArgumentError("expected a native Model object");
  }
  return ObjectWrap<ModelWrap>::Unwrap(value.As<Napi::Object>())->handle_;
}

Napi::Value ModelWrap::LoadWeights(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    const auto path = string_arg(info, 0, "loadWeights(path, scope): path");
    const auto scope = info.Length() > 1 ? string_arg(info, 1, "loadWeights(path, scope): scope") : std::string();
    auto handle = handle_;
    return AsyncTask<LoadReport>::Run(
        info.Env(),
        [handle, path, scope] {
          const auto tensors = scan_weights(path);  // headers are parsed outside the lock
          std::unique_lock<std::shared_mutex> lock(handle->mutex);
          return load_state_dict(handle->live(), tensors, path, scope);
        },
        [](Napi::Env env, LoadReport& report) -> Napi::Value {
          auto result = Napi::Object::New(env);
          result.Set("missing", to_js_strings(env, report.missing));
          result.Set("unexpected", to_js_strings(env, report.unexpected));
          return result;
        });
  });
}

Napi::Value ModelWrap::SaveWeights(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    const auto path = string_arg(info, 0, "saveWeights(path, metadata, scope): path");
    const auto scope = info.Length() > 2 ? string_arg(info, 2, "saveWeights(path, metadata, scope): scope") : std::string();
    std::map<std::string, std::string> metadata;
    if (info.Length() > 1 && info[1].IsObject()) {
      const auto object = info[1].As<Napi::Object>();
      const auto keys = object.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        const auto key = keys.Get(i).ToString().Utf8Value();
        metadata[key] = object.Get(key).ToString().Utf8Value();
      }
    }
    auto handle = handle_;
    return AsyncTask<bool>::Run(
        info.Env(),
        [handle, path, metadata, scope] {
          NamedTensors tensors;
          {
            std::shared_lock<std::shared_mutex> lock(handle->mutex);
            for (auto& [name, tensor] : state_dict(handle->live(), scope)) tensors.emplace_back(name, tensor.clone());
          }
          write_safetensors(path, tensors, metadata);
          return true;
        },
        undefined);
  });
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    std::vector<Napi::Value> keep_alive;
    if (info.Length() < 1 || !info[0].IsObject()) throw ArgumentError("forward(batch): batch must be an object");
    const auto batch = token_batch_from_object(info[0].As<Napi::Object>(), keep_alive);
    auto handle = handle_;
    return AsyncTask<std::vector<float>>::Run(
        info.Env(),
        [handle, batch] {
          c10::InferenceMode inference;
          std::shared_lock<std::shared_mutex> lock(handle->mutex);
          auto& model = handle->live();
          const auto logits = model.forward(batch.to_tensors(model.shape())).contiguous();
          check_finite_logits(logits);
          return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
        },
        [](Napi::Env env, std::vector<float>& logits) -> Napi::Value {
          auto array = Napi::Float32Array::New(env, logits.size());
          std::copy(logits.begin(), logits.end(), array.Data());
          return array;
        },
        keep_alive);
  });
}

Napi::Value ModelWrap::InitParameters(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 1 || !info[0].IsArray()) throw ArgumentError("initParameters(names): names must be an array of strings");
    const auto array = info[0].As<Napi::Array>();
    std::vector<std::string> names;
    for (uint32_t i = 0; i < array.Length(); ++i) {
      const Napi::Value name = array.Get(i);
      if (!name.IsString()) throw ArgumentError("initParameters(names): names[" + std::to_string(i) + "] is not a string");
      names.push_back(name.As<Napi::String>().Utf8Value());
    }
    return run_exclusive(info.Env(), handle_, [names](ModelHandle& handle) { handle.live().init_parameters(names); });
  });
}

Napi::Value ModelWrap::InitWeights(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 1 || !info[0].IsNumber()) throw ArgumentError("initWeights(seed): a number expected");
    const double seed = info[0].As<Napi::Number>().DoubleValue();
    if (!(seed >= 0) || seed != static_cast<double>(static_cast<uint64_t>(seed))) {
      throw ArgumentError("initWeights(seed): seed must be a non-negative integer");
    }
    return run_exclusive(info.Env(), handle_, [seed](ModelHandle& handle) {
      handle.live().init_weights(static_cast<uint64_t>(seed));
    });
  });
}

// Packs every Linear layer's current weights as dynamic int8 (models/quantize.h); forward then
// runs them. The float32 parameters stay (state_dict, messages), but the model is for inference.
Napi::Value ModelWrap::Quantize(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    return run_exclusive(info.Env(), handle_, [](ModelHandle& handle) { quantize_dynamic(handle.live()); });
  });
}

// Releases the module on the compute thread, after the work queued before it (the queue is in
// submission order), and under the exclusive lock, so no forward still reads the weights.
Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    report_external_memory(info.Env(), 0);  // freed as soon as the queued work before it is done
    return run_exclusive(info.Env(), handle_, [](ModelHandle& handle) { handle.dispose(); });
  });
}

}  // namespace tce
