#include "auth/token_cache.h"

#include <sys/random.h>

#include <bit>

// Header-only: the hash inlines into find() instead of a call into libxxhash.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace rampart::auth {

namespace {

// A fresh seed per cache, so digests differ per process and worker.
uint64_t randomSeed() {
  uint64_t seed = 0;
  while (getrandom(&seed, sizeof(seed), 0) != static_cast<ssize_t>(sizeof(seed))) {
  }
  return seed;
}

}  // namespace

TokenCache::TokenCache(size_t capacity) : capacity_(capacity), seed_(randomSeed()) {
  if (capacity == 0) return;
  // Load at most 3/4: linear probes stay short (~1.5 entries on a hit) and
  // neighbours share the hardware's adjacent-line prefetch.
  size_t slots = std::bit_ceil(capacity + capacity / 3 + 1);
  table_.resize(slots);
  mask_ = slots - 1;
}

TokenCache::Digest TokenCache::digestOf(std::string_view token) const {
  XXH128_hash_t h = XXH3_128bits_withSeed(token.data(), token.size(), seed_);
  if (h.high64 == 0 && h.low64 == 0) h.low64 = 1;  // {0, 0} is "empty"
  return Digest{h.high64, h.low64};
}

size_t TokenCache::probe(Digest digest) const {
  size_t i = home(digest.lo);
  while (!table_[i].empty() && (table_[i].hi != digest.hi || table_[i].lo != digest.lo)) {
    i = (i + 1) & mask_;
  }
  return i;
}

std::shared_ptr<const Identity> TokenCache::find(std::string_view token, int64_t now,
                                                 uint64_t generation) {
  if (table_.empty()) return nullptr;
  size_t i = probe(digestOf(token));
  Entry& entry = table_[i];
  if (entry.empty()) return nullptr;
  if (entry.generation != generation || (entry.expires_at != 0 && now >= entry.expires_at)) {
    erase(i);
    return nullptr;
  }
  entry.referenced = true;
  return entry.identity;
}

void TokenCache::insert(std::string_view token, std::shared_ptr<const Identity> identity,
                        int64_t expires_at, uint64_t generation) {
  if (table_.empty()) return;
  const Digest digest = digestOf(token);
  size_t i = probe(digest);
  if (table_[i].empty()) {
    if (size_ == capacity_) {
      evictOne();
      i = probe(digest);  // eviction may have shifted entries
    }
    ++size_;
  }
  Entry& entry = table_[i];
  entry.hi = digest.hi;
  entry.lo = digest.lo;
  entry.identity = std::move(identity);
  entry.expires_at = expires_at;
  entry.generation = generation;
  entry.referenced = false;
}

void TokenCache::clear() {
  for (Entry& entry : table_) entry = Entry{};
  size_ = 0;
}

// Backward-shift deletion (no tombstones): every later entry of the run that
// may live at `index` moves up, so probes never cross a hole they should not.
void TokenCache::erase(size_t index) {
  size_t hole = index;
  for (size_t j = (hole + 1) & mask_; !table_[j].empty(); j = (j + 1) & mask_) {
    size_t want = home(table_[j].lo);
    // Stays when its home lies cyclically in (hole, j].
    bool stays = hole <= j ? (hole < want && want <= j) : (hole < want || want <= j);
    if (stays) continue;
    table_[hole] = std::move(table_[j]);
    hole = j;
  }
  table_[hole] = Entry{};
  --size_;
}

// The first live entry the CLOCK hand finds unreferenced since its last pass.
// Terminates within two sweeps: the first clears every bit.
void TokenCache::evictOne() {
  for (;;) {
    Entry& entry = table_[hand_];
    if (!entry.empty()) {
      if (!entry.referenced) {
        erase(hand_);  // an entry shifted into hand_ gets its look on the next call
        ++evictions_;
        return;
      }
      entry.referenced = false;
    }
    hand_ = (hand_ + 1) & mask_;
  }
}

}  // namespace rampart::auth
