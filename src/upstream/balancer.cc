#include "upstream/pool.h"

namespace rampart::upstream {

Balancer::Balancer(BalancePolicy policy, uint32_t endpoints, uint64_t seed)
    : policy_(policy), endpoints_(endpoints), state_(seed | 1) {}

uint64_t Balancer::nextRandom() {
  // xorshift64*: cheap, per-worker, no shared state.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1DULL;
}

uint32_t Balancer::pick(const uint32_t* active) {
  if (endpoints_ <= 1) return 0;
  if (policy_ == BalancePolicy::kRoundRobin) {
    uint32_t chosen = next_;
    next_ = (next_ + 1) % endpoints_;
    return chosen;
  }
  // Power of two choices: two distinct random endpoints, the less loaded wins.
  uint64_t r = nextRandom();
  uint32_t a = static_cast<uint32_t>(r % endpoints_);
  uint32_t b = static_cast<uint32_t>((r >> 32) % (endpoints_ - 1));
  if (b >= a) ++b;
  return active[b] < active[a] ? b : a;
}

uint32_t Balancer::pick(const uint32_t* active, const uint32_t* candidates, uint32_t count) {
  if (count <= 1) return candidates[0];
  if (policy_ == BalancePolicy::kRoundRobin) {
    uint32_t chosen = candidates[0];  // wraps around when none is at or after next_
    for (uint32_t i = 0; i < count; ++i) {
      if (candidates[i] >= next_) {
        chosen = candidates[i];
        break;
      }
    }
    next_ = (chosen + 1) % endpoints_;
    return chosen;
  }
  uint64_t r = nextRandom();
  uint32_t a = static_cast<uint32_t>(r % count);
  uint32_t b = static_cast<uint32_t>((r >> 32) % (count - 1));
  if (b >= a) ++b;
  return active[candidates[b]] < active[candidates[a]] ? candidates[b] : candidates[a];
}

Spread spreadFor(uint32_t usable, uint32_t total, uint32_t panic_threshold) {
  if (usable >= total) return Spread::kAll;
  // Envoy's panic threshold: a share of usable endpoints this small means the
  // health signal itself is suspect (or the few left would be crushed).
  if (panic_threshold > 0 &&
      static_cast<uint64_t>(usable) * 100 < static_cast<uint64_t>(panic_threshold) * total) {
    return Spread::kPanic;
  }
  return usable == 0 ? Spread::kNone : Spread::kUsable;
}

}  // namespace rampart::upstream
