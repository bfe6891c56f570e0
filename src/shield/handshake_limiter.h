// Per-address limits on new TLS handshakes, checked at accept, before a byte
// is read: a handshake costs the server a key exchange and a signature (the
// most expensive thing a client can make it do), so one address flooding new
// connections is refused before any of that crypto. GCRA over a bounded
// keyed table, one limit per TLS listener. Owned by one worker; its thread
// only; lives as long as the worker (limits replaced by a reload).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "net/address.h"
#include "shield/gcra.h"
#include "shield/key.h"
#include "shield/keyed_table.h"

namespace rampart::shield {

class HandshakeLimiter {
 public:
  // `capacity`: addresses tracked at most (the least recently used idle
  // ones are forgotten first, which changes no decision). The table is
  // allocated when a limit first needs it: a worker without one pays nothing.
  HandshakeLimiter(size_t capacity, Seed seed) : capacity_(capacity), keys_(seed) {}

  // One entry per listener; nullopt: that listener has no limit.
  void setLimits(const std::vector<std::optional<Limit>>& limits);

  // True when `peer` may start one more handshake on `listener` at `now`
  // (charged), false when it is over its rate (nothing charged).
  bool admit(uint32_t listener, const net::SocketAddress& peer, Nanos now);
  bool limited(uint32_t listener) const {
    return listener < limits_.size() && limits_[listener].has_value();
  }

 private:
  size_t capacity_;
  std::unique_ptr<KeyedTable<int64_t>> table_;  // key: (listener, address) -> GCRA TAT
  KeyDeriver keys_;
  std::vector<std::optional<Gcra>> limits_;
};

}  // namespace rampart::shield
