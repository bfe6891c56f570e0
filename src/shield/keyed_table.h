// A fixed-capacity hash table from Key to a small trivially copyable Value:
// the storage behind every shield limiter. Owned by one worker and used on
// its thread only (no lock); lives as long as the worker. Allocates once, in
// the constructor; lookups, inserts and evictions never allocate.
//
// Layout: open addressing with linear probing over capacity * 5/4 slots (so
// the load stays <= 0.8 and probes stay short) and backward-shift deletion
// (no tombstones). Recency is a 64-bit access counter per entry. When full,
// an insert samples the kSample entries from its own home slot on (so slots
// are freed where they are refilled and the load stays even) and evicts
// the first one the caller rates kIdle (a state equal to "never seen", so
// evicting it changes no decision), else the least recently used of the
// lowest Retention in the sample: an approximate LRU that lets keys in
// active use survive a flood of new ones, and lets state worth more (an open
// connection, a block) survive a flood of cheaper state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "shield/key.h"

namespace rampart::shield {

// How much an entry is worth keeping, as the owner of the table rates it.
enum class Retention : uint8_t {
  kIdle = 0,    // equal to an absent entry: evicted first, at no cost
  kNormal = 1,  // evicted least recently used first
  kKeep = 2,    // evicted only when a whole sample is kKeep
};

// Cache-line aligned storage for a table; a large one is aligned to 2 MB
// and asks for transparent huge pages, since random lookups in tens of MB
// otherwise pay a TLB miss as well as a cache miss.
void* allocateSlots(size_t bytes);
void freeSlots(void* slots, size_t bytes);

template <typename Value>
class KeyedTable {
  static_assert(std::is_trivially_copyable_v<Value>, "entries are moved with plain copies");

 public:
  struct Entry {
    Key key;             // empty: a free slot
    uint64_t stamp = 0;  // access counter at the last use
    Value value{};
  };

  static constexpr size_t kSample = 8;
  static constexpr size_t kWideSample = 64;
  // Bytes of memory per unit of capacity, for sizing: a slot per 0.8 keys.
  static constexpr size_t kBytesPerKey = sizeof(Entry) * 5 / 4;

  // `capacity` keys at most (at least 1).
  explicit KeyedTable(size_t capacity)
      : capacity_(capacity == 0 ? 1 : capacity), slot_count_(capacity_ + capacity_ / 4 + 1) {
    slots_ = static_cast<Entry*>(allocateSlots(slot_count_ * sizeof(Entry)));
    for (size_t i = 0; i < slot_count_; ++i) new (&slots_[i]) Entry();
  }
  ~KeyedTable() { freeSlots(slots_, slot_count_ * sizeof(Entry)); }
  KeyedTable(const KeyedTable&) = delete;
  KeyedTable& operator=(const KeyedTable&) = delete;

  // The value stored for `key` (marked as just used), or null.
  Value* find(const Key& key) {
    size_t i = home(key);
    for (;;) {
      Entry& entry = slots_[i];
      if (entry.key == key) {
        entry.stamp = ++clock_;
        return &entry.value;
      }
      if (entry.key.empty()) return nullptr;
      i = next(i);
    }
  }

  // The value for `key`, inserted as Value{} when absent (`*inserted` says
  // which). When the table is full, evicts one entry first, chosen by
  // `retention(const Value&) -> Retention` and recency (see above).
  template <typename Rate>
  Value& findOrInsert(const Key& key, Rate&& retention, bool* inserted = nullptr) {
    size_t i = home(key);
    for (;;) {
      Entry& entry = slots_[i];
      if (entry.key == key) {
        entry.stamp = ++clock_;
        if (inserted != nullptr) *inserted = false;
        return entry.value;
      }
      if (entry.key.empty()) break;
      i = next(i);
    }
    if (size_ >= capacity_) {
      evictOne(retention, home(key));
      // The shift may have moved entries into the probe path: probe again.
      i = home(key);
      while (!slots_[i].key.empty()) i = next(i);
    }
    Entry& entry = slots_[i];
    entry.key = key;
    entry.stamp = ++clock_;
    entry.value = Value{};
    ++size_;
    if (inserted != nullptr) *inserted = true;
    return entry.value;
  }

