// A circuit breaker for calls to one external authorizer, per worker: after
// `failures` consecutive failures no call is made for `open_for`; then one
// probe call is let through (half-open), and its outcome closes the circuit
// or opens it again. Pure: time is passed in. Worker thread only.
#pragma once

#include <cstdint>

#include "core/clock.h"

namespace rampart::authz {

class CircuitBreaker {
 public:
  enum class State : uint8_t { kClosed, kOpen, kHalfOpen };

  // `failures` 0 disables the breaker (it never opens).
  CircuitBreaker(uint32_t failures, core::Millis open_for)
      : threshold_(failures), open_for_(open_for) {}

  // May a call start at `now`? Open: no, until open_for has passed; then the
  // circuit turns half-open and this one call is the probe. Half-open: no
  // while the probe is out.
  bool allow(core::Millis now);
  // Outcome of a call that allow() let through. A call that started before
  // the circuit opened and ends while it is open changes nothing.
  void onSuccess();
  // True when this failure opened the circuit (counted as an "open").
  bool onFailure(core::Millis now);

  State state() const { return state_; }
  uint32_t consecutiveFailures() const { return failures_; }

 private:
  uint32_t threshold_;
  core::Millis open_for_;
  State state_ = State::kClosed;
  uint32_t failures_ = 0;
  core::Millis opened_at_ = 0;
  bool probe_out_ = false;
};

}  // namespace rampart::authz
