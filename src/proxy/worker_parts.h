// Worker's private parts shared by its source files (worker.cc,
// worker_kernel_drop.cc): the listening socket handler and the kernel drop
// timer. Worker thread only.
#pragma once

#include <unistd.h>

#include "proxy/worker.h"
#include "shield/kernel_drop.h"

namespace rampart::proxy {

// Accepts per readiness event: bounded so one listener cannot starve the
// connections already being served.
inline constexpr size_t kMaxAcceptsPerEvent = 16;

class Worker::Listener final : public core::EventHandler {
 public:
  Listener(Worker* worker, int fd, uint32_t index) : worker_(worker), fd_(fd), index_(index) {}
  ~Listener() override {
    if (fd_ >= 0) close(fd_);
  }
  void onEvents(uint32_t) override { worker_->acceptFrom(fd_, index_, kMaxAcceptsPerEvent); }
  int fd() const { return fd_; }
  uint32_t index() const { return index_; }
  void setIndex(uint32_t index) { index_ = index; }
  // Gives the socket away (a binary upgrade's hand-over keeps it open).
  int release() { return std::exchange(fd_, -1); }

 private:
  Worker* worker_;
  int fd_;
  uint32_t index_;  // into the current snapshot's listeners
};

// A block starts dropping in the kernel at most this late; a recompile
// costs tens of microseconds, so a flood of new blocks costs little.
inline constexpr core::Millis kKernelDropMillis = 100;

class Worker::KernelDropSync final : public core::Timer {
 public:
  explicit KernelDropSync(Worker* worker)
      : worker_(worker), max_instructions_(shield::maxFilterInstructions()) {}
  void start() { worker_->loop_.arm(this, kKernelDropMillis); }
  size_t maxInstructions() const { return max_instructions_; }
  bool attached = false;         // a non-empty filter is on the listeners
  size_t reported_left_out = 0;  // the last shortfall logged

 protected:
  void onTimeout() override { worker_->syncKernelDrops(false); }

 private:
  Worker* worker_;
  size_t max_instructions_;
};

}  // namespace rampart::proxy
