// Per-address connection admission at accept: concurrent connections per key
// (counted up at accept, down at close) with a cap, and an accept-rate cap
// per key (GCRA). Owned by one worker and used on its thread only; lives as
// long as the worker. The process-wide connection cap is the caller's.
//
// Sizing: 40-byte entries, 50 bytes per unit of capacity. Size the table at
// least at the worker's connection limit: then every key with an open
// connection keeps its entry and the counts are exact (entries with open
// connections are evicted last, after idle and accept-rate-only entries).
// Past that, a key with open connections can be evicted; it then starts
// again from zero, which can only admit more, never less.
#pragma once

#include <cstdint>
#include <optional>

#include "shield/gcra.h"
#include "shield/key.h"
#include "shield/keyed_table.h"

namespace rampart::shield {

// Filled by the config loader.
struct AdmissionLimits {
  uint32_t max_concurrent = 0;       // open connections per key; 0: no cap
  std::optional<Limit> accept_rate;  // new connections per key; none: no cap
};

// What happens to a connection at accept.
enum class Admission : uint8_t {
  kAdmitted,         // serve it; call release() with the same key at close
  kOverConcurrency,  // the key already has max_concurrent connections open
  kOverRate,         // the key opens connections faster than accept_rate
  kBlocked,          // the key is blocked by escalation (see escalation.h)
  kDenyListed,       // the address is on the deny list (see address_list.h)
};

const char* admissionName(Admission admission);

class ConnectionAdmission {
 public:
  ConnectionAdmission(const AdmissionLimits& limits, size_t capacity);

  // Decides on a new connection from `key` at `now`. Concurrency is checked
  // before the rate, so a connection refused for concurrency does not use up
  // the accept rate. kAdmitted counts the connection as open.
  // With `enforce` false (count / dry-run mode) the verdict is computed the
  // same way but the connection is counted and charged as if admitted.
  Admission admit(const Key& key, Nanos now, bool enforce = true);

  // The connection admitted for `key` closed. Saturates at zero (a key that
  // was evicted meanwhile, or never admitted, is left alone).
  void release(const Key& key);

  // Open connections counted for `key` (0 when unknown).
  uint32_t open(const Key& key);

  // New limits for a reloaded config; counts and rate state are kept.
  void setLimits(const AdmissionLimits& limits);

  size_t size() const { return table_.size(); }
  size_t capacity() const { return table_.capacity(); }
  size_t memoryBytes() const { return table_.memoryBytes(); }
  uint64_t evictions() const { return table_.evictions(); }

  struct State {
    int64_t tat = 0;  // GCRA state of the accept rate
    uint32_t open = 0;
    uint32_t unused = 0;
  };
  using Table = KeyedTable<State>;
  static constexpr size_t kBytesPerKey = Table::kBytesPerKey;

 private:
  uint32_t max_concurrent_;
  std::optional<Gcra> rate_;
  Table table_;
};

}  // namespace rampart::shield
