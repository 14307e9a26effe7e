// Process-wide cancellation of native work. `shutdown()` (called from process.on('exit'))
// raises the flag and waits for running work to leave, because exiting while a thread is inside
// libtorch segfaulted or hung the process, and Node's cleanup hooks and atexit did not prevent it.
#pragma once

#include <chrono>

namespace tce {

// Throws tce::Error(kCancelled) once shutdown has begun. Long loops call it between steps.
void throw_if_cancelled();

// RAII registration of one unit of running native work (an async call, from when its libuv
// worker takes it until the compute thread has finished it).
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
