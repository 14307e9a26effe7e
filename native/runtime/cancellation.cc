#include "runtime/cancellation.h"

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "runtime/errors.h"

namespace tce {
namespace {

std::atomic<bool> shutting_down{false};
std::mutex mutex;
std::condition_variable idle;
int active = 0;

}  // namespace

void throw_if_cancelled() {
  if (shutting_down.load(std::memory_order_relaxed)) {
    throw Error(kCancelled, "native work was cancelled because the process is exiting");
  }
}

ActiveWork::ActiveWork() {
  throw_if_cancelled();
  std::lock_guard<std::mutex> lock(mutex);
  ++active;
}

ActiveWork::~ActiveWork() {
  std::lock_guard<std::mutex> lock(mutex);
  if (--active == 0) idle.notify_all();
}

bool shutdown(std::chrono::milliseconds timeout) {
  shutting_down.store(true);
  std::unique_lock<std::mutex> lock(mutex);
  return idle.wait_for(lock, timeout, [] { return active == 0; });
}

}  // namespace tce
