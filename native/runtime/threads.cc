#include "runtime/threads.h"

#include <atomic>

#include <ATen/Parallel.h>

namespace tce {
namespace {
std::atomic<int> configured{0};
}

void set_intra_op_threads(int threads) { configured.store(threads < 0 ? 0 : threads); }

int intra_op_threads() {
  const int n = configured.load();
  return n > 0 ? n : at::get_num_threads();
}

void apply_thread_settings() {
  const int n = configured.load();
  if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
}

}  // namespace tce
