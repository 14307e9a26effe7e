// libtorch's intra-op thread count is per calling thread and applied lazily, so every thread
// that computes (libuv workers, the trainer) applies the process-wide setting when it starts.
#pragma once

namespace tce {

// 0 keeps libtorch's default.
void set_intra_op_threads(int threads);
int intra_op_threads();
void apply_thread_settings();

}  // namespace tce
