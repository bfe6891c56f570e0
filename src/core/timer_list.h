// Timers for one event loop. Owned by one worker thread; never shared.
//
// All timeouts in Rampart come from a handful of configured durations, so
// timers are kept in one FIFO list per duration: appending keeps each list
// sorted by deadline, arming and cancelling are O(1) pointer moves, and the
// loop only looks at each list's head. No heap, no allocation per arm.
#pragma once

#include <cstdint>
#include <vector>

#include "core/clock.h"

namespace rampart::core {

class TimerList;

// Embed in an object that needs a timeout; onTimeout runs on the loop thread.
class Timer {
 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  virtual ~Timer();

  bool armed() const { return list_ != nullptr; }
  Millis deadline() const { return deadline_; }

 protected:
  virtual void onTimeout() = 0;

 private:
  friend class TimerList;
  friend class Timers;
  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;
  TimerList* list_ = nullptr;
  Millis deadline_ = 0;
};

// One FIFO of timers sharing a duration.
class TimerList {
 public:
  explicit TimerList(Millis duration) : duration_(duration) {}
  Millis duration() const { return duration_; }
  void append(Timer* timer, Millis now);
  static void unlink(Timer* timer);
  Timer* head() const { return head_; }

 private:
  Millis duration_;
  Timer* head_ = nullptr;
  Timer* tail_ = nullptr;
};

// All timer lists of one loop.
class Timers {
 public:
  Timers() = default;
  ~Timers();
  Timers(const Timers&) = delete;
  Timers& operator=(const Timers&) = delete;

  // (Re)arms `timer` to fire `duration` ms after `now`. A duration <= 0 cancels.
  void arm(Timer* timer, Millis duration, Millis now);
  void cancel(Timer* timer) { TimerList::unlink(timer); }

  // Fires every timer whose deadline is <= now. Returns how many fired.
  int expire(Millis now);
  // Milliseconds until the next deadline (0 if one is due), or -1 when none is armed.
  int nextTimeout(Millis now) const;

 private:
  TimerList* listFor(Millis duration);
  std::vector<TimerList*> lists_;  // few: one per distinct configured duration
};

}  // namespace rampart::core
