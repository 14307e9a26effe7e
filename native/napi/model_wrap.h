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
  ~ModelWrap() override;

  // For other wrappers (the trainer) that receive a model object from JS.
  static std::shared_ptr<ModelHandle> HandleOf(const Napi::Value& value);

 private:
  Napi::Value LoadWeights(const Napi::CallbackInfo& info);
  Napi::Value SaveWeights(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value InitParameters(const Napi::CallbackInfo& info);
  Napi::Value InitWeights(const Napi::CallbackInfo& info);
  Napi::Value Quantize(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  // Tells V8 how much native memory this object keeps alive (the weights), so that garbage
  // collection weighs it: an undisposed model is a small JS object holding megabytes.
  void report_external_memory(Napi::Env env, int64_t bytes);

  std::shared_ptr<ModelHandle> handle_;
  int64_t external_bytes_ = 0;
};

}  // namespace tce
