#include "runtime/compute_thread.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>


namespace tce {
namespace {

class ComputeThread {
 public:
  ComputeThread() {
    // Detached and never destroyed: at process exit it is idle (shutdown() waits for running
    // work first), and an idle thread blocked on a condition variable is safe to leave.
    std::thread([this] { loop(); }).detach();
  }

  void run(const std::function<void()>& task) {
    std::packaged_task<void()> packaged(task);
    auto done = packaged.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(packaged));
    }
    ready_.notify_one();
    done.get();
  }

 private:
  void loop() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<void()>> queue_;
};

ComputeThread& compute_thread() {
  static auto* instance = new ComputeThread();
  return *instance;
}

}  // namespace

void run_on_compute_thread(const std::function<void()>& task) { compute_thread().run(task); }

}  // namespace tce
