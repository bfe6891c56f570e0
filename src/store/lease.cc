#include "store/lease.h"

#include <algorithm>

namespace rampart::store {

LeaseGrant grantLease(int64_t tat_us, int64_t now_us, int64_t interval_us, int64_t tolerance_us,
                      int64_t want) {
  LeaseGrant out;
  int64_t tat = std::max(tat_us, now_us);
  // A TAT further ahead than the whole burst can only come from a clock that
  // went backwards (a failover to a replica with another clock): clamp it.
  tat = std::min(tat, now_us + tolerance_us);
  const int64_t free = interval_us > 0 ? (now_us + tolerance_us - tat) / interval_us : want;
  out.granted = std::clamp<int64_t>(free, 0, std::max<int64_t>(want, 0));
  if (out.granted == 0) {
    out.retry_after_us = std::max<int64_t>(tat + interval_us - tolerance_us - now_us, 1);
    out.tat_us = tat;
    return out;
  }
  out.tat_us = tat + out.granted * interval_us;
  return out;
}

LeaseTable::Entry& LeaseTable::entry(const shield::Key& key, Nanos now) {
  return table_.findOrInsert(key, [now](const Entry& e) {
    if (e.asked_at != 0) return shield::Retention::kKeep;  // an answer is on its way
    if ((e.tokens > 0 && e.expires > now) || e.denied_until > now) {
      return shield::Retention::kNormal;
    }
    return shield::Retention::kIdle;  // nothing held: the same as never seen
  });
}

LeaseStep LeaseTable::take(const shield::Key& key, Nanos now, uint32_t low_water, Nanos interval) {
  Entry& e = entry(key, now);
  LeaseStep step;
  if (e.asked_at != 0 && now - e.asked_at > kRefillGiveUp) e.asked_at = 0;
  const bool live = e.expires > now;
  if (!live) e.tokens = 0;
  auto askRefill = [&] {
    if (e.asked_at != 0) return;
    e.asked_at = now;
    step.refill = true;
  };
  if (e.tokens > 0) {
    --e.tokens;
    if (e.tokens <= low_water) askRefill();
    return step;  // kAllow
  }
  if (e.denied_until > now) {
    step.verdict = LeaseVerdict::kDeny;
    step.retry_after = e.denied_until - now;
    return step;
  }
  askRefill();
  if (live) {
    // The lease ran out before its refill came back: this instance is using
    // its share faster than one round trip to Redis. Refuse rather than
    // guess; the refill decides the next request.
    step.verdict = LeaseVerdict::kDeny;
    step.retry_after = std::max<Nanos>(interval, 1);
    return step;
  }
  step.verdict = LeaseVerdict::kBridge;
  return step;
}

void LeaseTable::answer(const shield::Key& key, Nanos now, uint32_t granted, Nanos ttl,
                        Nanos retry_after) {
  Entry& e = entry(key, now);
  e.asked_at = 0;
  if (granted > 0) {
    if (e.expires <= now) e.tokens = 0;
    e.tokens += granted;
    e.expires = now + ttl;
    e.denied_until = 0;
  } else {
    e.denied_until = now + std::max<Nanos>(retry_after, 1);
  }
}

void LeaseTable::failed(const shield::Key& key) {
  if (Entry* e = table_.find(key)) e->asked_at = 0;
}

}  // namespace rampart::store
