// The numbers the admin listener serves: every worker's counters and route
// metrics merged at read time, as Prometheus text (exposition format 0.0.4)
// for /metrics and as JSON for /stats and the dashboard. Called on the admin
// thread; reads the workers' shards with relaxed loads, never blocks them.
#pragma once

#include <cstdint>
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

struct MetricsSources {
  const std::vector<std::string>* route_names = nullptr;  // by route index
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
  };
  std::vector<ClusterCounters> clusters;
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

// Prometheus label value and JSON string escaping (backslash, quote,
// newline; JSON also every other control character).
std::string escapeLabelValue(std::string_view value);
std::string escapeJson(std::string_view value);

}  // namespace rampart::observe
