// Verified tokens, per worker: a repeated bearer token costs one hash lookup
// instead of a signature check. Owned by one worker and used on its thread
// only (no lock); lives as long as the worker. Bounded: a fixed number of
// slots, evicted by CLOCK (second chance), so a flood of distinct tokens
// cannot grow it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "auth/identity.h"

namespace rampart::auth {

class TokenCache {
 public:
  // `capacity` 0 disables the cache (every find misses, insert does nothing).
  explicit TokenCache(size_t capacity);

  // The identity verified earlier for exactly `token`, or null when there is
  // none, when it expired at `now` (unix seconds), or when it was verified
  // under another key `generation` (keys rotated or removed, config
  // reloaded): such an entry is dropped, so a revoked key stops working at
  // once rather than when the token expires.
  std::shared_ptr<const Identity> find(std::string_view token, int64_t now, uint64_t generation);

  // Remembers a verified token until `expires_at` (unix seconds; entries
  // never outlive the token). Evicts the least recently used-ish slot when full.
  void insert(std::string_view token, std::shared_ptr<const Identity> identity, int64_t expires_at,
              uint64_t generation);

  void clear();
  size_t size() const { return index_.size(); }
  size_t capacity() const { return slots_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Slot {
    std::string token;  // the map's key views this string
    std::shared_ptr<const Identity> identity;
    int64_t expires_at = 0;
    uint64_t generation = 0;
    bool used = false;
    bool referenced = false;  // CLOCK bit: set on hit, cleared as the hand passes
  };

  void release(uint32_t slot);
  uint32_t victim();

  std::vector<Slot> slots_;
  absl::flat_hash_map<std::string_view, uint32_t> index_;
  std::vector<uint32_t> free_;  // unused slots
  uint32_t hand_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace rampart::auth
