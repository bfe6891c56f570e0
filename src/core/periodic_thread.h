// A background thread that runs one piece of work every period until it is
// stopped: the loop of the control thread's refreshers and watchers (JWKS
// URLs, API-key files), which need a prompt stop more than a precise tick.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace rampart::core {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  ~PeriodicThread() { stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Calls `work` on a new thread every `period` (the first call one period
  // from now). Again after stop(), with a new period if need be.
  void start(std::chrono::milliseconds period, std::function<void()> work) {
    if (thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = false;
    }
    thread_ = std::thread([this, period, work = std::move(work)] {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!stopping_) {
        wake_.wait_for(lock, period, [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        work();
        lock.lock();
      }
    });
  }

  // Wakes the thread and joins it; a call of `work` under way finishes first.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace rampart::core
