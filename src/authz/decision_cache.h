// Decisions of one external authorizer, per worker: a repeated caller costs
// one hash lookup instead of a call out. Owned by one worker and used on its
// thread only (no lock); lives as long as the worker. Bounded: a fixed
// number of slots, evicted by CLOCK (second chance), so a flood of distinct
// keys cannot grow it. Time is passed in (the loop's cached clock), so the
// TTL and stale boundaries are unit-tested with an injected clock.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace rampart::authz {

class DecisionCache {
 public:
  // A decision younger than `ttl` is served instead of a call; one younger
  // than `ttl + stale_if_error` only when the authorizer cannot answer.
  // `capacity` 0 disables the cache (every find misses, insert does nothing).
  DecisionCache(size_t capacity, core::Millis ttl, core::Millis stale_if_error);

  struct Decision {
    bool allowed = false;
    std::string_view upstream_headers;  // "Name: value\r\n" lines; valid until the next insert
  };

  // A decision made less than ttl ago, or null. An entry past its stale
  // window is dropped on the way. No allocation.
  const Decision* findFresh(std::string_view key, core::Millis now);
  // A decision made less than ttl + stale_if_error ago (the authorizer
  // failed; serving it is a "stale use"), or null.
  const Decision* findUsable(std::string_view key, core::Millis now);

  // Remembers a decision made at `now`, replacing any older one for `key`,
  // fresh for the cache's ttl or for `ttl` when that is shorter (the
  // authorizer's own max-age; -1: none), then usable for stale_if_error.
  // Slot strings keep their capacity, so a warm cache rarely allocates.
  void insert(std::string_view key, bool allowed, std::string_view upstream_headers,
              core::Millis now, core::Millis ttl = -1);

  size_t size() const { return index_.size(); }
  size_t capacity() const { return slots_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Slot {
    std::string key;  // the index's key views this string
    std::string headers;
    Decision decision;
    core::Millis fresh_until = 0;   // served without a call before this
    core::Millis usable_until = 0;  // served when the authorizer fails before this
    bool used = false;
    bool referenced = false;  // CLOCK bit: set on hit, cleared as the hand passes
  };

  Slot* find(std::string_view key, core::Millis now, bool fresh_only);
  void release(uint32_t slot);
  uint32_t victim();

  core::Millis ttl_;
  core::Millis stale_if_error_;
  std::vector<Slot> slots_;
  absl::flat_hash_map<std::string_view, uint32_t> index_;
  std::vector<uint32_t> free_;
  uint32_t hand_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace rampart::authz
