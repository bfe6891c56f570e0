// The numbers the admin listener serves: every worker's counters and route
// metrics merged at read time, as Prometheus text (exposition format 0.0.4)
// for /metrics and as JSON for /stats and the dashboard. Called on the admin
// thread; reads the workers' shards with relaxed loads, never blocks them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "observe/metrics.h"
#include "observe/stats.h"

namespace rampart::observe {

// One cluster of a weighted route (docs/cutover.md), read when asked.
struct SplitWeight {
  std::string_view route;
  std::string_view cluster;
  uint32_t weight = 0;        // percent now: the configured one, or after the step-back
  bool stepped_back = false;  // the route's step-back has tripped
};

// One progressive rollout (`ramp:`, docs/cutover.md), read when asked.
struct RolloutRow {
  std::string route;
  std::string cluster;       // the ramped (new) cluster
  std::string from_cluster;  // the one it takes traffic from
  uint32_t step = 0;         // index into steps
  std::vector<uint32_t> steps;
  uint32_t weight = 0;     // the ramped cluster's percent now (0 after a step-back)
  std::string_view state;  // advancing, holding, stepped_back, done
  int64_t in_state_ms = 0;
  int64_t hold_ms = 0;
  double max_error_rate = 0;
  int64_t max_p99_ms = 0;  // 0: no latency guard
  uint32_t min_requests = 0;
  // The guard figures over the current step (the deciding ones once
  // stepped back or done).
  uint64_t requests = 0;
  uint64_t failures = 0;
  double error_rate = 0;
  double p99_ms = 0;
  uint64_t old_requests = 0;
  uint64_t old_failures = 0;
  double old_p99_ms = 0;
  std::string_view breach;  // the guard that stepped it back, or "none"
  uint64_t step_backs = 0;
};

// One mirrored route's counts by result (routing/mirror.h), read when asked.
struct MirrorRow {
  std::string_view route;
  std::vector<std::pair<std::string_view, uint64_t>> results;  // (result name, count)
};

struct MetricsSources {
  const std::vector<std::string>* route_names = nullptr;  // by route index
  std::vector<std::string> listener_names;                // by listener index
  std::vector<const WorkerStats*> stats;                  // one per worker
  std::vector<const WorkerMetrics*> metrics;              // one per worker
  uint64_t open_connections = 0;
  uint64_t uptime_seconds = 0;
  bool draining = false;
  std::vector<SplitWeight> split_weights;  // every cluster of every weighted route
  // Per-cluster upstream counters (failures by cause, retries, breaker
  // trips...), summed over the workers by the server: one row per cluster,
  // (counter name, value) pairs in a fixed order.
  struct ClusterCounters {
    std::string cluster;
    std::vector<std::pair<std::string, uint64_t>> values;
    uint32_t endpoints = 0;  // configured
    uint32_t healthy = 0;    // not marked down by the active health checks (all without checks)
    std::vector<std::string> endpoint_names;  // as written in the config, by endpoint index
  };
  std::vector<ClusterCounters> clusters;
  // Config reloads by result (rampart_config_reloads_total{result}).
  struct Reloads {
    uint64_t ok = 0;
    uint64_t refused = 0;
    uint64_t unchanged = 0;
  };
  Reloads reloads;
  // Keeps what the pointers above name alive while the answer is rendered
  // (a reload may replace the snapshot and the workers' metrics meanwhile).
  std::vector<std::shared_ptr<const void>> keep_alive;
  std::vector<RolloutRow> rollouts;  // every ramped route (export_rollouts.cc)
  std::vector<MirrorRow> mirrors;    // every route with a mirror (export_rollouts.cc)
  // The store (docs/store.md): up or degraded, and its counters.
  struct StoreState {
    bool enabled = false;
    bool up = false;
    std::vector<std::pair<std::string, uint64_t>> counters;
  };
  StoreState store;
};

// The label value of the slot for requests answered before routing.
inline constexpr const char* kUnmatchedRoute = "_unmatched";

// Upper bounds (µs) of the Prometheus histogram buckets, +Inf implied.
const std::vector<uint64_t>& prometheusBucketsMicros();

std::string renderPrometheus(const MetricsSources& sources);
std::string renderStatsJson(const MetricsSources& sources);

// /rollouts (JSON) and the rollout families of /metrics (export_rollouts.cc).
std::string renderRolloutsJson(const MetricsSources& sources);
void appendRolloutPrometheus(const MetricsSources& sources, std::string* out);

// Prometheus label value and JSON string escaping (backslash, quote,
// newline; JSON also every other control character).
std::string escapeLabelValue(std::string_view value);
std::string escapeJson(std::string_view value);

}  // namespace rampart::observe
