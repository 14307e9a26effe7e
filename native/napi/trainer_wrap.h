// N-API face of the trainer: JS drives the loop and hands over tokenised, labelled batches;
// every step runs on the compute thread and resolves with the numbers the Trainer logs.
#pragma once

#include <memory>

#include <napi.h>

namespace tce {

class Trainer;

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TrainerWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value EvalLoss(const Napi::CallbackInfo& info);
  Napi::Value DrawLoaderSeed(const Napi::CallbackInfo& info);
  Napi::Value SaveState(const Napi::CallbackInfo& info);
  Napi::Value LoadState(const Napi::CallbackInfo& info);
  Napi::Value StepsTaken(const Napi::CallbackInfo& info);
  Napi::Value SetProcessGroup(const Napi::CallbackInfo& info);

  std::shared_ptr<Trainer> trainer_;
};

// randperm(n, seed) -> Float64Array: the order Sentence Transformers' sampler draws; with sizes
// [n1, n2, ...], consecutive draws from one generator, back to back (multi-dataset sampling).
Napi::Value Randperm(const Napi::CallbackInfo& info);

// probeLoss(options, numLabels, logits, batch) -> { loss, gradient }: a loss on given logits (tests).
Napi::Value ProbeLoss(const Napi::CallbackInfo& info);

}  // namespace tce
