// Redis Sentinel, the pure parts (docs/store.md, "Sentinel"): reading the
// sentinels' answers and choosing which sentinel to ask next. The sockets
// and the state machine are the StoreClient's (client.cc). Plain values, no
// thread affinity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/resp.h"

namespace rampart::store {

// SENTINEL get-master-addr-by-name <name> answers [ip, port], or nil when
// the sentinel does not monitor that name. "ip:port" (the IPv6 form
// "[ip]:port"), or false for nil, an error or anything malformed.
bool parseMasterAddress(const Reply& reply, std::string* out);

// What ROLE says a server is: only a master may take writes (a demoted
// master answers READONLY to the lease script).
enum class Role : uint8_t { kMaster, kReplica, kSentinel, kUnknown };
Role parseRole(const Reply& reply);

// A "+switch-master" message on a sentinel: "<name> <old ip> <old port>
// <new ip> <new port>". The new master's "ip:port" when the message is about
// `master_name`, else false.
bool parseSwitchMaster(std::string_view payload, std::string_view master_name, std::string* out);

// Which sentinel to ask: the one that answered last keeps being asked first
// (it knew the master); a sentinel that failed (timeout, refused, nil, or
// named a server that is not a master) passes the turn to the next one, in
// the configured order, wrapping around. After a whole round without an
// answer the caller waits its backoff before the next round.
class SentinelCursor {
 public:
  explicit SentinelCursor(size_t count) : count_(count == 0 ? 1 : count) {}
  size_t current() const { return current_; }
  // The current sentinel failed: move on. True when that completed a round
  // (every sentinel failed since the last answer).
  bool failed() {
    current_ = (current_ + 1) % count_;
    return ++failures_ % count_ == 0;
  }
  // The current sentinel answered with a master that says it is one.
  void succeeded() { failures_ = 0; }

 private:
  size_t count_;
  size_t current_ = 0;
  size_t failures_ = 0;
};

}  // namespace rampart::store
