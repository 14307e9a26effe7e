// The model shared by every JS object that uses it (the CrossEncoder's native model and a
// trainer). Inference takes the lock shared, so concurrent predicts run in parallel; training
// steps, loading and saving take it exclusively, because they change the weights or the
// module's train/eval mode.
#pragma once

#include <shared_mutex>

#include "model/bert_model.h"

namespace tce {

struct ModelHandle {
  explicit ModelHandle(const BertConfig& config) : model(config) {}

  BertForSequenceClassification model;
  std::shared_mutex mutex;
};

}  // namespace tce
