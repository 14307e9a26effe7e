// Process-wide cancellation of native work. `shutdown()` (called from process.on('exit'))
// raises the flag and waits for running work to leave, because exiting while a worker thread
// is inside libtorch crashes or hangs the process (see NATIVE-NOTES).
#pragma once

#include <chrono>

namespace tce {

// Throws tce::Error(kCancelled) once shutdown has begun. Long loops call it between steps.
void throw_if_cancelled();

// RAII registration of one unit of running native work (a worker's Execute, a training step).
class ActiveWork {
 public:
  ActiveWork();   // throws if shutdown has begun
  ~ActiveWork();
  ActiveWork(const ActiveWork&) = delete;
  ActiveWork& operator=(const ActiveWork&) = delete;
};

// Raises the flag and blocks until all ActiveWork has ended or the timeout passed.
// Returns whether everything ended.
bool shutdown(std::chrono::milliseconds timeout);

}  // namespace tce
