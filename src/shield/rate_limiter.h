// Keyed GCRA rate limiting: one bounded table of TATs shared by any number of
// limits (each limit derives its keys under its own namespace). Owned by one
// worker and used on its thread only (no lock); lives as long as the worker,
// across config reloads (limits are passed per call).
//
// Sizing: 32 bytes per entry and 40 bytes per unit of capacity (load <= 0.8),
// so 1,000,000 keys take 40 MB per worker. With capacity >= the number of keys
// active at once the limiter is exact. Beyond that, an evicted key starts
// fresh with a full burst: eviction can only make the limiter more lenient,
// and first for keys not seen in the longest time. Keys whose bucket has
// refilled are evicted first, and those lose nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shield/gcra.h"
#include "shield/key.h"
#include "shield/keyed_table.h"

namespace rampart::shield {

class RateLimiter {
 public:
  using Table = KeyedTable<int64_t>;
  static constexpr size_t kBytesPerKey = Table::kBytesPerKey;

  explicit RateLimiter(size_t capacity) : table_(capacity) {}

  // Charges one request of weight `cost` for `key` under `limit` at `now`.
  // Allowed: the key's state moves on. Denied: nothing changes, so a client
  // that keeps retrying while denied does not dig itself deeper.
  Decision check(const Key& key, const Gcra& limit, Nanos now, uint32_t cost = 1);

  // The decision the next request would get, charging nothing and inserting
  // nothing (for a key never seen: the full burst).
  Decision peek(const Key& key, const Gcra& limit, Nanos now);

  size_t size() const { return table_.size(); }
  size_t capacity() const { return table_.capacity(); }
  size_t memoryBytes() const { return table_.memoryBytes(); }
  uint64_t evictions() const { return table_.evictions(); }

 private:
  Table table_;
};

}  // namespace rampart::shield
