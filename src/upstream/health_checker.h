// Active health checks on the control thread (docs/upstreams.md): one
// PeriodicThread per cluster with a `health_check`, which GETs the check path
// from each endpoint in turn and publishes every change to the cluster's
// ClusterHealth, where workers read it without a lock. Created and stopped
// by the Server; lives as long as the snapshot whose clusters it checks.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "core/periodic_thread.h"
#include "upstream/cluster.h"
#include "upstream/health.h"

namespace rampart::upstream {

// One check's result, from what the fetch returned. Pure.
struct CheckResult {
  bool passed = false;
  std::string reason;  // when !passed: "status 503", "connect: Connection refused"
};
CheckResult judgeCheck(const HealthCheckSpec& spec, bool response_complete, uint16_t status,
                       const std::string& error);

class HealthChecker {
 public:
  // `clusters` must outlive the checker (they live in the same snapshot).
  explicit HealthChecker(const std::vector<ClusterSpec>& clusters);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts a thread for each cluster with a health_check; the first round
  // runs one interval from now (endpoints start healthy).
  void start();
  // Stops every thread; a round under way ends after its current check.
  void stop();

  // Runs one round of `cluster`'s checks now, on the caller's thread (the
  // thread's body; tests call it directly).
  void runRound(size_t cluster);

 private:
  struct Checked {
    const ClusterSpec* spec;
    std::vector<HealthTracker> trackers;  // by endpoint
    core::PeriodicThread thread;
  };
  std::vector<std::unique_ptr<Checked>> clusters_;
  std::atomic<bool> stopping_{false};
};

}  // namespace rampart::upstream