  // Removes `key`; false when it was absent.
  bool erase(const Key& key) {
    size_t i = home(key);
    for (;;) {
      if (slots_[i].key == key) {
        removeAt(i);
        return true;
      }
      if (slots_[i].key.empty()) return false;
      i = next(i);
    }
  }

  // Calls `visit(const Key&, const Value&)` for every entry, in slot order,
  // changing nothing (not even recency): for exporting state off the request
  // path (walks the whole table).
  template <typename Visit>
  void forEach(Visit&& visit) const {
    for (size_t i = 0; i < slot_count_; ++i) {
      if (!slots_[i].key.empty()) visit(static_cast<const Key&>(slots_[i].key), slots_[i].value);
    }
  }

  void clear() {
    for (size_t i = 0; i < slot_count_; ++i) slots_[i] = Entry();
    size_ = 0;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  size_t slotCount() const { return slot_count_; }
  size_t memoryBytes() const { return slot_count_ * sizeof(Entry); }
  uint64_t evictions() const { return evictions_; }

  // The longest run of occupied slots, which bounds a probe: for tests and
  // diagnostics (walks the whole table).
  size_t longestRun() const {
    size_t longest = 0;
    size_t run = 0;
    // Start after an empty slot so a run wrapping around the end counts whole.
    size_t start = 0;
    while (!slots_[start].key.empty()) ++start;  // there is always an empty slot
    for (size_t n = 0, i = next(start); n < slot_count_; ++n, i = next(i)) {
      run = slots_[i].key.empty() ? 0 : run + 1;
      if (run > longest) longest = run;
    }
    return longest;
  }

 private:
  size_t home(const Key& key) const {
    // Keys are uniform hash output: map lo onto [0, slot_count_) by a multiply.
    return static_cast<size_t>((static_cast<unsigned __int128>(key.lo) * slot_count_) >> 64);
  }
  size_t next(size_t i) const { return i + 1 == slot_count_ ? 0 : i + 1; }

  template <typename Rate>
  void evictOne(Rate& retention, size_t start) {
    size_t victim = slot_count_;
    Retention lowest = Retention::kKeep;
    uint64_t oldest = UINT64_MAX;
    size_t seen = 0;
    size_t i = start;
    // The table is full, so occupied slots are at least 80% of all: the scan
    // is short. A sample of only kKeep entries is widened (up to kWideSample)
    // so that kept state goes only when it fills nearly the whole table.
    while (seen < kSample || (lowest == Retention::kKeep && seen < kWideSample)) {
      Entry& entry = slots_[i];
      if (!entry.key.empty()) {
        ++seen;
        const Retention worth = retention(static_cast<const Value&>(entry.value));
        if (worth == Retention::kIdle) {
          victim = i;
          break;
        }
        if (victim == slot_count_ || worth < lowest || (worth == lowest && entry.stamp < oldest)) {
          lowest = worth;
          oldest = entry.stamp;
          victim = i;
        }
      }
      i = next(i);
    }
    removeAt(victim);
    ++evictions_;
  }

  // Backward-shift deletion: pulls later members of the probe run into the gap.
  void removeAt(size_t gap) {
    size_t j = gap;
    for (;;) {
      j = next(j);
      Entry& entry = slots_[j];
      if (entry.key.empty()) break;
      const size_t h = home(entry.key);
      // The entry may stay only when its home lies cyclically in (gap, j].
      const bool stays = gap <= j ? (gap < h && h <= j) : (gap < h || h <= j);
      if (!stays) {
        slots_[gap] = entry;
        gap = j;
      }
    }
    slots_[gap] = Entry();
    --size_;
  }

  size_t capacity_;
  size_t slot_count_;
  Entry* slots_ = nullptr;
  size_t size_ = 0;
  uint64_t clock_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace rampart::shield
