// A loss on given logits instead of a model's: the parity tests' way to compare a loss's value and
// gradient with a PyTorch re-implementation of Sentence Transformers' formula. The batch's pairs
// carry, as their first token id, the row of `logits` that stands for them.
#pragma once

#include <cstdint>
#include <vector>

#include "training/labelled_batch.h"
#include "training/losses/loss.h"

namespace tce {

struct LossProbe {
  double loss = 0;
  std::vector<float> gradient;  // d loss / d logits, [rows, num_labels]
};

LossProbe probe_loss(const LossOptions& options, int64_t num_labels, std::vector<float> logits, const LossBatch& batch);

}  // namespace tce
