// A token batch with one label per row, as training steps and evaluation losses take it. Apart
// from trainer.h so the N-API layer can build one without compiling libtorch's full headers.
#pragma once

#include "models/batch.h"

namespace tce {

struct LabelledBatch {
  TokenBatch tokens;
  const float* labels = nullptr;  // [batch_size]
};

}  // namespace tce
