// N-API face of a BertForSequenceClassification: construct from a config, load and save
// weights, score token batches, release the module. All heavy methods return Promises.
#pragma once

#include <memory>

#include <napi.h>

namespace tce {

struct ModelHandle;

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

  // For other wrappers (the trainer) that receive a model object from JS.
  static std::shared_ptr<ModelHandle> HandleOf(const Napi::Value& value);

 private:
  Napi::Value LoadWeights(const Napi::CallbackInfo& info);
  Napi::Value SaveWeights(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value InitClassifier(const Napi::CallbackInfo& info);
  Napi::Value InitWeights(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelHandle> handle_;
};

}  // namespace tce
