// Active health checks (docs/upstreams.md): what a cluster's `health_check`
// compiles to, the pure state machine that turns check results into
// healthy/unhealthy with thresholds, and the per-endpoint verdicts the control
// thread publishes to the workers. The spec lives in the snapshot; the
// published ClusterHealth is shared by the snapshot's cluster (workers read
// it) and the HealthChecker (the control thread writes it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rampart::upstream {

// Inclusive status ranges ("200-399", 204): a check passes when the status is
// in one of them.
struct StatusRange {
  uint16_t low = 200;
  uint16_t high = 299;
};

bool statusExpected(const std::vector<StatusRange>& ranges, uint16_t status);

struct HealthCheckSpec {
  std::string path;  // request target of the GET, from '/'
  std::string host;  // Host header; empty: the endpoint as written in `endpoints`
  std::vector<StatusRange> expected{{200, 299}};
  std::chrono::milliseconds interval{5000};  // from the end of one round to the next
  std::chrono::milliseconds timeout{1000};   // one check: connect, send, whole response
  uint32_t healthy_threshold = 2;            // consecutive passes to come back
  uint32_t unhealthy_threshold = 3;          // consecutive failures to be taken out
};

// One endpoint's health from consecutive check results. Pure: results in,
// state changes out. Starts healthy, so a cluster serves from the first
// request and an endpoint is taken out only by checks that fail.
class HealthTracker {
 public:
  enum class Change : uint8_t {
    kNone,
    kBecameHealthy,    // healthy_threshold passes in a row while unhealthy
    kBecameUnhealthy,  // unhealthy_threshold failures in a row while healthy
  };

  HealthTracker(uint32_t healthy_threshold, uint32_t unhealthy_threshold);
  Change record(bool passed);
  bool healthy() const { return healthy_; }

 private:
  uint32_t healthy_threshold_;
  uint32_t unhealthy_threshold_;
  uint32_t streak_ = 0;  // consecutive results that argue for the other state
  bool healthy_ = true;
};

// Each endpoint's health as last published by the control thread. Workers
// read it with plain atomic loads on the request path (no lock): the count
// first, so a cluster with every endpoint healthy costs one load per pick.
// An endpoint marked down between a worker's two loads gets at most that one
// request more, which the checks tolerate by design.
class ClusterHealth {
 public:
  explicit ClusterHealth(size_t endpoints);

  // Worker side.
  uint32_t unhealthyCount() const { return unhealthy_.load(std::memory_order_acquire); }
  bool healthy(uint32_t endpoint) const {
    return flags_[endpoint].load(std::memory_order_relaxed) != 0;
  }
  size_t size() const { return size_; }

  // Control thread only (one writer per cluster).
  void publish(uint32_t endpoint, bool healthy);

  // Written by the control thread, read at shutdown (logs; metrics later).
  std::atomic<uint64_t> checks{0};
  std::atomic<uint64_t> failed_checks{0};
  std::atomic<uint64_t> marked_unhealthy{0};
  std::atomic<uint64_t> marked_healthy{0};

 private:
  size_t size_;
  std::unique_ptr<std::atomic<uint8_t>[]> flags_;
  std::atomic<uint32_t> unhealthy_{0};
};

}  // namespace rampart::upstream
