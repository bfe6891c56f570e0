// Circuit breakers of one cluster, on one worker: caps on connections,
// requests waiting for a connection, requests in flight and retries in
// flight. Over a cap the request is answered 503 at once, naming the
// breaker, instead of piling onto a struggling upstream (Envoy's
// circuit_breakers thresholds). Pure counting: the session calls admit* and
// the matching end* on every path. Owned by one worker (no lock); limits
// are per worker, like the cluster's pools. Lives as long as the worker.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "observe/stats.h"

namespace rampart::upstream {

enum class Breaker : uint8_t {
  kNone,
  kConnections,  // max_connections: open upstream connections (busy or pooled)
  kPending,      // max_pending: requests waiting for a connection to be made
  kRequests,     // max_requests: requests in flight to the cluster
  kRetries,      // max_retries: retries in flight to the cluster
};
inline constexpr size_t kBreakerCount = 5;

// The name used in the x-rampart-breaker header and in counters.
std::string_view breakerName(Breaker breaker);

// 0 means no cap.
struct BreakerLimits {
  uint32_t max_connections = 0;
  uint32_t max_pending = 0;
  uint32_t max_requests = 0;
  uint32_t max_retries = 0;
};

class ClusterBreakers {
 public:
  explicit ClusterBreakers(const BreakerLimits& limits) : limits_(limits) {}

  // Each returns kNone and counts the admission, or the breaker that is
  // open (at its cap) and counts the trip; nothing is held then.
  Breaker admitRequest() { return admit(Breaker::kRequests, limits_.max_requests); }
  Breaker admitPending() { return admit(Breaker::kPending, limits_.max_pending); }
  Breaker admitConnection() { return admit(Breaker::kConnections, limits_.max_connections); }
  Breaker admitRetry() { return admit(Breaker::kRetries, limits_.max_retries); }

  void endRequest() { release(Breaker::kRequests); }
  void endPending() { release(Breaker::kPending); }
  void endConnection() { release(Breaker::kConnections); }
  void endRetry() { release(Breaker::kRetries); }

  uint32_t active(Breaker breaker) const { return active_[index(breaker)]; }
  // Read by the admin thread for /metrics (relaxed atomics, like every counter).
  uint64_t trips(Breaker breaker) const { return trips_[index(breaker)].get(); }
  // True while `breaker` is at its cap: the next admission would trip.
  bool open(Breaker breaker) const;

 private:
  static size_t index(Breaker breaker) { return static_cast<size_t>(breaker); }
  uint32_t limitOf(Breaker breaker) const;
  Breaker admit(Breaker breaker, uint32_t limit);
  void release(Breaker breaker) {
    uint32_t& count = active_[index(breaker)];
    if (count > 0) --count;
  }

  BreakerLimits limits_;
  std::array<uint32_t, kBreakerCount> active_{};
  std::array<observe::Counter, kBreakerCount> trips_{};
};

}  // namespace rampart::upstream
