// Every tensor computation of the addon runs on one long-lived thread. glibc gives each thread
// that allocates its own malloc arena; with computations spread over libuv's pool, libtorch's
// large short-lived tensors fragmented one arena per pool thread, and training peaked at 1.8x
// PyTorch's RSS and kept growing (bench/, BENCHMARKS.md). One thread means one arena, as in a
// Python process. libuv workers still carry each call (so Promises settle as usual) but only
// wait here.
#pragma once

#include <functional>

namespace tce {

// Runs `task` on the compute thread, in submission order, and returns when it has finished,
// rethrowing whatever it threw.
void run_on_compute_thread(const std::function<void()>& task);

}  // namespace tce
