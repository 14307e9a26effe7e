#include "napi/model_wrap.h"

#include <map>
#include <mutex>

#include "formats/safetensors.h"
#include "formats/weights_file.h"
#include "model/batch.h"
#include "model/model_handle.h"
#include "model/state_dict.h"
#include "napi/async_task.h"
#include "napi/batch_args.h"
#include "napi/napi_args.h"
#include "runtime/errors.h"

namespace tce {
namespace {

Napi::FunctionReference* constructor = nullptr;

// Reads the Hugging Face config.json field names, already defaulted by lib/model/config.ts.
BertConfig config_from_js(const Napi::Value& value) {
  if (!value.IsObject()) throw ArgumentError("Model(config): config must be an object");
  const auto object = value.As<Napi::Object>();
  BertConfig c;
  const auto get_int = [&](const char* key, int64_t fallback) { return optional_integer(object, key, fallback, "config"); };
  const auto get_double = [&](const char* key, double fallback) { return optional_number(object, key, fallback, "config"); };
  c.vocab_size = get_int("vocab_size", c.vocab_size);
  c.hidden_size = get_int("hidden_size", c.hidden_size);
  c.num_hidden_layers = get_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = get_int("num_attention_heads", c.num_attention_heads);
  c.intermediate_size = get_int("intermediate_size", c.intermediate_size);
  c.max_position_embeddings = get_int("max_position_embeddings", c.max_position_embeddings);
  c.type_vocab_size = get_int("type_vocab_size", c.type_vocab_size);
  c.num_labels = get_int("num_labels", c.num_labels);
  c.hidden_dropout_prob = get_double("hidden_dropout_prob", c.hidden_dropout_prob);
  c.attention_probs_dropout_prob = get_double("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  c.classifier_dropout = get_double("classifier_dropout", c.hidden_dropout_prob);
  c.layer_norm_eps = get_double("layer_norm_eps", c.layer_norm_eps);
  c.initializer_range = get_double("initializer_range", c.initializer_range);
  c.hidden_act = optional_string(object, "hidden_act", c.hidden_act, "config");
  c.validate();
  return c;
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
                           InstanceMethod("initClassifier", &ModelWrap::InitClassifier),
                           InstanceMethod("initWeights", &ModelWrap::InitWeights),
                           InstanceMethod("numParameters", &ModelWrap::NumParameters)});
  constructor = new Napi::FunctionReference(Napi::Persistent(func));
  return func;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  guard(info.Env(), [&] {
    handle_ = std::make_shared<ModelHandle>(config_from_js(info[0]));
    handle_->model->eval();
  });
}

std::shared_ptr<ModelHandle> ModelWrap::HandleOf(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor->Value())) {
    throw ArgumentError("expected a native Model object");
  }
  return ObjectWrap<ModelWrap>::Unwrap(value.As<Napi::Object>())->handle_;
}

Napi::Value ModelWrap::LoadWeights(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    const auto path = string_arg(info, 0, "loadWeights(path): path");
    auto handle = handle_;
    return AsyncTask<LoadReport>::Run(
        info.Env(),
        [handle, path] {
          const auto tensors = read_weights(path);  // parse outside the lock
          std::unique_lock<std::shared_mutex> lock(handle->mutex);
          return load_state_dict(*handle->model, tensors, path);
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
    const auto path = string_arg(info, 0, "saveWeights(path, metadata): path");
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
        [handle, path, metadata] {
          NamedTensors tensors;
          {
            std::shared_lock<std::shared_mutex> lock(handle->mutex);
            for (auto& [name, tensor] : state_dict(*handle->model)) tensors.emplace_back(name, tensor.clone());
          }
          write_safetensors(path, tensors, metadata);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
  });
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    std::vector<Napi::Value> keep_alive;
    const auto batch = token_batch_from_args(info, 0, keep_alive);
    auto handle = handle_;
    return AsyncTask<std::vector<float>>::Run(
        info.Env(),
        [handle, batch] {
          c10::InferenceMode inference;
          std::shared_lock<std::shared_mutex> lock(handle->mutex);
          const auto tensors = batch.to_tensors(handle->model->config);
          const auto logits = handle->model->forward(tensors.input_ids, tensors.token_type_ids,
                                                     tensors.attention_mask).contiguous();
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

Napi::Value ModelWrap::InitClassifier(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    std::unique_lock<std::shared_mutex> lock(handle_->mutex);
    handle_->model->init_classifier();
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::InitWeights(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      throw ArgumentError("initWeights(seed, padTokenId): numbers expected");
    }
    const double seed = info[0].As<Napi::Number>().DoubleValue();
    if (!(seed >= 0) || seed != static_cast<double>(static_cast<uint64_t>(seed))) {
      throw ArgumentError("initWeights(seed, padTokenId): seed must be a non-negative integer");
    }
    std::unique_lock<std::shared_mutex> lock(handle_->mutex);
    handle_->model->init_weights(static_cast<uint64_t>(seed), info[1].As<Napi::Number>().Int64Value());
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::NumParameters(const Napi::CallbackInfo& info) {
  int64_t total = 0;
  for (const auto& p : handle_->model->parameters()) total += p.numel();
  return Napi::Number::New(info.Env(), static_cast<double>(total));
}

}  // namespace tce
