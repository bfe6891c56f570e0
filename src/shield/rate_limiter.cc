#include "shield/rate_limiter.h"

namespace rampart::shield {

Decision RateLimiter::check(const Key& key, const Gcra& limit, Nanos now, uint32_t cost) {
  // A TAT at or before `now` is a full bucket under any limit: free to evict.
  int64_t& tat = table_.findOrInsert(
      key, [now](int64_t value) { return value <= now ? Retention::kIdle : Retention::kNormal; });
  return limit.check(tat, now, cost);
}

Decision RateLimiter::peek(const Key& key, const Gcra& limit, Nanos now) {
  const int64_t* tat = table_.find(key);
  return limit.peek(tat == nullptr ? 0 : *tat, now);
}

}  // namespace rampart::shield
