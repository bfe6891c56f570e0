#include "drill/pacer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "drill/conn.h"

namespace rampart::drill {

Pacer::Pacer(core::EventLoop* loop, PermitSink* sink, double per_second, int64_t min_gap_ns)
    : loop_(loop), sink_(sink), per_second_(per_second), min_gap_ns_(min_gap_ns) {
  fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("timerfd_create failed");
  loop_->addLevelTriggeredInput(fd_, this);
}

Pacer::~Pacer() {
  loop_->remove(fd_);
  ::close(fd_);
}

int64_t Pacer::due(uint64_t k) const {
  return start_ns_ + static_cast<int64_t>(static_cast<double>(k) * 1e9 / per_second_);
}

void Pacer::armAt(int64_t ns) {
  itimerspec spec{};
  ns = std::max<int64_t>(ns, 1);
  spec.it_value.tv_sec = ns / 1000000000;
  spec.it_value.tv_nsec = ns % 1000000000;
  timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void Pacer::start(int64_t start_ns, int64_t end_ns) {
  start_ns_ = start_ns;
  end_ns_ = end_ns;
  next_ = 0;
  done_ = per_second_ <= 0 || start_ns >= end_ns;
  if (!done_) armAt(start_ns);
}

void Pacer::onEvents(uint32_t) {
  uint64_t expirations;
  [[maybe_unused]] ssize_t n = ::read(fd_, &expirations, sizeof(expirations));
  if (done_) return;
  int64_t now = nowNs();
  while (true) {
    int64_t at = due(next_);
    if (at >= end_ns_) {
      done_ = true;
      sink_->onDone();
      return;
    }
    if (at > now) {
      armAt(std::max(at, now + min_gap_ns_));
      return;
    }
    sink_->onPermit(next_++, at);
  }
}

}  // namespace rampart::drill
