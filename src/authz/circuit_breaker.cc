#include "authz/circuit_breaker.h"

namespace rampart::authz {

bool CircuitBreaker::allow(core::Millis now) {
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (now - opened_at_ < open_for_) return false;
      state_ = State::kHalfOpen;
      probe_out_ = true;
      return true;
    case State::kHalfOpen:
      if (probe_out_) return false;
      probe_out_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::onSuccess() {
  if (state_ == State::kOpen) return;  // a late answer from before the circuit opened
  state_ = State::kClosed;
  failures_ = 0;
  probe_out_ = false;
}

bool CircuitBreaker::onFailure(core::Millis now) {
  switch (state_) {
    case State::kOpen:
      return false;  // a late failure from before the circuit opened
    case State::kHalfOpen:
      state_ = State::kOpen;
      opened_at_ = now;
      probe_out_ = false;
      return true;
    case State::kClosed:
      ++failures_;
      if (threshold_ == 0 || failures_ < threshold_) return false;
      state_ = State::kOpen;
      opened_at_ = now;
      return true;
  }
  return false;
}

}  // namespace rampart::authz
