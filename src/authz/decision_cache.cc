#include "authz/decision_cache.h"

namespace rampart::authz {

DecisionCache::DecisionCache(size_t capacity, core::Millis ttl, core::Millis stale_if_error)
    : ttl_(ttl), stale_if_error_(stale_if_error), slots_(capacity) {
  index_.reserve(capacity);
  free_.reserve(capacity);
  for (size_t i = capacity; i > 0; --i) free_.push_back(static_cast<uint32_t>(i - 1));
}

DecisionCache::Slot* DecisionCache::find(std::string_view key, core::Millis now, bool fresh_only) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  Slot& slot = slots_[it->second];
  if (now >= slot.usable_until) {
    release(it->second);  // past any use: free the slot now
    return nullptr;
  }
  if (fresh_only && now >= slot.fresh_until) return nullptr;
  slot.referenced = true;
  return &slot;
}

const DecisionCache::Decision* DecisionCache::findFresh(std::string_view key, core::Millis now) {
  Slot* slot = find(key, now, true);
  return slot ? &slot->decision : nullptr;
}

const DecisionCache::Decision* DecisionCache::findUsable(std::string_view key, core::Millis now) {
  Slot* slot = find(key, now, false);
  return slot ? &slot->decision : nullptr;
}

void DecisionCache::insert(std::string_view key, bool allowed, std::string_view upstream_headers,
                           core::Millis now, core::Millis ttl) {
  if (slots_.empty()) return;
  uint32_t index;
  if (auto it = index_.find(key); it != index_.end()) {
    index = it->second;  // same key: overwrite in place, the index entry stays valid
  } else {
    index = victim();
    Slot& fresh = slots_[index];
    fresh.key.assign(key);
    fresh.used = true;
    index_.emplace(std::string_view(fresh.key), index);
  }
  Slot& slot = slots_[index];
  slot.headers.assign(upstream_headers);
  slot.decision.allowed = allowed;
  slot.decision.upstream_headers = slot.headers;
  core::Millis fresh_for = ttl >= 0 && ttl < ttl_ ? ttl : ttl_;
  slot.fresh_until = now + fresh_for;
  slot.usable_until = now + fresh_for + stale_if_error_;
  slot.referenced = false;
}

void DecisionCache::release(uint32_t index) {
  Slot& slot = slots_[index];
  index_.erase(std::string_view(slot.key));
  slot.used = false;
  slot.referenced = false;
  free_.push_back(index);
}

// A free slot; when there is none, the first slot the CLOCK hand finds
// unreferenced since its last pass. Terminates within two sweeps.
uint32_t DecisionCache::victim() {
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

}  // namespace rampart::authz
