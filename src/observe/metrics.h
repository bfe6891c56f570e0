// Per-route request metrics of one worker: a latency histogram and response
// counts by status class. The worker writes its own shard (relaxed stores,
// no lock); the admin listener merges every worker's shards when scraped.
// Sized from a snapshot's routes; one per worker per published snapshot
// (proxy/generation.h). A reload's shares the counters of every route whose
// name it keeps, so they carry on across the reload. Labels are routes (from the config), never
// addresses or principals, so the number of series is bounded by the config.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "observe/histogram.h"
#include "observe/stats.h"

namespace rampart::observe {

struct RouteMetrics {
  HistogramShard duration;          // request head read -> response head sent, µs
  std::array<Counter, 5> by_class;  // 1xx..5xx
};

class WorkerMetrics {
 public:
  // One slot per route (by routing::Route::index) plus one for requests
  // answered before a route was chosen (400, 404, refusals at phase 3).
  explicit WorkerMetrics(size_t routes);
  // After a reload: slots for `names` (by route index); a route whose name is
  // in `previous_names` shares `previous`'s counters, as does the unmatched slot.
  WorkerMetrics(const std::vector<std::string>& names, const WorkerMetrics& previous,
                const std::vector<std::string>& previous_names);

  uint32_t unmatchedSlot() const { return static_cast<uint32_t>(routes_.size() - 1); }
  size_t slots() const { return routes_.size(); }

  // Worker thread only. `slot` out of range counts as unmatched.
  void recordResponse(uint32_t slot, uint16_t status, uint64_t micros) {
    RouteMetrics& route = *routes_[slot < routes_.size() ? slot : unmatchedSlot()];
    route.duration.record(micros);
    uint32_t status_class = status / 100;
    route.by_class[status_class >= 1 && status_class <= 5 ? status_class - 1 : 4].inc();
  }

  const RouteMetrics& route(size_t slot) const { return *routes_[slot]; }

 private:
  std::vector<std::shared_ptr<RouteMetrics>> routes_;
};

}  // namespace rampart::observe
