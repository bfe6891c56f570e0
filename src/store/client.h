// The store client: one thread with its own event loop that owns every Redis
// connection of the process (commands, and a dedicated pub/sub connection),
// so no worker ever touches a Redis socket. Workers hand it lease requests
// (EventLoop::post, once per lease, not per request) and get the answer back
// on their own loop; it hands them blocks and revocations published by any
// instance. Created by the server before the workers start; lives until
// shutdown. Thread-safe unless noted.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "store/settings.h"

namespace rampart::store {

// One lease of a global limit's budget.
struct LeaseRequest {
  std::string key;           // the Redis key of (limit, value): same on every instance
  int64_t interval_us = 0;   // 1/rate
  int64_t tolerance_us = 0;  // burst x interval
  uint32_t want = 1;
};

struct LeaseAnswer {
  bool ok = false;  // false: Redis did not answer in time (or is down): nothing granted
  uint32_t granted = 0;
  int64_t retry_after_us = 0;  // granted == 0: until one token would pass
};

// Shared state one instance publishes for all (docs/store.md, "Events").
struct StoreEvent {
  enum class Kind : uint8_t { kBlock, kRevoke };
  Kind kind = Kind::kBlock;
  std::string subject;        // kBlock: an address; kRevoke: "jti:<id>" or "key:<sha256 hex>"
  int64_t until_unix_ms = 0;  // when the block or revocation ends
};
// "block 192.0.2.7 1767225600000" <-> StoreEvent; false for anything else.
bool parseEvent(std::string_view payload, StoreEvent* out);
std::string formatEvent(const StoreEvent& event);

// Counters and state, read by /stats and /metrics from any thread.
struct StoreStats {
  std::atomic<bool> up{false};
  std::atomic<uint64_t> commands{0};        // sent to Redis (all connections)
  std::atomic<uint64_t> leases{0};          // lease requests answered by Redis
  std::atomic<uint64_t> lease_failures{0};  // lease requests that got no answer
  std::atomic<uint64_t> errors{0};          // timeouts, lost connections, error replies
  std::atomic<uint64_t> down_transitions{0};
  std::atomic<uint64_t> redirects{0};  // cluster MOVED/ASK followed
  std::atomic<uint64_t> events_received{0};
  std::atomic<uint64_t> events_published{0};
};

// The GCRA lease script (docs/store.md): KEYS[1] the TAT key; ARGV interval
// and tolerance in microseconds, tokens wanted. Returns {granted, retry_after_us}.
extern const char* const kLeaseScript;

class StoreClient {
 public:
  // `sink` runs on the store thread for every block and revocation received
  // (live, or re-read from Redis after a (re)connect); it must only post.
  using EventSink = std::function<void(const StoreEvent&)>;
  StoreClient(const StoreSettings& settings, EventSink sink);
  ~StoreClient();
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;

  void start();
  void stop();

  // False while Redis is unreachable or not answering within the timeout
  // (one relaxed load: read on the request path of global limits).
  bool up() const { return stats_.up.load(std::memory_order_relaxed); }

  // Asks for a lease; `done` runs on the store thread within the store
  // timeout, or at once on the caller's thread, not ok, when Redis is known
  // to be down (so nothing queues behind a dead socket).
  void lease(LeaseRequest request, std::function<void(const LeaseAnswer&)> done);
  // Records the event in Redis (a sorted set, so an instance that missed the
  // message re-reads it) and publishes it to every instance, this one included.
  void publish(StoreEvent event);

  const StoreStats& stats() const { return stats_; }
  const StoreSettings& settings() const { return settings_; }

 private:
  class Impl;
  StoreSettings settings_;
  StoreStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::store
