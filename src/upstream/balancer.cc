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

}  // namespace rampart::upstream
