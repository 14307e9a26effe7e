// The model shared by every JS object that uses it (the CrossEncoder's native model and a
// trainer). Inference takes the lock shared, so concurrent predicts run in parallel; training
// steps, loading, saving and disposing take it exclusively, because they change the weights or
// the module's train/eval mode.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "models/sequence_classifier.h"
#include "runtime/errors.h"
#include "runtime/memory.h"

namespace tce {

struct ModelHandle {
  explicit ModelHandle(std::shared_ptr<SequenceClassifier> m) : model(std::move(m)), shape(model->shape()) {}

  // The module, or empty once disposed. Call live() before touching it.
  std::shared_ptr<SequenceClassifier> model;
  // Kept after disposal, for messages and shapes.
  const ModelShape shape;
  std::shared_mutex mutex;

  // Throws ERR_DISPOSED once dispose() has run. Call with `mutex` held.
  SequenceClassifier& live() {
    if (!model) throw Error(kDisposed, "the model was disposed: its native memory is released");
    return *model;
  }

  // Something else holding the module's tensors (a trainer's optimiser) that must let go of them
  // when the model is disposed, so the memory is freed at once rather than when JS collects it.
  void on_dispose(std::function<void()> release) {
    std::lock_guard<std::mutex> lock(hooks_mutex_);
    hooks_.push_back(std::move(release));
  }

  // Releases the module and everything registered with on_dispose(). Call with `mutex` held
  // exclusively, on the compute thread (whose malloc arena holds the tensors).
  void dispose() {
    std::vector<std::function<void()>> hooks;
    {
      std::lock_guard<std::mutex> lock(hooks_mutex_);
      hooks.swap(hooks_);
    }
    for (auto& release : hooks) release();
    model.reset();
    release_free_memory();
  }

 private:
  std::mutex hooks_mutex_;
  std::vector<std::function<void()>> hooks_;
};

}  // namespace tce
