#include "auth/token_cache.h"

namespace rampart::auth {

TokenCache::TokenCache(size_t capacity) : slots_(capacity) {
  index_.reserve(capacity);
  free_.reserve(capacity);
  for (size_t i = capacity; i > 0; --i) free_.push_back(static_cast<uint32_t>(i - 1));
}

std::shared_ptr<const Identity> TokenCache::find(std::string_view token, int64_t now,
                                                 uint64_t generation) {
  auto it = index_.find(token);
  if (it == index_.end()) return nullptr;
  Slot& slot = slots_[it->second];
  if (slot.generation != generation || (slot.expires_at != 0 && now >= slot.expires_at)) {
    release(it->second);
    return nullptr;
  }
  slot.referenced = true;
  return slot.identity;
}

void TokenCache::insert(std::string_view token, std::shared_ptr<const Identity> identity,
                        int64_t expires_at, uint64_t generation) {
  if (slots_.empty()) return;
  if (auto it = index_.find(token); it != index_.end()) release(it->second);
  uint32_t index = victim();
  Slot& slot = slots_[index];
  slot.token.assign(token);
  slot.identity = std::move(identity);
  slot.expires_at = expires_at;
  slot.generation = generation;
  slot.used = true;
  slot.referenced = false;
  index_.emplace(std::string_view(slot.token), index);
}

void TokenCache::clear() {
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].used) release(i);
  }
}

void TokenCache::release(uint32_t index) {
  Slot& slot = slots_[index];
  index_.erase(std::string_view(slot.token));
  slot.identity.reset();
  slot.used = false;
  slot.referenced = false;
  free_.push_back(index);
}

// A free slot; when there is none, the first slot the CLOCK hand finds
// unreferenced since its last pass is evicted. Terminates within two sweeps:
// the first clears every bit.
uint32_t TokenCache::victim() {
  while (free_.empty()) {
    uint32_t index = hand_;
    hand_ = (hand_ + 1) % static_cast<uint32_t>(slots_.size());
    Slot& slot = slots_[index];
    if (slot.referenced) {
      slot.referenced = false;
      continue;
    }
    release(index);
    ++evictions_;
  }
  uint32_t index = free_.back();
  free_.pop_back();
  return index;
}

}  // namespace rampart::auth
