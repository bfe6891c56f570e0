#include "upstream/outlier.h"

#include <algorithm>

namespace rampart::upstream {

OutlierDetector::OutlierDetector(const OutlierSpec& spec, uint32_t endpoints)
    : spec_(spec), state_(endpoints) {}

void OutlierDetector::recordSuccess(uint32_t endpoint) {
  Endpoint& e = state_[endpoint];
  e.consecutive_5xx = 0;
  e.consecutive_connect = 0;
}

void OutlierDetector::recordConnected(uint32_t endpoint) {
  state_[endpoint].consecutive_connect = 0;
}

OutlierDetector::Verdict OutlierDetector::recordServerError(uint32_t endpoint, Millis now) {
  Endpoint& e = state_[endpoint];
  ++e.consecutive_5xx;
  if (spec_.consecutive_5xx == 0 || e.consecutive_5xx < spec_.consecutive_5xx) return {};
  return maybeEject(endpoint, now, false);
}

OutlierDetector::Verdict OutlierDetector::recordConnectFailure(uint32_t endpoint, Millis now) {
  Endpoint& e = state_[endpoint];
  ++e.consecutive_connect;
  if (spec_.consecutive_connect_failures == 0 ||
      e.consecutive_connect < spec_.consecutive_connect_failures) {
    return {};
  }
  return maybeEject(endpoint, now, true);
}

OutlierDetector::Verdict OutlierDetector::maybeEject(uint32_t endpoint, Millis now,
                                                     bool by_connect) {
  refresh(now);
  Endpoint& e = state_[endpoint];
  // Requests already in flight to an ejected endpoint may still fail: it is
  // out already, and they must not lengthen its sentence.
  if (e.ejected) return {};
  uint64_t after = static_cast<uint64_t>(ejected_count_) + 1;
  if (after * 100 > static_cast<uint64_t>(spec_.max_ejection_percent) * state_.size()) {
    // Its run of failures is kept, so it is ejected on its next failure
    // once another endpoint has come back.
    return {Verdict::Kind::kRefusedLimit, 0, e.times_ejected, by_connect};
  }
  Millis base = spec_.base_ejection_time.count();
  Millis cap = std::max<Millis>(spec_.max_ejection_time.count(), base);
  // Good behaviour earns the multiplier back: one step per base time spent
  // back in balancing since the last ejection ended.
  if (e.times_ejected > 0 && base > 0 && now > e.returned_at) {
    Millis steps = (now - e.returned_at) / base;
    e.times_ejected = steps >= e.times_ejected ? 0 : e.times_ejected - static_cast<uint32_t>(steps);
  }
  ++e.times_ejected;
  Millis duration = std::min<Millis>(base * e.times_ejected, cap);
  e.ejected = true;
  e.ejected_until = now + duration;
  e.consecutive_5xx = 0;
  e.consecutive_connect = 0;
  ++ejected_count_;
  next_expiry_ = std::min(next_expiry_, e.ejected_until);
  return {Verdict::Kind::kEjected, duration, e.times_ejected, by_connect};
}

uint32_t OutlierDetector::refresh(Millis now) {
  if (now < next_expiry_) return ejected_count_;
  next_expiry_ = INT64_MAX;
  for (Endpoint& e : state_) {
    if (!e.ejected) continue;
    if (e.ejected_until <= now) {
      e.ejected = false;
      e.returned_at = e.ejected_until;
      --ejected_count_;
    } else {
      next_expiry_ = std::min(next_expiry_, e.ejected_until);
    }
  }
  return ejected_count_;
}

}  // namespace rampart::upstream
