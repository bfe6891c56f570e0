// The worker's budget of signature verifications: one GCRA over the whole
// worker (not per client), charged once per token that is not in the token
// cache and reaches its signature. A flood of bogus signed tokens from many
// addresses each under its own auth-failure budget still adds up to
// thousands of verifications (60-100 us each for ES256) in the first
// moments of an attack, one core's event loop busy for hundreds of
// milliseconds while every request behind waits. This caps that work at
// `burst` back to back and `rate` per second: the share of the core a
// flood of new tokens can take. Tokens already verified (cached) never pay.
// Pure arithmetic, no clock read; used by one worker thread.
#pragma once

#include <cstdint>

#include "shield/gcra.h"

namespace rampart::shield {

class VerifyBudget {
 public:
  explicit VerifyBudget(const Limit& limit) : gcra_(limit) {}

  // One verification at `now`: allowed (and charged), or denied with the
  // time until the next one would pass.
  Decision take(Nanos now) {
    Decision decision = gcra_.check(tat_, now);
    ++(decision.allowed() ? admitted_ : refused_);
    return decision;
  }

  uint64_t admitted() const { return admitted_; }
  uint64_t refused() const { return refused_; }

 private:
  Gcra gcra_;
  int64_t tat_ = 0;
  uint64_t admitted_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace rampart::shield
