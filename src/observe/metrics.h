// Per-route request metrics of one worker: a latency histogram and response
// counts by status class; a latency histogram per listener and per cluster
// (upstream time), and refusals by cause. The worker writes its own shard (relaxed stores,
// no lock); the admin listener merges every worker's shards when scraped.
// Sized from a snapshot's routes; one per worker per published snapshot
// (proxy/generation.h). A reload's shares the counters of every route whose
// name it keeps, so they carry on across the reload. Labels are routes (from the config), never
// addresses or principals, so the number of series is bounded by the config.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "observe/histogram.h"
#include "observe/stats.h"

namespace rampart::observe {

// Why a request was refused or failed, as the access log's `cause` says it
// (proxy/access_phase.h), every `upstream-*` cause folded into "upstream".
// A fixed list: the label values of rampart_refusals_total.
inline constexpr const char* kRefusalCauses[] = {
    "bad-request", "shield",   "route",     "auth",    "policy",  "authorizer",
    "rate-limit",  "overload", "admission", "breaker", "upstream"};
inline constexpr size_t kRefusalCauseCount = std::size(kRefusalCauses);
// The index of `cause` in kRefusalCauses, or kRefusalCauseCount when unknown.
size_t refusalCauseIndex(std::string_view cause);

struct RouteMetrics {
  HistogramShard duration;          // request head read -> response head sent, µs
  std::array<Counter, 5> by_class;  // 1xx..5xx
};

class WorkerMetrics {
 public:
  // One slot per route (by routing::Route::index) plus one for requests
  // answered before a route was chosen (400, 404, refusals at phase 3).
  // `listeners` and clusters (Snapshot order) get a histogram each, and so
  // does each endpoint: `cluster_endpoints[c]` is cluster c's endpoint count
  // (fixed by the config, so the memory is: 10.5 KiB per endpoint per worker).
  explicit WorkerMetrics(size_t routes, size_t listeners = 0,
                         const std::vector<size_t>& cluster_endpoints = {});

  // What a snapshot's metrics are shaped by, named so a reload can carry them.
  struct Shape {
    std::vector<std::string> routes;
    size_t listeners = 0;
    std::vector<std::string> clusters;
    std::vector<size_t> cluster_endpoints;  // by cluster
  };
  // After a reload: a route or cluster (with the same endpoint count) whose
  // name `previous` had shares its counters, a listener at the same position
  // too, and so do the unmatched slot and the refusals; the rest start at 0.
  WorkerMetrics(const Shape& shape, const WorkerMetrics& previous, const Shape& previous_shape);

  uint32_t unmatchedSlot() const { return static_cast<uint32_t>(routes_.size() - 1); }
  size_t slots() const { return routes_.size(); }

  // Worker thread only. `slot` out of range counts as unmatched.
  void recordResponse(uint32_t slot, uint16_t status, uint64_t micros) {
    RouteMetrics& route = *routes_[slot < routes_.size() ? slot : unmatchedSlot()];
    route.duration.record(micros);
    uint32_t status_class = status / 100;
    route.by_class[status_class >= 1 && status_class <= 5 ? status_class - 1 : 4].inc();
  }

  // Worker thread only: a request's whole time by the listener it came in
  // on, and the upstream's share (request sent -> response head) by cluster.
  void recordListener(uint32_t listener, uint64_t micros) {
    if (listener < listeners_.size()) listeners_[listener]->record(micros);
  }
  // `endpoint` out of range (none was attempted) records the cluster only.
  void recordCluster(uint32_t cluster, uint32_t endpoint, uint64_t micros) {
    if (cluster >= clusters_.size()) return;
    clusters_[cluster]->record(micros);
    if (endpoint < endpoint_first_[cluster + 1] - endpoint_first_[cluster]) {
      endpoints_[endpoint_first_[cluster] + endpoint]->record(micros);
    }
  }
  // Worker thread only; called for refused or failed requests only.
  void recordRefusal(std::string_view cause) {
    const size_t index = refusalCauseIndex(cause);
    if (index < kRefusalCauseCount) (*refusals_)[index].inc();
  }

  const RouteMetrics& route(size_t slot) const { return *routes_[slot]; }
  size_t listenerCount() const { return listeners_.size(); }
  size_t clusterCount() const { return clusters_.size(); }
  const HistogramShard& listener(size_t i) const { return *listeners_[i]; }
  const HistogramShard& cluster(size_t i) const { return *clusters_[i]; }
  size_t endpointCount(size_t cluster) const {
    return endpoint_first_[cluster + 1] - endpoint_first_[cluster];
  }
  const HistogramShard& endpoint(size_t cluster, size_t i) const {
    return *endpoints_[endpoint_first_[cluster] + i];
  }
  uint64_t refusals(size_t cause) const { return (*refusals_)[cause].get(); }

 private:
  // Shared with the previous and next generations' (see the reload constructor).
  std::vector<std::shared_ptr<RouteMetrics>> routes_;
  std::vector<std::shared_ptr<HistogramShard>> listeners_;
  std::vector<std::shared_ptr<HistogramShard>> clusters_;
  std::vector<std::shared_ptr<HistogramShard>> endpoints_;  // every cluster's, in order
  std::vector<size_t> endpoint_first_;                      // per cluster, plus the end
  std::shared_ptr<std::array<Counter, kRefusalCauseCount>> refusals_ =
      std::make_shared<std::array<Counter, kRefusalCauseCount>>();
};

}  // namespace rampart::observe
