#include "observe/metrics.h"

namespace rampart::observe {

size_t refusalCauseIndex(std::string_view cause) {
  if (cause.starts_with("upstream")) return kRefusalCauseCount - 1;
  for (size_t i = 0; i + 1 < kRefusalCauseCount; ++i) {
    if (cause == kRefusalCauses[i]) return i;
  }
  return kRefusalCauseCount;
}

WorkerMetrics::WorkerMetrics(size_t routes, size_t listeners,
                             const std::vector<size_t>& cluster_endpoints) {
  routes_.reserve(routes + 1);
  for (size_t i = 0; i < routes + 1; ++i) routes_.push_back(std::make_shared<RouteMetrics>());
  for (size_t i = 0; i < listeners; ++i) listeners_.push_back(std::make_shared<HistogramShard>());
  endpoint_first_.push_back(0);
  for (size_t endpoints : cluster_endpoints) {
    clusters_.push_back(std::make_shared<HistogramShard>());
    for (size_t e = 0; e < endpoints; ++e) endpoints_.push_back(std::make_shared<HistogramShard>());
    endpoint_first_.push_back(endpoints_.size());
  }
}

WorkerMetrics::WorkerMetrics(const Shape& shape, const WorkerMetrics& previous,
                             const Shape& previous_shape)
    : refusals_(previous.refusals_) {
  routes_.reserve(shape.routes.size() + 1);
  for (const std::string& name : shape.routes) {
    std::shared_ptr<RouteMetrics> kept;
    for (size_t i = 0; i < previous_shape.routes.size() && i + 1 < previous.routes_.size(); ++i) {
      if (previous_shape.routes[i] == name) kept = previous.routes_[i];
    }
    routes_.push_back(kept ? std::move(kept) : std::make_shared<RouteMetrics>());
  }
  routes_.push_back(previous.routes_.back());  // unmatched
  for (size_t i = 0; i < shape.listeners; ++i) {
    listeners_.push_back(i < previous.listeners_.size() ? previous.listeners_[i]
                                                        : std::make_shared<HistogramShard>());
  }
  endpoint_first_.push_back(0);
  for (size_t c = 0; c < shape.clusters.size(); ++c) {
    const size_t endpoints = c < shape.cluster_endpoints.size() ? shape.cluster_endpoints[c] : 0;
    size_t old = previous.clusters_.size();
    for (size_t p = 0; p < previous_shape.clusters.size() && p < previous.clusters_.size(); ++p) {
      if (previous_shape.clusters[p] == shape.clusters[c] && previous.endpointCount(p) == endpoints)
        old = p;
    }
    if (old < previous.clusters_.size()) {
      clusters_.push_back(previous.clusters_[old]);
      for (size_t e = 0; e < endpoints; ++e)
        endpoints_.push_back(previous.endpoints_[previous.endpoint_first_[old] + e]);
    } else {
      clusters_.push_back(std::make_shared<HistogramShard>());
      for (size_t e = 0; e < endpoints; ++e)
        endpoints_.push_back(std::make_shared<HistogramShard>());
    }
    endpoint_first_.push_back(endpoints_.size());
  }
}

}  // namespace rampart::observe
