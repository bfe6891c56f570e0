// Escalation: a key (an address, a prefix) that keeps being refused is
// blocked at accept for a growing period, then released; its record of
// offences fades after a quiet period. Owned by one worker and used on its
// thread only; lives as long as the worker. Bounded like every shield table.
//
// Sizing: 56-byte entries, 70 bytes per unit of capacity. Eviction takes
// keys with nothing on record first, then keys with refusals but no offence,
// and blocked keys or keys with offences only when a whole sample of entries
// is such; evicting a blocked key ends its block early (more lenient, never
// stricter).
#pragma once

#include <cstdint>

#include "shield/gcra.h"
#include "shield/key.h"
#include "shield/keyed_table.h"

namespace rampart::shield {

// Filled by the config loader. Defaults: 20 refusals within 10 s block for
// 1 min, then 2, 4, ... up to 1 h; one offence is forgiven per 10 quiet minutes.
struct EscalationPolicy {
  uint32_t refusals = 20;              // N: refusals that make an offence (>= 1)
  Nanos window = 10 * kSecond;         // T: ... counted from the first of them
  Nanos base_block = 60 * kSecond;     // the first offence's block
  Nanos max_block = 3600 * kSecond;    // blocks double per offence up to this
  Nanos quiet_period = 600 * kSecond;  // one offence forgiven per period without refusals
};

enum class EscalationVerdict : uint8_t {
  kNoted,    // counted; not (yet) blocked
  kBlocked,  // the key is blocked until `until` (this refusal started it, or one before did)
};

struct Escalated {
  EscalationVerdict verdict = EscalationVerdict::kNoted;
  Nanos until = 0;        // end of the block when kBlocked
  uint32_t offences = 0;  // offences on record, this one included
  bool started = false;   // true when this refusal started the block
};

class Escalation {
 public:
  Escalation(const EscalationPolicy& policy, size_t capacity);

  // Called when `key` was refused (over a rate or concurrency cap, at accept
  // or on a request) at `now`. The N-th refusal within T of the first one
  // counts an offence and blocks for base_block * 2^(offences - 1), capped at
  // max_block. Refusals while blocked are not counted (the block is not
  // extended by a client that keeps knocking).
  Escalated noteRefusal(const Key& key, Nanos now);

  // When the block on `key` ends, or 0 when it is not blocked at `now`.
  Nanos blockedUntil(const Key& key, Nanos now);
  bool isBlocked(const Key& key, Nanos now) { return blockedUntil(key, now) != 0; }

  // A block decided elsewhere (another instance through the store, an
  // admin): `key` is blocked until `until` (at most max_block from `now`)
  // unless it already is for longer. Records no offence.
  void impose(const Key& key, Nanos until, Nanos now);

  // Offences on record for `key` at `now`, after decay.
  uint32_t offences(const Key& key, Nanos now);

  // Forgets everything on record for `key` (an operator's unblock): its
  // block ends now and its offences are cleared. False when nothing was kept.
  bool forget(const Key& key) { return table_.erase(key); }

  void setPolicy(const EscalationPolicy& policy);

  struct State {
    int64_t window_start = 0;
    int64_t blocked_until = 0;
    int64_t quiet_since = 0;  // last refusal or end of the last block, whichever is later
    uint32_t window_count = 0;
    uint32_t offences = 0;
  };
  using Table = KeyedTable<State>;
  static constexpr size_t kBytesPerKey = Table::kBytesPerKey;

  size_t size() const { return table_.size(); }
  size_t capacity() const { return table_.capacity(); }
  size_t memoryBytes() const { return table_.memoryBytes(); }
  uint64_t evictions() const { return table_.evictions(); }

 private:
  // Repairs a state after a backward clock jump and applies decay.
  void settle(State& state, Nanos now) const;
  Retention retention(const State& state, Nanos now) const;
  Nanos blockFor(uint32_t offences) const;

  EscalationPolicy policy_;
  Table table_;
};

}  // namespace rampart::shield
