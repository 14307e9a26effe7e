// libtorch's intra-op thread count is per calling thread and applied lazily, so the setting is
// kept here and applied by each thread that computes: the compute thread before every task, the
// main thread (for its few synchronous calls) when setThreads() changes it.
#pragma once

namespace tce {

// 0 keeps libtorch's default.
void set_intra_op_threads(int threads);
int intra_op_threads();
void apply_thread_settings();

}  // namespace tce
