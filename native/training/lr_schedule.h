// Learning-rate schedules of transformers' optimization.py, as multipliers of the base rate
// for the number of optimiser steps already taken (LambdaLR semantics).
#pragma once

#include <cstdint>
#include <string>

namespace tce {

struct LrSchedule {
  std::string type;  // linear | constant | constant_with_warmup | cosine
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;

  void validate() const;
  double factor(int64_t step) const;
};

}  // namespace tce
