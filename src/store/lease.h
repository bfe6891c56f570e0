// Global limits, the local fast path: GCRA budget leased from Redis in
// batches. grantLease() is the arithmetic of the Lua script (kept here so it
// can be unit-tested and read beside the script); LeaseTable is one worker's
// leases, keyed like the shield's tables. Owned by one worker and used on its
// thread only (no lock); lives as long as the worker. Pure: no I/O, no clock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shield/gcra.h"
#include "shield/key.h"
#include "shield/keyed_table.h"

namespace rampart::store {

using shield::Nanos;

// What Redis answers a lease request: `granted` tokens (0..want), charged to
// the key's TAT at once; when 0, `retry_after` until one would pass.
struct LeaseGrant {
  int64_t granted = 0;
  int64_t retry_after_us = 0;
  int64_t tat_us = 0;  // the key's TAT afterwards
};

// The script's arithmetic, in microseconds (Redis TIME), for a TAT `tat_us`
// (0: never seen) at `now_us`. From idle `tolerance_us / interval_us` (the
// burst) tokens are free; a grant never exceeds what the same GCRA would
// allow one request at a time, so leasing never lets more through than an
// exact global limiter, only later (see docs/store.md, "Overshoot").
LeaseGrant grantLease(int64_t tat_us, int64_t now_us, int64_t interval_us, int64_t tolerance_us,
                      int64_t want);

// What the fast path decided for one request.
enum class LeaseVerdict : uint8_t {
  kAllow,   // a leased token was spent
  kDeny,    // Redis said the budget is spent (retry_after), or the live lease ran out
  kBridge,  // no lease held yet (first use, or it expired): the caller decides with
            // the local share while the refill it was told to ask for is on its way
};

struct LeaseStep {
  LeaseVerdict verdict = LeaseVerdict::kAllow;
  bool refill = false;  // ask the store for a lease now (the entry is marked in flight)
  Nanos retry_after = 0;
};

class LeaseTable {
 public:
  struct Entry {
    Nanos expires = 0;       // tokens are void from this time on
    Nanos denied_until = 0;  // Redis said no token before this
    Nanos asked_at = 0;      // a refill was asked for at this time (0: none in flight)
    uint32_t tokens = 0;
  };
  using Table = shield::KeyedTable<Entry>;
  static constexpr size_t kBytesPerKey = Table::kBytesPerKey;
  // A refill unanswered for this long is forgotten (the store answers every
  // request within its timeout; this only guards against a lost answer).
  static constexpr Nanos kRefillGiveUp = 2 * shield::kSecond;

  explicit LeaseTable(size_t capacity) : table_(capacity) {}

  // One request for `key` at `now`. `low_water`: when the tokens left fall to
  // this, the next lease is asked for ahead of need (prefetch), so a steady
  // client never waits for Redis. `interval`: the limit's 1/rate, the wait
  // reported when a live lease ran out before its refill arrived.
  LeaseStep take(const shield::Key& key, Nanos now, uint32_t low_water, Nanos interval);

  // The store's answer to a refill of `key`: `granted` tokens valid for `ttl`
  // from `now`, or none before now + retry_after.
  void answer(const shield::Key& key, Nanos now, uint32_t granted, Nanos ttl, Nanos retry_after);
  // The refill failed (timeout, store down): nothing granted, nothing denied.
  void failed(const shield::Key& key);

  size_t size() const { return table_.size(); }
  const Entry* find(const shield::Key& key) { return table_.find(key); }

 private:
  Entry& entry(const shield::Key& key, Nanos now);
  Table table_;
};

}  // namespace rampart::store
