#include "shield/gcra.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rampart::shield {

namespace {

using Wide = __int128;

constexpr Nanos kMaxInterval = 1'000'000'000'000'000;  // one request per ~11.6 days
constexpr Nanos kMaxTolerance = Nanos{1} << 62;
constexpr uint32_t kMaxBurst = 1'000'000;

int64_t saturate(Wide value) {
  if (value > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (value < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(value);
}

}  // namespace

Gcra::Gcra(const Limit& limit) {
  double rate = limit.rate;
  if (!(rate >= 1e-6)) rate = 1e-6;  // also catches NaN
  rate = std::min(rate, 1e9);
  interval_ = std::clamp(static_cast<Nanos>(std::llround(1e9 / rate)), Nanos{1}, kMaxInterval);
  burst_ = std::clamp(limit.burst, uint32_t{1}, kMaxBurst);
  tolerance_ = saturate(std::min(Wide{burst_} * interval_, Wide{kMaxTolerance}));
}

Decision Gcra::check(int64_t& tat, Nanos now, uint32_t cost) const {
  Decision out;
  out.limit = burst_;
  Wide start = tat;
  if (start < now) {
    start = now;  // idle long enough: the bucket is full
  } else if (start - now > tolerance_) {
    // Only a clock that went backwards puts the TAT beyond the whole burst:
    // treat the burst as just used up (no extra requests, bounded wait).
    start = Wide{now} + tolerance_;
    tat = saturate(start);
  }
  const Wide next = start + Wide{cost} * interval_;
  const Wide allow_at = next - tolerance_;
  if (now < allow_at) {
    out.verdict = Verdict::kDeny;
    // A cost above the burst can never pass; report the full refill time.
    out.retry_after = saturate(cost > burst_ ? Wide{tolerance_} : allow_at - now);
    out.reset = saturate(start - now);
    return out;
  }
  tat = saturate(next);
  out.remaining = static_cast<uint32_t>((Wide{now} + tolerance_ - next) / interval_);
  out.reset = saturate(next - now);
  return out;
}

Decision Gcra::peek(int64_t tat, Nanos now) const {
  return check(tat, now, 1);
}

int64_t Gcra::windowSeconds() const {
  // Whole requests per whole seconds: one second when the rate is at least
  // one per second, otherwise the interval rounded up.
  return interval_ <= kSecond ? 1 : Decision::ceilSeconds(interval_);
}

uint64_t Gcra::quotaPerWindow() const {
  if (interval_ > kSecond) return 1;
  return static_cast<uint64_t>(kSecond / interval_);
}

}  // namespace rampart::shield
