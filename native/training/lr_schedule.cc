#include "training/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "runtime/errors.h"

namespace tce {

void LrSchedule::validate() const {
  if (type != "linear" && type != "constant" && type != "constant_with_warmup" && type != "cosine") {
    throw ArgumentError("unknown lrSchedulerType '" + type + "'; supported: linear, constant, constant_with_warmup, cosine");
  }
  if (warmup_steps < 0) throw ArgumentError("warmup steps must be >= 0");
  if (total_steps < 1) throw ArgumentError("the schedule needs at least one training step");
}

double LrSchedule::factor(int64_t step) const {
  const auto s = static_cast<double>(step);
  const auto warmup = static_cast<double>(warmup_steps);
  if (type == "constant") return 1.0;
  if (step < warmup_steps) return s / std::max(1.0, warmup);
  if (type == "constant_with_warmup") return 1.0;
  const auto total = static_cast<double>(total_steps);
  if (type == "linear") return std::max(0.0, (total - s) / std::max(1.0, total - warmup));
  // cosine with num_cycles = 0.5: a half cosine from 1 down to 0
  const double progress = (s - warmup) / std::max(1.0, total - warmup);
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
}

}  // namespace tce
