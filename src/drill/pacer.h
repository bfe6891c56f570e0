// Permits at a steady aggregate rate, on the schedule t0 + k / rate, from a
// timerfd on CLOCK_MONOTONIC (the loop's own timers have only coarse
// millisecond resolution). Each wake-up hands out every permit that is due,
// with its exact scheduled time, so latency can be measured from the
// schedule (open loop, no coordinated omission). One per drill thread and
// kind of traffic; lives for the run.
#pragma once

#include <cstdint>

#include "core/event_loop.h"

namespace rampart::drill {

class PermitSink {
 public:
  virtual ~PermitSink() = default;
  // Permit number `k` (0, 1, 2...), due at `scheduled_ns`.
  virtual void onPermit(uint64_t k, int64_t scheduled_ns) = 0;
  // The schedule has ended: no permit follows.
  virtual void onDone() {}
};

class Pacer : public core::EventHandler {
 public:
  // `min_gap_ns` batches wake-ups of fast schedules (the attack's): at most
  // one wake-up per gap, each handing out what is due.
  Pacer(core::EventLoop* loop, PermitSink* sink, double per_second, int64_t min_gap_ns);
  ~Pacer() override;
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  // Permits from `start_ns` until (not including) `end_ns`.
  void start(int64_t start_ns, int64_t end_ns);
  bool done() const { return done_; }
  uint64_t issued() const { return next_; }

  void onEvents(uint32_t events) override;

 private:
  int64_t due(uint64_t k) const;
  void armAt(int64_t ns);

  core::EventLoop* loop_;
  PermitSink* sink_;
  double per_second_;
  int64_t min_gap_ns_;
  int fd_ = -1;
  int64_t start_ns_ = 0;
  int64_t end_ns_ = 0;
  uint64_t next_ = 0;
  bool done_ = true;
};

}  // namespace rampart::drill
