// Verified tokens, per worker: a repeated bearer token costs one hash lookup
// instead of a signature check. Owned by one worker and used on its thread
// only (no lock); lives as long as the worker. Bounded: at most `capacity`
// live entries, evicted by CLOCK (second chance), so a flood of distinct
// tokens cannot grow it.
//
// Keyed by a 128-bit digest of the token (XXH3-128, random seed per cache),
// not by the token: the cache holds no bearer secrets, and a hit reads one
// 64-byte entry (digest, expiry, key generation and identity side by side in
// an open-addressed table) instead of an index, a slot and a stored copy of a
// ~300-byte string, each a cache miss under load. A collision could only hand
// out the identity of the token collided with, which the cache verified: to
// aim at someone else's identity an attacker must already know that person's
// token. Accidental collisions: ~n^2 / 2^129 (1e-31 for 10,000 entries).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

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
  // never outlive the token). Evicts the least recently used-ish entry when full.
  void insert(std::string_view token, std::shared_ptr<const Identity> identity, int64_t expires_at,
              uint64_t generation);

  void clear();
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  uint64_t evictions() const { return evictions_; }

 private:
  struct alignas(64) Entry {
    uint64_t hi = 0;  // the digest; {0, 0} marks an empty entry
    uint64_t lo = 0;
    int64_t expires_at = 0;
    uint64_t generation = 0;
    std::shared_ptr<const Identity> identity;
    bool referenced = false;  // CLOCK bit: set on hit, cleared as the hand passes

    bool empty() const { return hi == 0 && lo == 0; }
  };

  struct Digest {
    uint64_t hi;
    uint64_t lo;
  };

  Digest digestOf(std::string_view token) const;
  size_t home(uint64_t lo) const { return lo & mask_; }
  // The entry holding `digest`, or the empty entry where it would go.
  size_t probe(Digest digest) const;
  void erase(size_t index);
  void evictOne();

  std::vector<Entry> table_;  // a power of two, at most 3/4 full
  size_t mask_ = 0;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t hand_ = 0;
  uint64_t seed_;
  uint64_t evictions_ = 0;
};

}  // namespace rampart::auth
